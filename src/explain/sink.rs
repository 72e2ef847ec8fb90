//! Where events go: rendered here, or forwarded to the command that is
//! rendering (when this process is the container's init).

use std::io::{BufRead, IsTerminal, Write};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::Mutex;

use super::{render, Actor, Event, Settings, Step};
use crate::error::{Error, Result};
use crate::process::channel::{Channel, Msg};

enum Out {
    /// Render in this process.
    Local {
        human: bool,
        color: bool,
        json: Option<Box<dyn Write + Send>>,
        step: bool,
    },
    /// Send to the learnrt command over this channel fd (container init).
    Forward { fd: RawFd, step: bool },
}

static OUT: Mutex<Option<Out>> = Mutex::new(None);
static SEQ: AtomicU64 = AtomicU64::new(0);
static INIT_PID: AtomicI32 = AtomicI32::new(0);
static ACTOR_INIT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn lock() -> std::sync::MutexGuard<'static, Option<Out>> {
    OUT.lock().unwrap_or_else(|e| e.into_inner())
}

pub(super) fn configure(s: &Settings, actor: Actor) -> Result<()> {
    if s.step && !std::io::stdin().is_terminal() {
        return Err(Error::new(
            "step",
            "--step needs a terminal on stdin: it stops before every stage and waits for Enter",
        )
        .hint("run the command in an interactive terminal, or use --explain to see the same stages without pausing"));
    }
    let json: Option<Box<dyn Write + Send>> = match s.trace.as_deref() {
        None => None,
        Some("json") | Some("-") => Some(Box::new(std::io::stderr())),
        Some(path) => Some(Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| Error::new("trace", format!("cannot open trace file {path}: {e}")))?,
        )),
    };
    ACTOR_INIT.store(actor == Actor::Init, Ordering::Relaxed);
    *lock() = Some(Out::Local {
        human: s.explain || s.step,
        color: render::color_wanted(),
        json,
        step: s.step,
    });
    Ok(())
}

/// In the container's init: forward every event to the command over `fd`.
pub fn forward_to(fd: RawFd, settings: &Settings) {
    ACTOR_INIT.store(true, Ordering::Relaxed);
    *lock() = Some(Out::Forward {
        fd,
        step: settings.step,
    });
}

/// Stop rendering or forwarding here (in a freshly cloned child, until it
/// forwards to the channel).
pub fn detach() {
    *lock() = None;
}

/// Remember the init's host pid, for `--step` hints (`/proc/<pid>/ns`).
pub fn set_init_pid(pid: i32) {
    INIT_PID.store(pid, Ordering::Relaxed);
}

pub fn is_init() -> bool {
    ACTOR_INIT.load(Ordering::Relaxed)
}

/// Deliver one event (from this process, or received from the init).
pub fn emit(ev: Event) {
    let mut g = lock();
    match g.as_mut() {
        None => {}
        Some(Out::Forward { fd, .. }) => {
            let _ = Channel::borrow(*fd).send(&Msg::Event(ev));
        }
        Some(Out::Local {
            human, color, json, ..
        }) => {
            let seq = SEQ.fetch_add(1, Ordering::Relaxed) + 1;
            if *human {
                let text = render::human(&ev, *color);
                let mut e = std::io::stderr().lock();
                let _ = e.write_all(text.as_bytes());
            }
            if let Some(w) = json {
                let _ = writeln!(w, "{}", render::json_line(&ev, seq));
                let _ = w.flush();
            }
        }
    }
}

/// `--step`: stop before `step` and wait for the user.
pub(super) fn pause_before(step: &'static Step) -> Result<()> {
    let fwd = {
        let g = lock();
        match g.as_ref() {
            Some(Out::Forward { fd, step: true }) => Some(*fd),
            Some(Out::Local { step: true, .. }) => None,
            _ => return Ok(()),
        }
    };
    match fwd {
        Some(fd) => {
            let ch = Channel::borrow(fd);
            ch.send(&Msg::Prompt {
                stage: step.id.to_string(),
            })
            .map_err(|e| Error::new(step.id, format!("--step: {e}")))?;
            match ch.recv() {
                Ok(Msg::Continue) => Ok(()),
                _ => Err(super::aborted(step.id)),
            }
        }
        None => {
            if prompt_user(step) {
                Ok(())
            } else {
                Err(super::aborted(step.id))
            }
        }
    }
}

/// Ask on the user's terminal. `true` = go on, `false` = abort.
pub fn prompt_user(step: &Step) -> bool {
    let pid = match INIT_PID.load(Ordering::Relaxed) {
        0 => std::process::id() as i32,
        p => p,
    };
    let color = render::color_wanted();
    let text = render::prompt(step, pid, color);
    {
        let mut e = std::io::stderr().lock();
        let _ = e.write_all(text.as_bytes());
        let _ = e.flush();
    }
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => false,
        Ok(_) => !line.trim().eq_ignore_ascii_case("q"),
    }
}

/// Is anything being rendered or forwarded?
pub fn active() -> bool {
    lock().is_some()
}

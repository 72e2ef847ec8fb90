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

/// Runs of the same call (`prctl(PR_CAPBSET_DROP, …)` ×38) are shown three
/// times, then summed up in one line: `--explain` is read by people. The
/// JSON trace keeps every call.
struct Run {
    key: String,
    count: usize,
    hidden: usize,
}

static RUN: Mutex<Option<Run>> = Mutex::new(None);
const SHOWN: usize = 3;

/// `Some(text)` to print instead of the usual rendering ("" to hide it).
fn collapse(ev: &Event, color: bool) -> Option<String> {
    let mut run = RUN.lock().unwrap_or_else(|e| e.into_inner());
    let key = match ev {
        Event::Syscall {
            stage,
            syscall,
            args,
            errno: None,
            ..
        } => Some(format!(
            "{stage}\0{syscall}\0{}",
            args.split(',').next().unwrap_or("")
        )),
        _ => None,
    };
    if let (Some(k), Some(r)) = (&key, run.as_mut()) {
        if *k == r.key {
            r.count += 1;
            if r.count > SHOWN {
                r.hidden += 1;
                return Some(String::new());
            }
            return None;
        }
    }
    // A different event: say how many calls were hidden, then go on.
    let mut out = String::new();
    if let Some(r) = run.take() {
        if r.hidden > 0 {
            let name = r.key.split('\0').nth(1).unwrap_or("").to_string();
            let arg = r.key.split('\0').nth(2).unwrap_or("").to_string();
            let line = format!(
                "    … and {} more {name}({arg}, …) calls like these\n",
                r.hidden
            );
            out.push_str(&if color {
                use owo_colors::OwoColorize;
                line.dimmed().to_string()
            } else {
                line
            });
        }
    }
    *run = key.map(|key| Run {
        key,
        count: 1,
        hidden: 0,
    });
    if out.is_empty() {
        None
    } else {
        Some(out + &render::human(ev, color))
    }
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
                let text = collapse(&ev, *color).unwrap_or_else(|| render::human(&ev, *color));
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

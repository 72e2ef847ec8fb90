//! Explain, step and trace: what the kernel was asked, and why.
//!
//! How it fits together:
//!
//! * a stage opens a `tracing` span (`stage` with the step id) through
//!   [`stage`]; every syscall inside it is a `tracing` event emitted by
//!   [`crate::sys::call`];
//! * [`layer::ExplainLayer`] turns those into [`Event`]s and hands them to the
//!   current [`sink`]: in the learnrt command they are rendered right away
//!   ([`render`]); in the container's init they are sent over the channel to
//!   the command that is waiting for it, which renders them the same way;
//! * `--step` pauses in [`stage`] before the stage starts (the init asks the
//!   command to prompt, because only the command has the user's terminal).
//!
//! With no flag nothing is installed: [`stage`] returns an empty guard after
//! one atomic load.

pub mod catalog;
pub mod layer;
pub mod render;
pub mod sink;
pub mod step;

use serde::{Deserialize, Serialize};

pub use step::{Actor, Step, STAGES};

use crate::error::{Error, Result};

/// One thing that happened, as shown by `--explain` and `--trace json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A stage begins. `n`/`of` number it; `stage` is the step id.
    StageStart {
        stage: String,
        n: u8,
        of: u8,
        title: String,
        pid: i32,
        ns_pid: Option<i32>,
        actor: String,
        /// Where in config.json the values came from (`linux.namespaces[2]`).
        from: Vec<String>,
    },
    /// One syscall: name, arguments as strace shows them, result.
    Syscall {
        stage: String,
        syscall: String,
        args: String,
        ret: String,
        errno: Option<String>,
        dur_us: u64,
        pid: i32,
        ns_pid: Option<i32>,
    },
    /// A remark: a decision the stage made (`skipped: no user namespace`).
    Note {
        stage: String,
        text: String,
        pid: i32,
        ns_pid: Option<i32>,
    },
    /// A stage finished (or failed).
    StageEnd {
        stage: String,
        ok: bool,
        dur_us: u64,
        pid: i32,
        ns_pid: Option<i32>,
    },
}

impl Event {
    /// Events from the container's init carry its pid in the new pid
    /// namespace; the command that receives them knows the host pid.
    pub fn with_host_pid(mut self, host: i32) -> Self {
        match &mut self {
            Event::StageStart { pid, ns_pid, .. }
            | Event::Syscall { pid, ns_pid, .. }
            | Event::Note { pid, ns_pid, .. }
            | Event::StageEnd { pid, ns_pid, .. } => {
                if ns_pid.is_none() && *pid != host {
                    *ns_pid = Some(*pid);
                }
                *pid = host;
            }
        }
        self
    }
}

/// What the user asked for on the command line.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Settings {
    pub explain: bool,
    pub step: bool,
    /// `--trace json` (stderr) or `--trace FILE`.
    pub trace: Option<String>,
}

impl Settings {
    pub fn any(&self) -> bool {
        self.explain || self.step || self.trace.is_some()
    }
}

/// Enter a stage: pause first if `--step`, then open its span. Dropping the
/// guard ends the stage. With every flag off this is one atomic load.
pub fn stage(step: &'static Step, from: &[String]) -> Result<StageGuard> {
    if !crate::sys::tracing_on() {
        return Ok(StageGuard { span: None });
    }
    sink::pause_before(step)?;
    let span = tracing::info_span!(target: "learnrt::stage", "stage", id = step.id, from = from.join(", ").as_str());
    Ok(StageGuard {
        span: Some(span.entered()),
    })
}

/// Ends the stage span when dropped.
pub struct StageGuard {
    span: Option<tracing::span::EnteredSpan>,
}

impl StageGuard {
    /// Mark the stage as failed before it ends.
    pub fn failed(&self) {
        if self.span.is_some() {
            tracing::info!(target: "learnrt::failed", failed = true);
        }
    }
}

/// Say something about a decision the current stage made.
#[inline]
pub fn note(text: impl FnOnce() -> String) {
    if crate::sys::tracing_on() {
        let t = text();
        tracing::info!(target: "learnrt::note", text = t.as_str());
    }
}

/// Run `f` as a stage; on error, mark the stage failed.
pub fn run_stage<T>(
    step: &'static Step,
    from: &[String],
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let g = stage(step, from)?;
    let r = f();
    if r.is_err() {
        g.failed();
    }
    r
}

/// Turn explain/trace on in this process with the given settings.
pub fn install(settings: &Settings, actor: Actor) -> Result<()> {
    if !settings.any() {
        return Ok(());
    }
    sink::configure(settings, actor)?;
    crate::sys::set_tracing(true);
    layer::install();
    Ok(())
}

/// A `--step` abort, so callers can clean up and say so.
pub fn aborted(stage: &str) -> Error {
    Error::new(stage, "aborted at the user's request (--step: q)")
}

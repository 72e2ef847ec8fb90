//! `learnrt kill`: send a signal to the container's init (or all its
//! processes with --all).

use std::str::FromStr;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::error::{Error, Result};
use crate::state::{Root, Status};

/// `TERM`, `SIGTERM`, `term`, `15` → SIGTERM.
pub fn parse_signal(s: &str) -> Result<Signal> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n)
            .map_err(|_| Error::new("kill", format!("unknown signal {s:?}")));
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    Signal::from_str(&name).map_err(|_| {
        Error::new("kill", format!("unknown signal {s:?}"))
            .hint("use a name like TERM, KILL, HUP or a number like 9")
    })
}

pub fn run(root: &Root, id: &str, signal: Option<&str>, all: bool) -> Result<i32> {
    let sig = parse_signal(signal.unwrap_or("SIGTERM"))?;
    let (_lock, st) = root.open(id)?;
    let status = st.status(&root.container_dir(id));
    if !matches!(status, Status::Created | Status::Running | Status::Paused) {
        return Err(Error::new(
            "kill",
            format!(
                "container {id} is not running (status: {})",
                status.as_str()
            ),
        ));
    }
    crate::explain::note(|| {
        format!(
            "kill({}, {sig}){}",
            st.pid,
            if all {
                " and every process in its cgroup"
            } else {
                ""
            }
        )
    });
    if all {
        let cg = crate::stages::cgroups::of(&st);
        crate::process::kill_all(&st, cg.as_ref(), sig);
        return Ok(0);
    }
    kill(Pid::from_raw(st.pid), sig)
        .map_err(|e| Error::new("kill", format!("kill({}, {sig}): {e}", st.pid)))?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn signals() {
        assert_eq!(parse_signal("TERM").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("sigkill").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert!(parse_signal("NOPE").is_err());
    }
}

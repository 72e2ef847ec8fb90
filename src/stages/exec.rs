//! Stage 11 — start and exec: wait for `learnrt start`, lock the process
//! down for good, and become the user's program.

use crate::error::{Error, Result};
use crate::explain::{self, Actor, Step};
use crate::sys::{self, Sys};

use super::process::Prepared;

pub const START_WAIT: Step = Step {
    id: "start.wait",
    stage: 11,
    title: "wait for `learnrt start`",
    why: "`create` and `start` are separate so a higher-level runtime can finish its own set-up (network, logging) between them. The init has done all its work and now blocks on a socket in the state directory; `learnrt start` connects to it, and that connection is the signal to go on.",
    man: &["runtime-spec: runtime.md (create, start)", "unix(7)", "accept(2)"],
    shell: "learnrt start c1",
    config: &[],
    look: &["learnrt state c1", "ls -l /run/learnrt/c1/"],
    actor: Actor::Init,
};

pub const NO_NEW_PRIVS: Step = Step {
    id: "no_new_privs",
    stage: 11,
    title: "forbid gaining privileges (no_new_privs)",
    why: "After PR_SET_NO_NEW_PRIVS, execve can never give this process or its children more privileges: setuid/setgid bits and file capabilities are ignored. It is also what lets an unprivileged process install a seccomp filter.",
    man: &["prctl(2) PR_SET_NO_NEW_PRIVS"],
    shell: "setpriv --no-new-privs sh",
    config: &["process.noNewPrivileges"],
    look: &["grep NoNewPrivs /proc/{pid}/status"],
    actor: Actor::Init,
};

pub const EXEC: Step = Step {
    id: "exec",
    stage: 11,
    title: "execve the container's program",
    why: "execve replaces the learnrt code in this process with the program from the image: same pid, same namespaces, cgroup, user and capabilities, new memory. From here on the process is the user's program; learnrt is gone from it (its descriptors were close-on-exec).",
    man: &["execve(2)"],
    shell: "exec sh",
    config: &["process.args", "process.env"],
    look: &["cat /proc/{pid}/cmdline | tr '\\0' ' '"],
    actor: Actor::Init,
};

pub fn no_new_privs(sys: &dyn Sys, wanted: bool) -> Result<()> {
    if !wanted {
        return Ok(());
    }
    explain::run_stage(
        &NO_NEW_PRIVS,
        &["process.noNewPrivileges".to_string()],
        || {
            sys.prctl(libc::PR_SET_NO_NEW_PRIVS, "PR_SET_NO_NEW_PRIVS", 1, 0)
                .map(|_| ())
                .map_err(|e| Error::sys(NO_NEW_PRIVS.id, "set no_new_privs", e))
        },
    )
}

/// execve: returns only on failure.
pub fn exec(p: &Prepared) -> Error {
    let g = match explain::stage(&EXEC, &["process.args".to_string()]) {
        Ok(g) => g,
        Err(e) => return e,
    };
    explain::note(|| {
        format!(
            "execve({}) — on success it never returns: the next instruction this pid runs is the program's",
            p.shown
        )
    });
    let r = sys::call(
        "execve",
        || p.shown.clone(),
        || nix::unistd::execve(&p.path, &p.argv, &p.envp).map(|_| ()),
    );
    g.failed();
    drop(g);
    match r {
        Ok(()) => Error::new(EXEC.id, "execve returned"),
        Err(e) => Error::sys(EXEC.id, format!("run {}", p.path.to_string_lossy()), e),
    }
}

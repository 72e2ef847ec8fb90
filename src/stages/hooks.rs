//! Stage 7 — hooks: programs config.json asks to run at fixed points of the
//! lifecycle (runtime-spec config.md "POSIX-platform Hooks").
//!
//! prestart + createRuntime run in the runtime after the init's namespaces
//! and mounts exist; createContainer runs in the container's namespaces
//! before pivot_root; startContainer runs in the container just before the
//! user's program; poststart after `start`; poststop at `delete`.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::Hook;

use crate::error::{Error, Result};
use crate::explain::{self, Actor, Step};

pub const CREATE_RUNTIME: Step = Step {
    id: "hooks.create_runtime",
    stage: 7,
    title: "run prestart and createRuntime hooks (in the runtime)",
    why: "Hooks let a higher-level tool finish the container's set-up from outside at the right moment — for example a network plugin that moves a veth pair into the new network namespace once it exists. Each hook gets the container's state JSON on stdin; if one fails, create fails.",
    man: &["runtime-spec: config.md#posix-platform-hooks"],
    shell: "echo \"$STATE_JSON\" | /path/to/hook arg…",
    config: &["hooks.prestart", "hooks.createRuntime"],
    look: &["ls -l /proc/{pid}/ns/net"],
    actor: Actor::Runtime,
};

pub const CREATE_CONTAINER: Step = Step {
    id: "hooks.create_container",
    stage: 7,
    title: "run createContainer hooks (in the container's namespaces)",
    why: "createContainer hooks run inside the container's namespaces after its mounts are made but before pivot_root, so they can still see host paths and change the container's mount table.",
    man: &["runtime-spec: config.md#createcontainer-hooks"],
    shell: "nsenter -t $PID -m /path/to/hook",
    config: &["hooks.createContainer"],
    look: &["cat /proc/{pid}/mountinfo"],
    actor: Actor::Init,
};

pub const START_CONTAINER: Step = Step {
    id: "hooks.start_container",
    stage: 11,
    title: "run startContainer hooks (in the container)",
    why: "startContainer hooks run in the container after `start`, right before the user's program, with the container's root as /.",
    man: &["runtime-spec: config.md#startcontainer-hooks"],
    shell: "nsenter -t $PID -a /path/in/container/hook",
    config: &["hooks.startContainer"],
    look: &[],
    actor: Actor::Init,
};

pub const POSTSTART: Step = Step {
    id: "hooks.poststart",
    stage: 11,
    title: "run poststart hooks (in the runtime, after start)",
    why: "poststart hooks run after the user's program has been started, e.g. to tell a supervisor the container is up. A failure is only a warning: the container already runs.",
    man: &["runtime-spec: config.md#poststart"],
    shell: "echo \"$STATE_JSON\" | /path/to/hook",
    config: &["hooks.poststart"],
    look: &[],
    actor: Actor::Runtime,
};

pub const POSTSTOP: Step = Step {
    id: "hooks.poststop",
    stage: 11,
    title: "run poststop hooks (in the runtime, at delete)",
    why: "poststop hooks clean up what prestart hooks set up (network, storage) once the container is deleted. A failure is a warning: deletion goes on.",
    man: &["runtime-spec: config.md#poststop"],
    shell: "echo \"$STATE_JSON\" | /path/to/hook",
    config: &["hooks.poststop"],
    look: &[],
    actor: Actor::Runtime,
};

/// The state JSON a hook reads on stdin.
pub fn state_json(
    id: &str,
    status: &str,
    pid: i32,
    bundle: &std::path::Path,
    annotations: Option<&std::collections::HashMap<String, String>>,
) -> String {
    let mut v = serde_json::json!({
        "ociVersion": "1.0.2",
        "id": id,
        "status": status,
        "pid": pid,
        "bundle": bundle,
    });
    if let Some(a) = annotations {
        if !a.is_empty() {
            v["annotations"] = serde_json::json!(a);
        }
    }
    v.to_string()
}

/// Run hooks in order; the first failure stops and is returned.
pub fn run(step: &'static Step, field: &str, hooks: &[Hook], state: &str) -> Result<()> {
    if hooks.is_empty() {
        return Ok(());
    }
    explain::run_stage(step, &[field.to_string()], || {
        for (i, h) in hooks.iter().enumerate() {
            run_one(step.id, &format!("{field}[{i}]"), h, state)?;
        }
        Ok(())
    })
}

fn run_one(stage: &str, name: &str, h: &Hook, state: &str) -> Result<()> {
    let path = h.path();
    let args = h.args().clone().unwrap_or_default();
    let mut cmd = Command::new(path);
    if let Some(a0) = args.first() {
        cmd.arg0(a0);
    }
    cmd.args(args.iter().skip(1));
    cmd.env_clear();
    for kv in h.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped());
    explain::note(|| format!("{name}: {} {:?}", path.display(), args));
    let mut child = cmd.spawn().map_err(|e| {
        Error::new(stage, format!("{name}: cannot run {}: {e}", path.display()))
            .hint("hook paths must be absolute paths that exist where the hook runs")
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(state.as_bytes());
    }
    let deadline = h
        .timeout()
        .map(|t| Instant::now() + Duration::from_secs(t.max(1) as u64));
    loop {
        match child.try_wait() {
            Ok(Some(st)) if st.success() => return Ok(()),
            Ok(Some(st)) => {
                return Err(Error::new(
                    stage,
                    format!("{name} ({}) failed: {st}", path.display()),
                ))
            }
            Ok(None) => {}
            Err(e) => return Err(Error::new(stage, format!("{name}: wait: {e}"))),
        }
        if deadline.is_some_and(|d| Instant::now() > d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::new(
                stage,
                format!(
                    "{name} ({}) timed out after {}s",
                    path.display(),
                    h.timeout().unwrap_or(0)
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

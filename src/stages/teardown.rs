//! After the program: signals and deletion (`learnrt kill`, `delete`).

use crate::explain::{Actor, Step};

pub const STATE: Step = Step {
    id: "state",
    stage: 11,
    title: "work out the container's status",
    why: "No learnrt process stays with a container, so the status is worked out each time: state.json holds the init's pid and its start time (to tell it from a later process that reused the pid); if that process is gone the container is stopped; if notify.sock still exists its init is waiting for `start` (created); a frozen cgroup means paused; otherwise it is running.",
    man: &["runtime-spec: runtime.md#state", "proc(5) /proc/<pid>/stat"],
    shell: "cat /run/learnrt/c1/state.json; ls /run/learnrt/c1; awk '{print $22}' /proc/$PID/stat",
    config: &[],
    look: &["ls -l /run/learnrt/*/"],
    actor: Actor::Runtime,
};

pub const KILL: Step = Step {
    id: "kill",
    stage: 11,
    title: "send a signal to the container",
    why: "`learnrt kill` is kill(2) on the container's init, seen from the host. The init is pid 1 in its pid namespace, and the kernel delivers to it only the signals it has a handler for (SIGKILL always): that is why `sh` as pid 1 ignores SIGTERM and `docker stop` falls back to SIGKILL. With --all every process in the container's cgroup gets the signal.",
    man: &["kill(2)", "signal(7)", "pid_namespaces(7)"],
    shell: "kill -TERM $PID",
    config: &[],
    look: &["grep -E 'Sig(Cgt|Ign)' /proc/{pid}/status"],
    actor: Actor::Runtime,
};

pub const DELETE: Step = Step {
    id: "delete",
    stage: 11,
    title: "delete the container: processes, cgroup, hooks, state",
    why: "A created container's init is still waiting, so it is killed; a running one only goes with --force. Its mounts need no unmounting: they live in the container's mount namespace, which the kernel frees when its last process is gone. What remains on the host — the cgroup directories and the state directory — is removed, and poststop hooks run.",
    man: &["kill(2)", "rmdir(2)", "runtime-spec: runtime.md#delete"],
    shell: "kill -KILL $PID; rmdir /sys/fs/cgroup/*/learnrt/c1; rm -r /run/learnrt/c1",
    config: &["hooks.poststop"],
    look: &["ls /run/learnrt", "ls /sys/fs/cgroup/memory/learnrt"],
    actor: Actor::Runtime,
};

//! Stage 2 — namespaces: the container init is born inside new namespaces
//! (one clone3 call), and joins the ones config.json names by path (setns).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::error::{Error, Result};
use crate::explain::{self, Actor, Step};
use crate::sys::{self, flag_names, Sys, CLONE_FLAGS};

pub const NAMESPACES: Step = Step {
    id: "namespaces",
    stage: 2,
    title: "clone the container init into new namespaces",
    why: "A container is an ordinary process that sees its own copy of some kernel resources: its own process ids (pid), mount table (mnt), hostname (uts), IPC objects, network stack and, optionally, user ids. One clone3 call with a CLONE_NEW* flag per namespace creates the process and its namespaces together; the child starts as pid 1 of its new pid namespace.",
    man: &["clone(2)", "namespaces(7)", "pid_namespaces(7)"],
    shell: "unshare --mount --uts --ipc --net --pid --fork sh",
    config: &["linux.namespaces"],
    look: &["ls -l /proc/{pid}/ns", "lsns -p {pid}"],
    actor: Actor::Runtime,
};

pub const JOIN: Step = Step {
    id: "namespaces.join",
    stage: 2,
    title: "join existing namespaces named by path",
    why: "A namespace entry with a path (like /proc/1234/ns/net or a bind-mounted netns) means: do not make a new one, share that one. The init opens the file and calls setns, the way Kubernetes pods share one network namespace and `learnrt exec` enters a running container.",
    man: &["setns(2)", "nsenter(1)"],
    shell: "nsenter --net=/var/run/netns/demo sh",
    config: &["linux.namespaces[].path"],
    look: &["ls -l /proc/{pid}/ns"],
    actor: Actor::Init,
};

/// What the namespaces stage will do.
pub struct Plan {
    /// Flags for clone3 (CLONE_NEWCGROUP is left out: the cgroup namespace
    /// is made after the init has joined its cgroup, see cgroups.rs).
    pub clone_flags: u64,
    /// Namespaces to join: (CLONE_NEW* type, path, opened file).
    pub join: Vec<(i32, PathBuf, OwnedFd)>,
    pub new_cgroup_ns: bool,
    pub userns: bool,
    pub from: Vec<String>,
    /// linux.timeOffsets for a new time namespace, as timens_offsets lines:
    /// the namespace is then made by the init (unshare), not by clone3,
    /// because offsets can only be written before a process is inside.
    pub time_offsets: Option<String>,
}

pub fn flag_of(t: LinuxNamespaceType) -> u64 {
    match t {
        LinuxNamespaceType::Mount => libc::CLONE_NEWNS as u64,
        LinuxNamespaceType::Cgroup => libc::CLONE_NEWCGROUP as u64,
        LinuxNamespaceType::Uts => libc::CLONE_NEWUTS as u64,
        LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC as u64,
        LinuxNamespaceType::User => libc::CLONE_NEWUSER as u64,
        LinuxNamespaceType::Pid => libc::CLONE_NEWPID as u64,
        LinuxNamespaceType::Network => libc::CLONE_NEWNET as u64,
        LinuxNamespaceType::Time => 0x80,
    }
}

/// The name used in /proc/<pid>/ns and in state.json.
pub fn proc_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

/// Decide the clone flags and open every namespace path (in the runtime,
/// before the clone, so a bad path fails early and leaves nothing behind).
pub fn plan(spec: &Spec) -> Result<Plan> {
    let mut p = Plan {
        clone_flags: 0,
        join: vec![],
        new_cgroup_ns: false,
        userns: false,
        from: vec![],
        time_offsets: None,
    };
    let nss = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for (i, ns) in nss.iter().enumerate() {
        let t = ns.typ();
        p.from.push(format!("linux.namespaces[{i}]"));
        if t == LinuxNamespaceType::User {
            p.userns = true;
        }
        match ns.path() {
            Some(path) if !path.as_os_str().is_empty() => {
                let f = std::fs::File::open(path).map_err(|e| {
                    Error::new(
                        NAMESPACES.id,
                        format!("linux.namespaces[{i}].path {}: {e}", path.display()),
                    )
                    .hint("the path must be a namespace file such as /proc/<pid>/ns/net or a bind mount of one")
                })?;
                p.join.push((flag_of(t) as i32, path.clone(), f.into()));
            }
            _ => {
                let offsets = spec
                    .linux()
                    .as_ref()
                    .and_then(|l| l.time_offsets().clone())
                    .unwrap_or_default();
                if t == LinuxNamespaceType::Cgroup {
                    p.new_cgroup_ns = true;
                } else if t == LinuxNamespaceType::Time && !offsets.is_empty() {
                    let mut keys: Vec<_> = offsets.keys().collect();
                    keys.sort();
                    let mut text = String::new();
                    for k in keys {
                        if k != "monotonic" && k != "boottime" {
                            return Err(Error::new(
                                NAMESPACES.id,
                                format!("linux.timeOffsets.{k}: only monotonic and boottime clocks can be offset"),
                            ));
                        }
                        let o = &offsets[k];
                        text.push_str(&format!(
                            "{k} {} {}\n",
                            o.secs().unwrap_or(0),
                            o.nanosecs().unwrap_or(0)
                        ));
                    }
                    p.time_offsets = Some(text);
                } else {
                    p.clone_flags |= flag_of(t);
                }
            }
        }
    }
    Ok(p)
}

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// clone3 with no stack: like fork(2), the child goes on from here on a
/// copy of our stack. Returns 0 in the child and the child's pid (in our
/// pid namespace) in the parent.
///
/// The caller must be single-threaded: only the calling thread is copied.
pub fn clone_process(flags: u64) -> Result<i32> {
    let args = CloneArgs {
        flags,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    let start = std::time::Instant::now();
    // SAFETY: clone3 without CLONE_VM and with no stack behaves like fork:
    // the child gets a copy of our memory. We are single-threaded here, so
    // no lock is held by a thread that would be missing in the child.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if r == 0 {
        // The child: its trace is the parent's to tell. It starts with no
        // signal blocked (the runtime may block some to forward them).
        let _ = nix::sys::signal::SigSet::empty().thread_set_mask();
        // Ignored signals survive execve, and Rust's runtime ignores
        // SIGPIPE: without this the container's `yes | head` would never
        // see SIGPIPE. Every signal goes back to its default.
        reset_signal_dispositions();
        // Stage spans inherited from the parent close in the child too:
        // they must not be reported twice. The child's own events start
        // once it points the sink at the channel.
        crate::explain::sink::detach();
        return Ok(0);
    }
    let errno = (r < 0).then(nix::errno::Errno::last);
    // Report the call once, from the parent, through the usual path.
    sys::call(
        "clone3",
        || {
            format!(
                "{{flags={}, exit_signal=SIGCHLD}}, {}",
                flag_names(flags, CLONE_FLAGS),
                std::mem::size_of::<CloneArgs>()
            )
        },
        || {
            let _ = start;
            match errno {
                Some(e) => Err(e),
                None => Ok(r as i32),
            }
        },
    )
    .map_err(|e| Error::sys(NAMESPACES.id, "create the container init", e))
}

/// Every signal (real-time ones included: glibc's `signal()` refuses the
/// two it reserves, so this is the raw syscall) back to SIG_DFL.
fn reset_signal_dispositions() {
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: u64,
        restorer: usize,
        mask: u64,
    }
    let dfl = KernelSigaction {
        handler: 0, // SIG_DFL
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: rt_sigaction with a valid struct and no old action;
        // SIG_DFL needs no restorer.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                &dfl as *const KernelSigaction,
                std::ptr::null_mut::<KernelSigaction>(),
                8usize,
            )
        };
    }
}

/// Runtime side: clone the init. Pid namespaces given by path are joined
/// here first (they only affect children).
pub fn clone_init(plan: &Plan) -> Result<i32> {
    let g = explain::stage(&NAMESPACES, &plan.from)?;
    for (t, path, fd) in &plan.join {
        if *t == libc::CLONE_NEWPID {
            crate::sys::Linux
                .setns(fd.as_raw_fd(), *t, &path.display().to_string())
                .map_err(|e| Error::sys(NAMESPACES.id, "join the pid namespace", e))?;
        }
    }
    explain::note(|| {
        "the child is a copy of this process (no re-exec): it runs the init-side stages and ends in execve".to_string()
    });
    let r = clone_process(plan.clone_flags);
    if r.is_err() {
        g.failed();
    }
    r
}

pub const TIME: Step = Step {
    id: "namespaces.time",
    stage: 2,
    title: "make a time namespace with clock offsets",
    why: "A time namespace lets a container see CLOCK_MONOTONIC and CLOCK_BOOTTIME shifted by fixed offsets (useful after checkpoint/restore, or to test software that cares how long a machine has been up). The offsets can only be written before any process is in the namespace, so the init makes it with unshare — which moves only its future children — writes /proc/self/timens_offsets, and enters it at execve.",
    man: &["time_namespaces(7)", "unshare(2)"],
    shell: "unshare --time --boottime 86400 cat /proc/uptime",
    config: &["linux.timeOffsets"],
    look: &["cat /proc/{pid}/timens_offsets"],
    actor: Actor::Init,
};

/// Init side: a new time namespace with offsets (see [`TIME`]).
pub fn time_offsets(sys: &dyn Sys, plan: &Plan) -> Result<()> {
    let Some(text) = &plan.time_offsets else {
        return Ok(());
    };
    explain::run_stage(&TIME, &["linux.timeOffsets".to_string()], || {
        sys.unshare(0x80)
            .map_err(|e| Error::sys(TIME.id, "make a time namespace", e))?;
        sys.write_file(std::path::Path::new("/proc/self/timens_offsets"), text)
            .map_err(|e| Error::sys(TIME.id, "write the clock offsets", e))
    })
}

/// Init side: setns into every namespace given by path (the user
/// namespace first: it decides what we may do in the others).
pub fn join(sys: &dyn Sys, plan: &Plan) -> Result<()> {
    let others: Vec<_> = plan
        .join
        .iter()
        .filter(|(t, _, _)| *t != libc::CLONE_NEWPID)
        .collect();
    if others.is_empty() {
        return Ok(());
    }
    explain::run_stage(&JOIN, &[], || {
        let mut ordered = others.clone();
        ordered.sort_by_key(|(t, _, _)| *t != libc::CLONE_NEWUSER);
        for (t, path, fd) in ordered {
            sys.setns(fd.as_raw_fd(), *t, &path.display().to_string())
                .map_err(|e| Error::sys(JOIN.id, format!("join {}", path.display()), e))?;
        }
        Ok(())
    })
}

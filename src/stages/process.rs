//! Stage 10 — process: turn the init into the process config.json
//! describes: its terminal, limits, user, capabilities, working directory,
//! program and file descriptors.

use std::ffi::CString;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Capability, Process};

use crate::error::{Error, Result};
use crate::explain::{self, Actor, Step};
use crate::sys::{self, q, Sys};

pub const CONSOLE: Step = Step {
    id: "console",
    stage: 10,
    title: "give the container a terminal (pty)",
    why: "With process.terminal true the program gets a pseudo-terminal made inside the container's own devpts. The init keeps the slave side as stdin/stdout/stderr and its controlling terminal, and hands the master side to whoever drives it: learnrt in the foreground, or the --console-socket of a shim.",
    man: &["pty(7)", "posix_openpt(3)", "unix(7) SCM_RIGHTS"],
    shell: "script -q /dev/null   # a shell on a fresh pty",
    config: &["process.terminal", "process.consoleSize"],
    look: &["ls -l /proc/{pid}/fd/"],
    actor: Actor::Init,
};

pub const SESSION: Step = Step {
    id: "session",
    stage: 10,
    title: "start a new session (setsid)",
    why: "The init leaves the session and process group of the shell that ran learnrt, so job-control signals meant for that terminal (Ctrl-C, hang-up) do not reach the container. With a terminal, the console step does this itself, because only a session leader can take a controlling terminal.",
    man: &["setsid(2)", "credentials(7)"],
    shell: "setsid sh",
    config: &["process.terminal"],
    look: &["ps -o pid,sid,pgid,comm -p {pid}"],
    actor: Actor::Init,
};

/// A new session when there is no terminal (the console step makes its
/// own).
pub fn new_session(sys: &dyn Sys) -> Result<()> {
    explain::run_stage(&SESSION, &[], || {
        sys.setsid()
            .map(|_| ())
            .map_err(|e| Error::sys(SESSION.id, "start a new session", e))
    })
}

pub const RLIMITS: Step = Step {
    id: "rlimits",
    stage: 10,
    title: "set resource limits (rlimits) and the OOM score",
    why: "rlimits cap what one process may use — open files, processes, core size — and are inherited by everything the program starts. Lowering is always allowed; raising a hard limit needs CAP_SYS_RESOURCE. oom_score_adj tells the kernel's OOM killer how willing it should be to pick this container.",
    man: &["prlimit(2)", "getrlimit(2)", "proc(5) oom_score_adj"],
    shell: "prlimit --nofile=1024:1024 --pid $PID",
    config: &["process.rlimits", "process.oomScoreAdj"],
    look: &["cat /proc/{pid}/limits"],
    actor: Actor::Init,
};

pub const SCHED: Step = Step {
    id: "sched",
    stage: 10,
    title: "set the scheduler, I/O priority and personality",
    why: "How the kernel shares the CPU and the disk between processes is a per-process setting inherited across fork and exec: a CPU scheduling policy (normal, batch, idle, real-time FIFO/RR, deadline) with its nice value or priority, and an I/O class (real-time, best-effort, idle) with a level. The personality can make the program see a 32-bit machine (`uname -m` says i686) on a 64-bit kernel.",
    man: &["sched_setattr(2)", "ioprio_set(2)", "personality(2)"],
    shell: "chrt --batch 0 ionice -c 3 setarch i686 sh",
    config: &["process.scheduler", "process.ioPriority", "linux.personality"],
    look: &["chrt -p {pid}", "ionice -p {pid}"],
    actor: Actor::Init,
};

fn enum_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Pin this process to a CPU list such as `0-3,7` (process.execCPUAffinity).
pub fn set_affinity(list: &str, field: &str) -> Result<()> {
    let mut set = nix::sched::CpuSet::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let bad = || {
            Error::new(
                SCHED.id,
                format!("{field}: {list:?} is not a CPU list like 0-3,7"),
            )
        };
        let (a, b): (usize, usize) = (
            a.trim().parse().map_err(|_| bad())?,
            b.trim().parse().map_err(|_| bad())?,
        );
        for cpu in a..=b {
            set.set(cpu).map_err(|_| bad())?;
        }
    }
    sys::call(
        "sched_setaffinity",
        || format!("0, {{{list}}}"),
        || nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set),
    )
    .map_err(|e| {
        Error::sys(SCHED.id, format!("pin to CPUs {list} ({field})"), e)
            .hint("are those CPUs online and in the container's cpuset?")
    })
}

/// process.execCPUAffinity.initial: before the move into the cgroup.
pub fn initial_affinity(p: &Process) -> Result<()> {
    match p
        .exec_cpu_affinity()
        .as_ref()
        .and_then(|a| a.initial().clone())
    {
        Some(list) if !list.is_empty() => explain::run_stage(
            &SCHED,
            &["process.execCPUAffinity.initial".to_string()],
            || set_affinity(&list, "process.execCPUAffinity.initial"),
        ),
        _ => Ok(()),
    }
}

/// Scheduling policy, I/O priority and personality (stage 10).
pub fn scheduling(
    p: &Process,
    personality: Option<&oci_spec::runtime::LinuxPersonality>,
) -> Result<()> {
    let sched = p.scheduler().as_ref();
    let io = p.io_priority().as_ref();
    let affinity = p
        .exec_cpu_affinity()
        .as_ref()
        .and_then(|a| a.cpu_affinity_final().clone())
        .filter(|l| !l.is_empty());
    if sched.is_none() && io.is_none() && personality.is_none() && affinity.is_none() {
        return Ok(());
    }
    let from = vec![
        "process.scheduler".to_string(),
        "process.ioPriority".to_string(),
        "linux.personality".to_string(),
    ];
    explain::run_stage(&SCHED, &from, || {
        if let Some(sc) = sched {
            let policy_name = enum_name(sc.policy());
            let policy: u32 = match policy_name.as_str() {
                "SCHED_OTHER" => 0,
                "SCHED_FIFO" => 1,
                "SCHED_RR" => 2,
                "SCHED_BATCH" => 3,
                "SCHED_ISO" => 4,
                "SCHED_IDLE" => 5,
                "SCHED_DEADLINE" => 6,
                other => {
                    return Err(Error::new(
                        SCHED.id,
                        format!("process.scheduler.policy {other:?} is not known"),
                    ))
                }
            };
            let mut flags = 0u64;
            for f in sc.flags().iter().flatten() {
                flags |= match enum_name(f).as_str() {
                    "SCHED_FLAG_RESET_ON_FORK" => 0x01,
                    "SCHED_FLAG_RECLAIM" => 0x02,
                    "SCHED_FLAG_DL_OVERRUN" => 0x04,
                    "SCHED_FLAG_KEEP_POLICY" => 0x08,
                    "SCHED_FLAG_KEEP_PARAMS" => 0x10,
                    "SCHED_FLAG_UTIL_CLAMP_MIN" => 0x20,
                    "SCHED_FLAG_UTIL_CLAMP_MAX" => 0x40,
                    _ => 0,
                };
            }
            #[repr(C)]
            struct SchedAttr {
                size: u32,
                policy: u32,
                flags: u64,
                nice: i32,
                priority: u32,
                runtime: u64,
                deadline: u64,
                period: u64,
            }
            let attr = SchedAttr {
                size: std::mem::size_of::<SchedAttr>() as u32,
                policy,
                flags,
                nice: sc.nice().unwrap_or(0),
                priority: sc.priority().unwrap_or(0).max(0) as u32,
                runtime: sc.runtime().unwrap_or(0),
                deadline: sc.deadline().unwrap_or(0),
                period: sc.period().unwrap_or(0),
            };
            sys::call(
                "sched_setattr",
                || {
                    format!(
                        "0, {{policy={policy_name}, nice={}, priority={}, flags={flags:#x}}}, 0",
                        attr.nice, attr.priority
                    )
                },
                || {
                    // SAFETY: a sched_attr of the size it says, for ourselves.
                    let r = unsafe {
                        libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0)
                    };
                    if r < 0 {
                        Err(nix::errno::Errno::last())
                    } else {
                        Ok(())
                    }
                },
            )
            .map_err(|e| {
                Error::sys(SCHED.id, "set the CPU scheduler", e)
                    .hint("real-time policies need CAP_SYS_NICE")
            })?;
        }
        if let Some(io) = io {
            let class_name = enum_name(&io.class());
            let class: i64 = match class_name.as_str() {
                "IOPRIO_CLASS_RT" => 1,
                "IOPRIO_CLASS_BE" => 2,
                "IOPRIO_CLASS_IDLE" => 3,
                other => {
                    return Err(Error::new(
                        SCHED.id,
                        format!("process.ioPriority.class {other:?} is not known"),
                    ))
                }
            };
            let value = (class << 13) | (io.priority() & 0x1fff);
            sys::call(
                "ioprio_set",
                || {
                    format!(
                        "IOPRIO_WHO_PROCESS, 0, IOPRIO_PRIO_VALUE({class_name}, {})",
                        io.priority()
                    )
                },
                || {
                    // SAFETY: integer-only syscall for ourselves.
                    let r = unsafe { libc::syscall(libc::SYS_ioprio_set, 1, 0, value) };
                    if r < 0 {
                        Err(nix::errno::Errno::last())
                    } else {
                        Ok(())
                    }
                },
            )
            .map_err(|e| Error::sys(SCHED.id, "set the I/O priority", e))?;
        }
        if let Some(list) = &affinity {
            set_affinity(list, "process.execCPUAffinity.final")?;
        }
        if let Some(per) = personality {
            let name = enum_name(&per.domain());
            let persona: u64 = match name.as_str() {
                "LINUX" => 0x0000,
                "LINUX32" => 0x0008,
                other => {
                    return Err(Error::new(
                        SCHED.id,
                        format!("linux.personality.domain {other:?} is not known"),
                    ))
                }
            };
            sys::call(
                "personality",
                || format!("PER_{name}"),
                || {
                    // SAFETY: integer-only syscall.
                    let r = unsafe { libc::personality(persona as libc::c_ulong) };
                    if r < 0 {
                        Err(nix::errno::Errno::last())
                    } else {
                        Ok(r)
                    }
                },
            )
            .map_err(|e| Error::sys(SCHED.id, "set the personality", e))?;
        }
        Ok(())
    })
}

pub const BOUNDING: Step = Step {
    id: "caps.bounding",
    stage: 10,
    title: "shrink the capability bounding set",
    why: "The bounding set is the ceiling on every capability this process and its children can ever get, even by running a setuid-root or file-capability program. Everything config.json does not list is dropped from it now, one prctl per capability, while the init still holds CAP_SETPCAP, which dropping needs.",
    man: &["capabilities(7)", "prctl(2) PR_CAPBSET_DROP"],
    shell: "capsh --drop=cap_sys_admin,cap_net_admin --",
    config: &["process.capabilities.bounding"],
    look: &["grep CapBnd /proc/{pid}/status"],
    actor: Actor::Init,
};

pub const USER: Step = Step {
    id: "user",
    stage: 10,
    title: "become the container's user (groups, gid, uid)",
    why: "The init runs as root so far. Now it takes the user config.json names: supplementary groups first, then the gid, then the uid — in that order, because after setuid to a non-root user it could no longer change its groups. PR_SET_KEEPCAPS keeps the capabilities across the switch so the next step can set exactly the ones asked for.",
    man: &["setresuid(2)", "setgroups(2)", "credentials(7)"],
    shell: "setpriv --reuid=1000 --regid=1000 --clear-groups sh",
    config: &["process.user"],
    look: &["grep -E '^(Uid|Gid|Groups)' /proc/{pid}/status"],
    actor: Actor::Init,
};

pub const CAPS: Step = Step {
    id: "caps",
    stage: 10,
    title: "drop every capability the container was not given",
    why: "Root's power is split into ~41 capabilities (CAP_NET_ADMIN, CAP_SYS_ADMIN, …). A container keeps only the ones listed: the bounding set was shrunk before the user switch (caps.bounding); now the effective, permitted and inheritable sets are set exactly with capset, and the ambient set is raised for the caps the kernel allows there.",
    man: &["capabilities(7)", "capset(2)", "prctl(2) PR_CAPBSET_DROP"],
    shell: "capsh --drop=cap_sys_admin,cap_net_admin -- -c 'grep Cap /proc/self/status'",
    config: &["process.capabilities"],
    look: &["grep Cap /proc/{pid}/status", "capsh --decode=$(awk '/CapEff/{print $2}' /proc/{pid}/status)"],
    actor: Actor::Init,
};

pub const CWD: Step = Step {
    id: "cwd",
    stage: 10,
    title: "enter the working directory and find the program",
    why: "The program starts in process.cwd, which must be inside the new root (a leaked directory handle outside it was runc's CVE-2024-21626). The program is looked up in the container's PATH now, so a typo fails `create` with a clear message instead of failing later at `start`. Every descriptor above the preserved ones is marked close-on-exec so no runtime file reaches the container.",
    man: &["chdir(2)", "getcwd(3)", "close_range(2)", "execvp(3)"],
    shell: "cd /; command -v sh",
    config: &["process.cwd", "process.args", "process.env", "--preserve-fds"],
    look: &["ls -l /proc/{pid}/cwd /proc/{pid}/fd"],
    actor: Actor::Init,
};

/// What execve will get.
#[derive(Debug)]
pub struct Prepared {
    pub path: CString,
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
    pub shown: String,
}

/// Capabilities as names → numbers (capabilities(7)).
pub const CAP_NAMES: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// `CAP_SYS_ADMIN`, `sys_admin` → 21.
pub fn cap_number(name: &str) -> Option<u32> {
    let n = name.to_ascii_uppercase();
    let n = n.strip_prefix("CAP_").unwrap_or(&n);
    CAP_NAMES.iter().position(|c| *c == n).map(|i| i as u32)
}

fn cap_name(c: &Capability) -> String {
    // oci-spec serialises as "CAP_XXX".
    serde_json::to_value(c)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn mask(
    set: Option<&std::collections::HashSet<Capability>>,
    last: u32,
    warn: &mut Vec<String>,
) -> u64 {
    let mut m = 0u64;
    for c in set.into_iter().flatten() {
        let name = cap_name(c);
        match cap_number(&name) {
            Some(n) if n <= last => m |= 1 << n,
            _ => warn.push(format!(
                "capability {name} is not known to this kernel, ignored"
            )),
        }
    }
    m
}

pub fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

pub fn rlimit_resource(name: &str) -> Option<u32> {
    Some(match name {
        "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMIT_STACK" => libc::RLIMIT_STACK,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMIT_RSS" => libc::RLIMIT_RSS,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => libc::RLIMIT_NICE,
        "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        _ => return None,
    })
}

/// Open a pty in the container's devpts, send the master to the runtime
/// over `chan_fd`, and make the slave our terminal and stdio.
pub fn console(chan_fd: RawFd) -> Result<()> {
    use nix::fcntl::OFlag;
    explain::run_stage(&CONSOLE, &["process.terminal".to_string()], || {
        let e = |what: &'static str| move |e| Error::sys(CONSOLE.id, what, e);
        sys::Linux.setsid().ok();
        let master = sys::call(
            "open",
            || "\"/dev/ptmx\", O_RDWR|O_NOCTTY|O_CLOEXEC".into(),
            || nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC),
        )
        .map_err(e("open /dev/ptmx"))?;
        sys::call(
            "ioctl",
            || "ptmx, TIOCSPTLCK, 0 /* unlockpt */".into(),
            || nix::pty::unlockpt(&master),
        )
        .map_err(e("unlock the pty"))?;
        // SAFETY: ptsname is not thread-safe; we are single-threaded.
        let name = unsafe { nix::pty::ptsname(&master) }
            .map_err(|er| Error::new(CONSOLE.id, format!("ptsname: {er}")))?;
        let slave = sys::call(
            "open",
            || format!("{name:?}, O_RDWR|O_NOCTTY"),
            || {
                nix::fcntl::open(
                    Path::new(&name),
                    OFlag::O_RDWR | OFlag::O_NOCTTY,
                    nix::sys::stat::Mode::empty(),
                )
            },
        )
        .map_err(e("open the pty slave"))?;
        crate::process::channel::Channel::borrow(chan_fd)
            .send_with_fd(&crate::process::channel::Msg::Pty, Some(master.as_raw_fd()))
            .map_err(|er| Error::new(CONSOLE.id, format!("send the pty master: {er}")))?;
        drop(master);
        if Path::new("/dev/console").exists() {
            sys::Linux
                .mount(
                    Some(Path::new(&name)),
                    Path::new("/dev/console"),
                    None,
                    libc::MS_BIND,
                    None,
                )
                .map_err(e("bind the pty onto /dev/console"))?;
        }
        for fd in 0..3 {
            sys::call(
                "dup2",
                || format!("{}, {fd}", slave.as_raw_fd()),
                || {
                    // SAFETY: dup2 onto stdio numbers.
                    let r = unsafe { libc::dup2(slave.as_raw_fd(), fd) };
                    if r < 0 {
                        Err(nix::errno::Errno::last())
                    } else {
                        Ok(())
                    }
                },
            )
            .map_err(e("make the pty our stdio"))?;
        }
        sys::call(
            "ioctl",
            || "0, TIOCSCTTY, 0".into(),
            || {
                // SAFETY: make fd 0 (the pty slave) our controlling terminal.
                let r = unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) };
                if r < 0 {
                    Err(nix::errno::Errno::last())
                } else {
                    Ok(())
                }
            },
        )
        .map_err(e("take the pty as controlling terminal"))?;
        Ok(())
    })
}

/// Everything of stage 10 after the console. Returns what execve needs.
pub fn run(
    sys: &dyn Sys,
    p: &Process,
    preserve_fds: u32,
    warnings: &mut Vec<String>,
) -> Result<Prepared> {
    let limits = p.rlimits().clone().unwrap_or_default();
    if !limits.is_empty() || p.oom_score_adj().is_some() {
        explain::run_stage(&RLIMITS, &["process.rlimits".to_string()], || {
            for (i, r) in limits.iter().enumerate() {
                let name = serde_json::to_value(r.typ())
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                let res = rlimit_resource(&name).ok_or_else(|| {
                    Error::new(
                        RLIMITS.id,
                        format!("process.rlimits[{i}]: unknown rlimit {name}"),
                    )
                })?;
                sys.setrlimit(res, &name, r.soft(), r.hard())
                    .map_err(|e| Error::sys(RLIMITS.id, format!("set {name}"), e))?;
            }
            if let Some(adj) = p.oom_score_adj() {
                sys.write_file(Path::new("/proc/self/oom_score_adj"), &adj.to_string())
                    .map_err(|e| Error::sys(RLIMITS.id, "set oom_score_adj", e))?;
            }
            Ok(())
        })?;
    }

    let user = p.user();
    let (uid, gid) = (user.uid(), user.gid());
    let groups = user.additional_gids().clone().unwrap_or_default();
    let caps = p.capabilities().as_ref();
    let last = last_cap();
    let bounding = mask(caps.and_then(|c| c.bounding().as_ref()), last, warnings);
    let effective = mask(caps.and_then(|c| c.effective().as_ref()), last, warnings);
    let permitted = mask(caps.and_then(|c| c.permitted().as_ref()), last, warnings);
    let inheritable = mask(caps.and_then(|c| c.inheritable().as_ref()), last, warnings);
    let ambient = mask(caps.and_then(|c| c.ambient().as_ref()), last, warnings);

    if caps.is_some() {
        // Bounding set first: dropping needs CAP_SETPCAP, which we still
        // have until the user switch and capset below.
        explain::run_stage(
            &BOUNDING,
            &["process.capabilities.bounding".to_string()],
            || {
                explain::note(|| format!("bounding set keeps {bounding:#x}; dropping the rest"));
                for c in 0..=last {
                    if bounding & (1 << c) == 0 {
                        sys.prctl(libc::PR_CAPBSET_DROP, "PR_CAPBSET_DROP", c as u64, 0)
                            .map_err(|e| {
                                Error::sys(
                                    BOUNDING.id,
                                    format!(
                                        "drop CAP_{} from the bounding set",
                                        CAP_NAMES.get(c as usize).unwrap_or(&"?")
                                    ),
                                    e,
                                )
                            })?;
                    }
                }
                Ok(())
            },
        )?;
    }
    explain::run_stage(&USER, &["process.user".to_string()], || {
        if uid != 0 {
            sys.prctl(libc::PR_SET_KEEPCAPS, "PR_SET_KEEPCAPS", 1, 0)
                .map_err(|e| Error::sys(USER.id, "keep capabilities across setuid", e))?;
        }
        // setgroups is refused in a user namespace with setgroups=deny.
        let deny = std::fs::read_to_string("/proc/self/setgroups")
            .map(|s| s.trim() == "deny")
            .unwrap_or(false);
        if !deny {
            sys.setgroups(&groups)
                .map_err(|e| Error::sys(USER.id, "set supplementary groups", e))?;
        }
        sys.setresgid(gid)
            .map_err(|e| Error::sys(USER.id, format!("become gid {gid}"), e))?;
        sys.setresuid(uid)
            .map_err(|e| Error::sys(USER.id, format!("become uid {uid}"), e))?;
        if uid != 0 {
            sys.prctl(libc::PR_SET_KEEPCAPS, "PR_SET_KEEPCAPS", 0, 0)
                .map_err(|e| Error::sys(USER.id, "reset keepcaps", e))?;
        }
        // process.user.umask, or 0022 as runc does: never the caller's.
        sys.umask(user.umask().unwrap_or(0o022))
            .map_err(|e| Error::sys(USER.id, "umask", e))?;
        Ok(())
    })?;

    if caps.is_some() {
        explain::run_stage(&CAPS, &["process.capabilities".to_string()], || {
            sys.capset(effective, permitted, inheritable)
                .map_err(|e| Error::sys(CAPS.id, "set the capability sets", e))?;
            sys.prctl(
                libc::PR_CAP_AMBIENT,
                "PR_CAP_AMBIENT_CLEAR_ALL",
                libc::PR_CAP_AMBIENT_CLEAR_ALL as u64,
                0,
            )
            .ok();
            // The kernel raises an ambient capability only if it is both
            // permitted and inheritable; runc's default spec lists ambient
            // caps but no inheritable ones, so those are skipped (as the
            // kernel would refuse them), with one note saying so.
            let raisable = ambient & permitted & inheritable;
            if ambient & !raisable != 0 {
                explain::note(|| {
                    format!(
                        "ambient {:#x}: only caps also in permitted and inheritable can be ambient; raising {:#x}",
                        ambient, raisable
                    )
                });
            }
            for c in 0..=last {
                if raisable & (1 << c) != 0 {
                    if let Err(e) = sys.prctl(
                        libc::PR_CAP_AMBIENT,
                        "PR_CAP_AMBIENT_RAISE",
                        libc::PR_CAP_AMBIENT_RAISE as u64,
                        c as u64,
                    ) {
                        warnings.push(format!(
                            "cannot raise ambient CAP_{}: {}",
                            CAP_NAMES[c as usize], e.errno
                        ));
                    }
                }
            }
            Ok(())
        })?;
    }

    explain::run_stage(
        &CWD,
        &["process.cwd".to_string(), "process.args".to_string()],
        || {
            let cwd = p.cwd();
            sys.chdir(cwd).map_err(|e| {
                Error::sys(CWD.id, format!("enter process.cwd {}", cwd.display()), e)
            })?;
            // The cwd must be inside our root: getcwd() fails or says
            // "(unreachable)" for a directory outside it.
            match nix::unistd::getcwd() {
            Ok(d) if d.is_absolute() => {}
            _ => {
                return Err(Error::new(CWD.id, format!("process.cwd {} is outside the container's root", cwd.display()))
                    .hint("this is how CVE-2024-21626 escaped runc: a working directory that leads outside the root"))
            }
        }
            let env: Vec<String> = p.env().clone().unwrap_or_default();
            let args = p.args().clone().unwrap_or_default();
            let path = find_exe(&args[0], &env)?;
            explain::note(|| format!("program: {}", path.display()));
            sys.close_range(3 + preserve_fds, u32::MAX, libc::CLOSE_RANGE_CLOEXEC)
                .map_err(|e| Error::sys(CWD.id, "mark runtime descriptors close-on-exec", e))?;
            let mut env = env;
            if !env.iter().any(|e| e.starts_with("HOME=")) {
                env.push(format!("HOME={}", home_of(uid)));
            }
            let c = |s: &str| {
                CString::new(s)
                    .map_err(|_| Error::new(CWD.id, format!("{s:?} contains a NUL byte")))
            };
            Ok(Prepared {
                shown: format!("{}, {:?}, [{} vars]", q(&path), args, env.len()),
                path: CString::new(path.as_os_str().as_bytes())
                    .map_err(|_| Error::new(CWD.id, "NUL in path"))?,
                argv: args.iter().map(|a| c(a)).collect::<Result<_>>()?,
                envp: env.iter().map(|a| c(a)).collect::<Result<_>>()?,
            })
        },
    )
}

/// The home directory of `uid` from the container's /etc/passwd, or "/".
fn home_of(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 5 && f[2] == uid.to_string()).then(|| f[5].to_string())
            })
        })
        .unwrap_or_else(|| "/".into())
}

/// An errno as Go prints it ("no such file or directory"): clients such as
/// Docker match these words in the runtime's error message.
fn go_errno(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_lowercase(),
        None => e.to_string(),
    }
}

/// execvp's lookup, done now so a missing program fails `create`.
pub fn find_exe(name: &str, env: &[String]) -> Result<PathBuf> {
    let is_exe = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            })
            .unwrap_or(false)
    };
    if name.contains('/') {
        let p = PathBuf::from(name);
        if is_exe(&p) {
            return Ok(p);
        }
        // runc's wording (Go's errno strings): Docker turns a create error
        // into exit 127 only if it says "no such file or directory", and
        // into 126 if it says "permission denied" / "is a directory".
        let why = match std::fs::metadata(&p) {
            Err(e) => format!("stat {name}: {}", go_errno(&e)),
            Ok(m) if m.is_dir() => "is a directory".to_string(),
            Ok(_) => "permission denied".to_string(),
        };
        return Err(Error::new(CWD.id, format!("exec: {name:?}: {why}"))
            .hint("process.args[0] is looked up inside the rootfs: is the path right, and is it executable?"));
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let p = Path::new(dir).join(name);
        if is_exe(&p) {
            return Ok(p);
        }
    }
    Err(Error::new(
        CWD.id,
        format!("exec: {name:?}: executable file not found in $PATH ({path})"),
    )
    .hint("the program must exist inside the container's rootfs, not on the host"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_numbers() {
        assert_eq!(cap_number("CAP_CHOWN"), Some(0));
        assert_eq!(cap_number("sys_admin"), Some(21));
        assert_eq!(cap_number("CAP_CHECKPOINT_RESTORE"), Some(40));
        assert_eq!(cap_number("CAP_BOGUS"), None);
    }

    #[test]
    fn exe_lookup_names_the_program() {
        let e = find_exe("definitely-not-here", &["PATH=/nonexistent".into()]).unwrap_err();
        assert!(e.msg.contains("definitely-not-here"));
        assert!(find_exe("sh", &["PATH=/bin:/usr/bin".into()]).is_ok());
    }
}

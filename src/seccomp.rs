//! Stage 10, `seccomp`: the syscall filter from `linux.seccomp`.
//!
//! Two halves, on purpose:
//!
//! * [`compile`] runs in the runtime, before the container init exists. It
//!   checks every field of `linux.seccomp` (so a bad profile is a clear error
//!   naming the JSON field, never a half-made container), resolves syscall
//!   names to numbers for each architecture and turns the rules into a
//!   classic-BPF program with libseccomp. The program is kept as plain
//!   instructions: the [`Filter`] owns no C pointer and can cross the clone.
//! * [`Filter::load`] runs in the init, as the last thing before `execve`. It
//!   is a single `seccomp(2)` call with the ready program, allocates nothing,
//!   and so is safe after a fork-like clone.
//!
//! Why libseccomp (and not a pure-Rust BPF compiler such as `seccompiler`):
//! its syscall tables cover every `SCMP_ARCH_*` the runtime spec names (a
//! profile listing `x86_64`, `x86` and `x32` needs three different numbers
//! for most names, and pseudo-syscalls such as `socketcall` on x86); a name it
//! does not know is reported as unknown, which is what lets us ignore it as
//! runc does; it has every action including `SCMP_ACT_NOTIFY`, all seven
//! comparison operators on 64-bit arguments (split into two 32-bit compares
//! on 32-bit arches) and builds a binary-tree filter for big profiles. It is
//! what runc, crun and youki use, so the same profile gives the same program.
//! The price is a C library at build time (`libseccomp-dev`, `pkg-config`)
//! and at run time (`libseccomp.so.2`, on every distribution that has
//! containers).

use std::fmt;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use nix::errno::Errno;
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

use crate::explain::step::{Actor, Step};
use crate::sys;

/// The explain entry for this stage.
pub const SECCOMP: Step = Step {
    id: "seccomp",
    stage: 11,
    title: "install the seccomp syscall filter from linux.seccomp",
    why: "The kernel has more than 300 syscalls and a container needs far fewer; some (mount, \
          keyctl, bpf, kexec_load, ...) are a door out of the container or into the host kernel. \
          A seccomp filter is a small BPF program the kernel runs on every syscall the process \
          makes: it may allow the call, fail it with an errno, or kill the process. It is \
          installed as late as possible — just before execve, or, without no_new_privs, just \
          before the capabilities are dropped (loading then needs CAP_SYS_ADMIN) — so the \
          runtime's own setup is not filtered; it is inherited by every child and can never \
          be removed.",
    man: &["seccomp(2)", "seccomp_rule_add(3)", "prctl(2)"],
    shell: "# no shell command installs a filter; container tools do it for you:\n\
            docker run --security-opt seccomp=profile.json IMAGE\n\
            # by hand it is a small C program: prctl(PR_SET_NO_NEW_PRIVS, 1) then\n\
            # seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog) then execve\n\
            # (systemd-run -p SystemCallFilter=... does the same for a service)",
    config: &["linux.seccomp"],
    look: &[
        "grep Seccomp /proc/{pid}/status",
        "cat /proc/sys/kernel/seccomp/actions_avail",
    ],
    actor: Actor::Init,
};

// Kernel flag bits for seccomp(SECCOMP_SET_MODE_FILTER, flags, prog)
// (include/uapi/linux/seccomp.h).
const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;
const FLAG_TSYNC: u32 = 1;
const FLAG_LOG: u32 = 2;
const FLAG_SPEC_ALLOW: u32 = 4;
const FLAG_NEW_LISTENER: u32 = 8;
const FLAG_TSYNC_ESRCH: u32 = 16;
const FLAG_WAIT_KILLABLE_RECV: u32 = 32;

/// The kernel's limit on a classic BPF program (BPF_MAXINSNS).
const BPF_MAXINSNS: usize = 4096;

/// Every `linux.seccomp.*Action` value learnrt implements (also `learnrt features`).
pub const ACTIONS: &[&str] = &[
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",
];

/// Every `args[].op` learnrt implements.
pub const OPERATORS: &[&str] = &[
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_LE",
    "SCMP_CMP_LT",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_NE",
];

/// Every `architectures[]` value learnrt accepts (what libseccomp 2.5 knows).
pub const ARCHS: &[&str] = &[
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_RISCV64",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
];

/// Every `flags[]` value learnrt knows, with its kernel bit.
pub const KNOWN_FLAGS: &[(&str, u32)] = &[
    ("SECCOMP_FILTER_FLAG_TSYNC", FLAG_TSYNC),
    ("SECCOMP_FILTER_FLAG_SPEC_ALLOW", FLAG_SPEC_ALLOW),
    ("SECCOMP_FILTER_FLAG_LOG", FLAG_LOG),
    (
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        FLAG_WAIT_KILLABLE_RECV,
    ),
];

/// The known flags this kernel accepts. Probed the way the kernel allows:
/// `seccomp(SECCOMP_SET_MODE_FILTER, flag, NULL)` fails with EINVAL for a
/// flag it does not know and with EFAULT (bad program pointer) for one it
/// does; nothing is ever installed.
pub fn supported_flags() -> Vec<&'static str> {
    KNOWN_FLAGS
        .iter()
        .filter(|(_, bit)| {
            // WAIT_KILLABLE_RECV is only valid together with NEW_LISTENER.
            let bits = if *bit == FLAG_WAIT_KILLABLE_RECV {
                bit | FLAG_NEW_LISTENER
            } else {
                *bit
            };
            // SAFETY: a NULL program pointer: the kernel checks the flags,
            // then fails to read the program (EFAULT); nothing is installed.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_seccomp,
                    SECCOMP_SET_MODE_FILTER,
                    bits as libc::c_ulong,
                    std::ptr::null::<libc::c_void>(),
                )
            };
            r < 0 && Errno::last() == Errno::EFAULT
        })
        .map(|(name, _)| *name)
        .collect()
}

/// Everything that can go wrong, from a bad field to a refused `seccomp(2)`.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// A value in config.json that learnrt will not run with.
    #[error("{field}: {msg}")]
    Invalid { field: String, msg: String },
    /// libseccomp refused something while building the program.
    #[error("{field}: libseccomp: {source}")]
    Library {
        field: String,
        #[source]
        source: libseccomp::error::SeccompError,
    },
    /// The kernel refused the filter.
    #[error("{source}{hint}")]
    Load {
        source: sys::SysError,
        hint: &'static str,
    },
}

fn invalid(field: impl Into<String>, msg: impl Into<String>) -> SeccompError {
    SeccompError::Invalid {
        field: field.into(),
        msg: msg.into(),
    }
}

fn lib(field: impl Into<String>) -> impl FnOnce(libseccomp::error::SeccompError) -> SeccompError {
    let field = field.into();
    move |source| SeccompError::Library { field, source }
}

/// One classic-BPF instruction, laid out as the kernel's `struct sock_filter`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Insn {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

/// What `learnrt --explain` shows about the filter.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// e.g. `SCMP_ACT_ERRNO(1)`.
    pub default_action: String,
    /// Architectures the program checks for (the native one is always in).
    pub architectures: Vec<String>,
    /// Kernel flags given to seccomp(2).
    pub flags: Vec<String>,
    /// Rules handed to libseccomp (one per syscall name, more when runc's
    /// "several conditions on one argument" rule splits them).
    pub rules: usize,
    /// Syscalls the filter can refuse (ERRNO, KILL*, TRAP), with the action;
    /// `(if args match)` when only some calls are refused.
    pub denied: Vec<String>,
    /// Names this libseccomp does not know: ignored, as runc does.
    pub ignored: Vec<String>,
    /// Rules skipped because their action is the default action anyway.
    pub redundant: usize,
    /// Size of the BPF program in instructions.
    pub bpf_instructions: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "default action: {}", self.default_action)?;
        writeln!(f, "architectures:  {}", self.architectures.join(", "))?;
        if !self.flags.is_empty() {
            writeln!(f, "flags:          {}", self.flags.join(", "))?;
        }
        writeln!(
            f,
            "rules:          {} ({} same as the default, skipped)",
            self.rules, self.redundant
        )?;
        writeln!(f, "BPF program:    {} instructions", self.bpf_instructions)?;
        if !self.denied.is_empty() {
            writeln!(f, "can refuse:     {}", self.denied.join(", "))?;
        }
        if !self.ignored.is_empty() {
            writeln!(f, "unknown names (ignored): {}", self.ignored.join(", "))?;
        }
        Ok(())
    }
}

/// A compiled filter, ready to load.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Filter {
    program: Vec<Insn>,
    flags: u32,
    notify: bool,
    listener_path: Option<PathBuf>,
    summary: Summary,
}

/// The action a `linux.seccomp` value asks for, and how it reads.
fn action(
    a: LinuxSeccompAction,
    ret: Option<u32>,
    ret_field: &str,
) -> Result<(ScmpAction, String), SeccompError> {
    use LinuxSeccompAction as A;
    let name = a.to_string();
    let with_ret = |limit: u32, what: &str| -> Result<u16, SeccompError> {
        // runc (and the runtime spec's examples) default to EPERM.
        let v = ret.unwrap_or(libc::EPERM as u32);
        if v > limit {
            return Err(invalid(
                ret_field,
                format!("{v} is too large for {what} (at most {limit})"),
            ));
        }
        Ok(v as u16)
    };
    let act = match a {
        A::ScmpActAllow => ScmpAction::Allow,
        A::ScmpActLog => ScmpAction::Log,
        A::ScmpActKill | A::ScmpActKillThread => ScmpAction::KillThread,
        A::ScmpActKillProcess => ScmpAction::KillProcess,
        A::ScmpActTrap => ScmpAction::Trap,
        A::ScmpActNotify => ScmpAction::Notify,
        // The kernel caps an errno at MAX_ERRNO (4095).
        A::ScmpActErrno => {
            let v = with_ret(4095, "an errno")?;
            return Ok((ScmpAction::Errno(v as i32), format!("{name}({v})")));
        }
        A::ScmpActTrace => {
            let v = with_ret(u16::MAX as u32, "a trace message")?;
            return Ok((ScmpAction::Trace(v), format!("{name}({v})")));
        }
    };
    if let Some(v) = ret {
        // The runtime spec: "When the action doesn't support an errno, the
        // runtime MUST print an error and fail."
        return Err(invalid(
            ret_field,
            format!("{v} given, but {name} returns no errno (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do)"),
        ));
    }
    Ok((act, name))
}

fn arch(a: Arch) -> Option<ScmpArch> {
    Some(match a {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        // Newer than the libseccomp 2.5 we build against: refuse clearly
        // rather than fail inside the library.
        Arch::ScmpArchLoongarch64 | Arch::ScmpArchM68k | Arch::ScmpArchSh | Arch::ScmpArchSheb => {
            return None
        }
    })
}

fn operator(op: LinuxSeccompOperator, value: u64) -> ScmpCompareOp {
    use LinuxSeccompOperator as O;
    match op {
        O::ScmpCmpNe => ScmpCompareOp::NotEqual,
        O::ScmpCmpLt => ScmpCompareOp::Less,
        O::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        O::ScmpCmpEq => ScmpCompareOp::Equal,
        O::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        O::ScmpCmpGt => ScmpCompareOp::Greater,
        // For MASKED_EQ, `value` is the mask and `valueTwo` the datum.
        O::ScmpCmpMaskedEq => ScmpCompareOp::MaskedEqual(value),
    }
}

fn flag(f: LinuxSeccompFilterFlag) -> (u32, &'static str) {
    use LinuxSeccompFilterFlag as F;
    match f {
        F::SeccompFilterFlagTsync => (FLAG_TSYNC, "SECCOMP_FILTER_FLAG_TSYNC"),
        F::SeccompFilterFlagLog => (FLAG_LOG, "SECCOMP_FILTER_FLAG_LOG"),
        F::SeccompFilterFlagSpecAllow => (FLAG_SPEC_ALLOW, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"),
        F::SeccompFilterFlagWaitKillableRecv => (
            FLAG_WAIT_KILLABLE_RECV,
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        ),
    }
}

fn denies(a: ScmpAction) -> bool {
    matches!(
        a,
        ScmpAction::Errno(_) | ScmpAction::KillThread | ScmpAction::KillProcess | ScmpAction::Trap
    )
}

/// Check `linux.seccomp` and build the BPF program. Nothing is installed.
/// [`compile`], remembering the result in `cache_dir` (under the state
/// root): Docker and Podman send the same ~300-rule profile for every
/// container, and compiling it for three architectures takes ~13 ms here,
/// reading it back well under 1 ms. An entry is used only if the whole
/// profile, learnrt's build and libseccomp's version are the same.
pub fn compile_cached(cfg: &LinuxSeccomp, cache_dir: &Path) -> Result<Filter, SeccompError> {
    let key = cache_key(cfg);
    let path = cache_dir.join(format!("{:016x}.json", fnv1a(key.as_bytes())));
    if let Ok(text) = std::fs::read(&path) {
        if let Ok(entry) = serde_json::from_slice::<CacheEntry>(&text) {
            if entry.key == key {
                return Ok(entry.filter);
            }
        }
    }
    let filter = compile(cfg)?;
    let entry = CacheEntry { key, filter };
    if let Ok(data) = serde_json::to_vec(&entry) {
        // Best effort: a cache we cannot write only costs time.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::create_dir_all(cache_dir).is_ok() && std::fs::write(&tmp, data).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }
    Ok(entry.filter)
}

#[derive(serde::Serialize, serde::Deserialize)]
struct CacheEntry {
    key: String,
    filter: Filter,
}

/// Everything the compiled program depends on.
fn cache_key(cfg: &LinuxSeccomp) -> String {
    let exe = std::fs::metadata("/proc/self/exe")
        .map(|m| {
            use std::os::unix::fs::MetadataExt;
            format!("{}:{}", m.size(), m.mtime())
        })
        .unwrap_or_default();
    let lib = libseccomp::ScmpVersion::current()
        .map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro))
        .unwrap_or_default();
    format!(
        "learnrt {} exe {exe} libseccomp {lib} {}",
        env!("CARGO_PKG_VERSION"),
        serde_json::to_string(cfg).unwrap_or_default()
    )
}

/// FNV-1a: a file name for the key (the key itself is compared in full).
fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

pub fn compile(cfg: &LinuxSeccomp) -> Result<Filter, SeccompError> {
    const F: &str = "linux.seccomp";
    let (default, default_name) = action(
        cfg.default_action(),
        cfg.default_errno_ret(),
        &format!("{F}.defaultErrnoRet"),
    )?;
    if default == ScmpAction::Notify {
        return Err(invalid(
            format!("{F}.defaultAction"),
            "SCMP_ACT_NOTIFY cannot be the default action: every syscall, including the ones \
             the agent needs to answer, would wait for the agent",
        ));
    }

    let mut ctx = ScmpFilterContext::new(default).map_err(lib(format!("{F}.defaultAction")))?;
    // no_new_privs is the caller's business (stage 10 sets it before us when
    // the spec asks, or it has CAP_SYS_ADMIN); libseccomp must not set it.
    ctx.set_ctl_nnp(false).map_err(lib(F))?;
    // A binary tree of syscall numbers instead of a linear list: big
    // profiles cost a few comparisons per syscall instead of hundreds.
    // Measured on a Docker-sized profile (367 rules, x86_64+x86+x32):
    // compile 13 ms (tree) vs 6.6 ms (list), but seccomp(2) 0.34 ms vs
    // 0.64 ms and far fewer instructions run on every syscall afterwards.
    ctx.set_ctl_optimize(2).map_err(lib(F))?;

    let mut summary = Summary {
        default_action: default_name,
        architectures: vec![format!("{:?} (native)", ScmpArch::native())],
        ..Summary::default()
    };

    for (i, a) in cfg.architectures().iter().flatten().enumerate() {
        let field = format!("{F}.architectures[{i}]");
        let Some(sa) = arch(*a) else {
            return Err(invalid(
                field,
                format!("{a} is not supported by the libseccomp learnrt is built with"),
            ));
        };
        if sa == ScmpArch::Native || ctx.is_arch_present(sa).unwrap_or(false) {
            continue;
        }
        match ctx.add_arch(sa) {
            Ok(_) => {}
            Err(e) if e.errno() == Some(libseccomp::error::SeccompErrno::EDOM) => {
                return Err(invalid(
                    field,
                    format!(
                        "{a} has a different byte order from this machine's {:?}; one filter \
                         covers one byte order (list only this machine's family)",
                        ScmpArch::native()
                    ),
                ))
            }
            Err(e) => return Err(lib(field)(e)),
        }
        summary.architectures.push(format!("{sa:?}"));
    }

    let mut flags = 0u32;
    for f in cfg.flags().iter().flatten() {
        let (bit, name) = flag(*f);
        flags |= bit;
        summary.flags.push(name.to_string());
    }

    let mut notify = false;
    for (i, call) in cfg.syscalls().iter().flatten().enumerate() {
        let field = format!("{F}.syscalls[{i}]");
        if call.names().is_empty() {
            return Err(invalid(format!("{field}.names"), "no syscall names given"));
        }
        let (act, act_name) = action(
            call.action(),
            call.errno_ret(),
            &format!("{field}.errnoRet"),
        )?;
        let args = call.args().as_deref().unwrap_or(&[]);
        let mut per_arg = [0usize; 6];
        let mut conds = Vec::with_capacity(args.len());
        for (j, arg) in args.iter().enumerate() {
            let idx = arg.index();
            if idx >= 6 {
                return Err(invalid(
                    format!("{field}.args[{j}].index"),
                    format!("{idx}: a syscall has 6 arguments, numbered 0 to 5"),
                ));
            }
            per_arg[idx] += 1;
            let (op, datum) = match arg.op() {
                LinuxSeccompOperator::ScmpCmpMaskedEq => (
                    operator(arg.op(), arg.value()),
                    arg.value_two().unwrap_or(0),
                ),
                o => (operator(o, arg.value()), arg.value()),
            };
            conds.push(ScmpArgCompare::new(idx as u32, op, datum));
        }
        // Same action as the default: the rule would change nothing (and
        // libseccomp refuses it). runc skips it too.
        if act == default {
            summary.redundant += call.names().len();
            continue;
        }
        notify |= act == ScmpAction::Notify;
        for (k, name) in call.names().iter().enumerate() {
            let Ok(nr) = ScmpSyscall::from_name(name) else {
                // Unknown to libseccomp (a syscall newer than it, or a typo):
                // ignored, as runc does, so one profile serves many kernels.
                if !summary.ignored.contains(name) {
                    summary.ignored.push(name.clone());
                }
                continue;
            };
            let field = format!("{field}.names[{k}]");
            if conds.is_empty() {
                ctx.add_rule(act, nr).map_err(lib(field))?;
                summary.rules += 1;
            } else if per_arg.iter().any(|&n| n > 1) {
                // Several conditions on one argument: libseccomp would AND
                // them, which can never match for `== 1 && == 2`. runc's rule
                // (kept for compatibility with Docker profiles): one rule per
                // condition, i.e. the conditions are ORed.
                for c in &conds {
                    ctx.add_rule_conditional(act, nr, std::slice::from_ref(c))
                        .map_err(lib(field.clone()))?;
                    summary.rules += 1;
                }
            } else {
                ctx.add_rule_conditional(act, nr, &conds)
                    .map_err(lib(field))?;
                summary.rules += 1;
            }
            if denies(act) {
                let when = if conds.is_empty() {
                    ""
                } else {
                    " if args match"
                };
                summary.denied.push(format!("{name} ({act_name}{when})"));
            }
        }
    }

    if notify {
        if cfg.listener_path().is_none() {
            return Err(invalid(
                format!("{F}.listenerPath"),
                "SCMP_ACT_NOTIFY is used, so a listenerPath (the seccomp agent's socket) is required",
            ));
        }
        flags |= FLAG_NEW_LISTENER;
        if flags & FLAG_TSYNC != 0 {
            // TSYNC and NEW_LISTENER both want the return value; ESRCH makes
            // a TSYNC failure an errno so the listener fd can be returned.
            flags |= FLAG_TSYNC_ESRCH;
        }
    } else if flags & FLAG_WAIT_KILLABLE_RECV != 0 {
        return Err(invalid(
            format!("{F}.flags"),
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV only makes sense with SCMP_ACT_NOTIFY rules",
        ));
    }

    let program = export(&ctx).map_err(|e| match e {
        SeccompError::Library { source, .. } => SeccompError::Library {
            field: F.into(),
            source,
        },
        e => e,
    })?;
    if program.len() > BPF_MAXINSNS {
        return Err(invalid(
            F,
            format!(
                "the filter needs {} BPF instructions, the kernel takes at most {BPF_MAXINSNS}",
                program.len()
            ),
        ));
    }
    summary.bpf_instructions = program.len();
    Ok(Filter {
        program,
        flags,
        notify,
        listener_path: cfg.listener_path().clone(),
        summary,
    })
}

/// Let libseccomp generate the program and read it back as instructions.
fn export(ctx: &ScmpFilterContext) -> Result<Vec<Insn>, SeccompError> {
    let io = |e: std::io::Error| {
        invalid(
            "linux.seccomp",
            format!("reading the BPF program back: {e}"),
        )
    };
    // SAFETY: memfd_create with a valid C string; the fd is owned below.
    let fd = unsafe { libc::memfd_create(c"learnrt-seccomp".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io(std::io::Error::last_os_error()));
    }
    // SAFETY: fd is a fresh descriptor nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    ctx.export_bpf(&fd).map_err(lib("linux.seccomp"))?;
    let mut f = std::fs::File::from(fd);
    f.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).map_err(io)?;
    Ok(bytes
        .chunks_exact(8)
        .map(|c| Insn {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect())
}

/// Kernel flag bits as `A|B`.
fn flag_names(bits: u32) -> String {
    let table = [
        (FLAG_TSYNC as u64, "SECCOMP_FILTER_FLAG_TSYNC"),
        (FLAG_LOG as u64, "SECCOMP_FILTER_FLAG_LOG"),
        (FLAG_SPEC_ALLOW as u64, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"),
        (FLAG_NEW_LISTENER as u64, "SECCOMP_FILTER_FLAG_NEW_LISTENER"),
        (FLAG_TSYNC_ESRCH as u64, "SECCOMP_FILTER_FLAG_TSYNC_ESRCH"),
        (
            FLAG_WAIT_KILLABLE_RECV as u64,
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        ),
    ];
    sys::flag_names(bits as u64, &table)
}

impl Filter {
    /// What the filter does, for `--explain`.
    pub fn summary(&self) -> Summary {
        self.summary.clone()
    }

    /// Does the profile use `SCMP_ACT_NOTIFY`? Then [`Filter::load`] returns
    /// the listener fd, to be sent to the agent at [`Filter::listener_path`].
    pub fn needs_notify(&self) -> bool {
        self.notify
    }

    /// `linux.seccomp.listenerPath`, the seccomp agent's unix socket.
    pub fn listener_path(&self) -> Option<&Path> {
        self.listener_path.as_deref()
    }

    /// Size of the program in BPF instructions.
    pub fn len(&self) -> usize {
        self.program.len()
    }

    /// Never true for a compiled filter (libseccomp always emits the arch
    /// check and the default action); here for clippy's `len` convention.
    pub fn is_empty(&self) -> bool {
        self.program.is_empty()
    }

    /// Install the filter in the calling thread (and, with
    /// `SECCOMP_FILTER_FLAG_TSYNC`, in all its threads).
    ///
    /// Must be the last thing before `execve`: from here on every syscall
    /// is filtered, including the runtime's own. The caller has set
    /// `no_new_privs` before, unless it holds CAP_SYS_ADMIN. One syscall, no
    /// allocation on success: safe in the cloned init.
    ///
    /// Returns the notification listener fd when [`Filter::needs_notify`].
    pub fn load(&self) -> Result<Option<OwnedFd>, SeccompError> {
        let prog = libc::sock_fprog {
            len: self.program.len() as u16,
            filter: self.program.as_ptr() as *mut libc::sock_filter,
        };
        let flags = self.flags;
        let r = sys::call(
            "seccomp",
            || {
                format!(
                    "SECCOMP_SET_MODE_FILTER, {}, {{len={}, filter=...}}",
                    flag_names(flags),
                    self.program.len()
                )
            },
            || {
                // SAFETY: `prog` points at `self.program`, a valid array of
                // `len` sock_filter-shaped instructions that outlives the
                // call; the kernel copies it.
                let r = unsafe {
                    libc::syscall(
                        libc::SYS_seccomp,
                        SECCOMP_SET_MODE_FILTER,
                        flags as libc::c_ulong,
                        &prog as *const libc::sock_fprog,
                    )
                };
                if r < 0 {
                    Err(Errno::last())
                } else {
                    Ok(r as i32)
                }
            },
        )
        .map_err(|source| {
            let hint = match source.errno {
                Errno::EACCES => " — set no_new_privs first (process.noNewPrivileges) or keep CAP_SYS_ADMIN until seccomp is loaded",
                Errno::EINVAL => " — this kernel does not know one of the filter flags or actions; see `learnrt features`",
                Errno::ESRCH => " — SECCOMP_FILTER_FLAG_TSYNC: another thread has a different filter",
                _ => "",
            };
            SeccompError::Load { source, hint }
        })?;
        if self.notify {
            // SAFETY: with NEW_LISTENER the kernel returns a new fd we own.
            Ok(Some(unsafe { OwnedFd::from_raw_fd(r) }))
        } else {
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> LinuxSeccomp {
        serde_json::from_value(v).expect("valid linux.seccomp")
    }

    #[test]
    fn compiled_filters_are_cached_by_their_whole_profile() {
        let dir = std::env::temp_dir().join(format!("learnrt-sc-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = parse(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}));
        let first = compile_cached(&cfg, &dir).unwrap();
        let files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        assert_eq!(files.len(), 1);
        let again = compile_cached(&cfg, &dir).unwrap();
        assert_eq!(first.program, again.program);
        // An entry whose key does not match exactly is never used.
        let mut entry: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
        entry["key"] = serde_json::json!("something else");
        entry["filter"]["program"] = serde_json::json!([]);
        std::fs::write(&files[0], entry.to_string()).unwrap();
        let third = compile_cached(&cfg, &dir).unwrap();
        assert_eq!(third.program, first.program);
        // Another profile gets its own entry.
        let other = parse(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}));
        compile_cached(&other, &dir).unwrap();
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn field_of(e: SeccompError) -> String {
        match e {
            SeccompError::Invalid { field, .. } | SeccompError::Library { field, .. } => field,
            e => panic!("unexpected {e}"),
        }
    }

    #[test]
    fn compiles_and_summarizes() {
        let f = compile(&parse(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": ["mount", "umount2", "no_such_call_xyz"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                {"names": ["kexec_load"], "action": "SCMP_ACT_KILL_PROCESS"},
                {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 0, "value": 4294967295u64, "op": "SCMP_CMP_EQ"}]}
            ]
        })))
        .unwrap();
        let s = f.summary();
        assert_eq!(s.default_action, "SCMP_ACT_ALLOW");
        assert_eq!(s.rules, 4);
        assert_eq!(s.redundant, 1);
        assert_eq!(s.ignored, vec!["no_such_call_xyz"]);
        assert!(s.denied.contains(&"mount (SCMP_ACT_ERRNO(38))".to_string()));
        assert!(s
            .denied
            .contains(&"kexec_load (SCMP_ACT_KILL_PROCESS)".to_string()));
        assert!(s
            .denied
            .contains(&"personality (SCMP_ACT_ERRNO(1) if args match)".to_string()));
        assert!(s.bpf_instructions > 10 && s.bpf_instructions == f.len());
        assert!(!f.needs_notify());
        let text = s.to_string();
        assert!(
            text.contains("unknown names (ignored): no_such_call_xyz"),
            "{text}"
        );
    }

    #[test]
    fn errno_ret_on_wrong_action_names_the_field() {
        let e = compile(&parse(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["uname"], "action": "SCMP_ACT_KILL", "errnoRet": 1}
            ]
        })))
        .unwrap_err();
        assert_eq!(field_of(e), "linux.seccomp.syscalls[1].errnoRet");
        let e = compile(&parse(
            json!({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1}),
        ))
        .unwrap_err();
        assert_eq!(field_of(e), "linux.seccomp.defaultErrnoRet");
        let e = compile(&parse(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5000}]
        })))
        .unwrap_err();
        assert_eq!(field_of(e), "linux.seccomp.syscalls[0].errnoRet");
    }

    #[test]
    fn bad_index_names_and_notify_are_errors() {
        let e = compile(&parse(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_ERRNO",
                          "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"},
                                   {"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}]}]
        })))
        .unwrap_err();
        assert_eq!(field_of(e), "linux.seccomp.syscalls[0].args[1].index");
        let e = compile(&parse(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]
        })))
        .unwrap_err();
        assert_eq!(field_of(e), "linux.seccomp.syscalls[0].names");
        let e = compile(&parse(json!({"defaultAction": "SCMP_ACT_NOTIFY"}))).unwrap_err();
        assert_eq!(field_of(e), "linux.seccomp.defaultAction");
        let e = compile(&parse(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_NOTIFY"}]
        })))
        .unwrap_err();
        assert_eq!(field_of(e), "linux.seccomp.listenerPath");
        let f = compile(&parse(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": "/run/agent.sock",
            "flags": ["SECCOMP_FILTER_FLAG_TSYNC"],
            "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_NOTIFY"}]
        })))
        .unwrap();
        assert!(f.needs_notify());
        assert_eq!(f.listener_path(), Some(Path::new("/run/agent.sock")));
        assert_eq!(f.flags, FLAG_TSYNC | FLAG_NEW_LISTENER | FLAG_TSYNC_ESRCH);
    }

    #[test]
    fn oci_spec_rejects_bad_enums_with_a_path() {
        // Bad action/op/arch/flag strings never reach compile(): oci-spec's
        // enums refuse them, and serde_path_to_error names the field.
        let cfg = json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW"},
                         {"names": ["b"], "action": "SCMP_ACT_NOPE"}]});
        let text = cfg.to_string();
        let mut de = serde_json::Deserializer::from_str(&text);
        let r: Result<LinuxSeccomp, _> = serde_path_to_error::deserialize(&mut de);
        let e = r.unwrap_err();
        assert_eq!(e.path().to_string(), "syscalls[1].action");
        for bad in [
            json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]}),
            json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_NOPE"]}),
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"],
                "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_XX"}]}]}),
        ] {
            assert!(serde_json::from_value::<LinuxSeccomp>(bad).is_err());
        }
    }

    #[test]
    fn every_listed_arch_and_action_compiles() {
        for a in ARCHS {
            let f = compile(&parse(
                json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": [a]}),
            ));
            // One filter covers one byte order: the other half of the list
            // is refused, naming the field.
            match f {
                Ok(_) => {}
                Err(e @ SeccompError::Invalid { .. }) => {
                    assert!(e.to_string().contains("byte order"), "{a}: {e}");
                    assert_eq!(field_of(e), "linux.seccomp.architectures[0]");
                }
                Err(e) => panic!("{a}: {e}"),
            }
        }
        for a in [
            "SCMP_ARCH_X86_64",
            "SCMP_ARCH_X86",
            "SCMP_ARCH_X32",
            "SCMP_ARCH_AARCH64",
            "SCMP_ARCH_ARM",
        ] {
            let f = compile(&parse(
                json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": [a]}),
            ));
            assert!(f.is_ok(), "{a}: {:?}", f.err());
        }
        for a in ACTIONS {
            let cfg = json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x",
                "syscalls": [{"names": ["uname"], "action": a}]});
            assert!(compile(&parse(cfg)).is_ok(), "{a}");
        }
        for op in OPERATORS {
            let cfg = json!({"defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 0, "value": 1, "valueTwo": 1, "op": op}]}]});
            assert!(compile(&parse(cfg)).is_ok(), "{op}");
        }
    }

    #[test]
    fn step_is_stage_11_init() {
        assert_eq!(SECCOMP.stage, 11);
        assert_eq!(SECCOMP.actor, Actor::Init);
        assert_eq!(SECCOMP.id, "seccomp");
    }

    // ---- real filters, in a forked child (no root needed: no_new_privs) ----

    /// Fork; in the child set no_new_privs, load `cfg`, run `probe` and
    /// exit with its result. Returns how the child ended.
    fn in_child(cfg: serde_json::Value, probe: fn() -> i32) -> nix::sys::wait::WaitStatus {
        use nix::unistd::{fork, ForkResult};
        let filter = compile(&parse(cfg)).unwrap();
        // SAFETY: the child only makes raw syscalls (prctl, seccomp, the
        // probe) and _exit: no allocation, no locks.
        match unsafe { fork() }.unwrap() {
            ForkResult::Child => {
                // SAFETY: integer-only prctl.
                unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
                let code = match filter.load() {
                    Ok(_) => probe(),
                    Err(_) => 100,
                };
                // SAFETY: leave without running the test harness's atexit.
                unsafe { libc::_exit(code) }
            }
            ForkResult::Parent { child } => nix::sys::wait::waitpid(child, None).unwrap(),
        }
    }

    fn errno() -> i32 {
        Errno::last() as i32
    }

    #[test]
    fn errno_action_reaches_the_child() {
        use nix::sys::wait::WaitStatus;
        let st = in_child(
            json!({"defaultAction": "SCMP_ACT_ALLOW",
                   "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}),
            || {
                let mut buf = [0u8; 256];
                // SAFETY: valid buffer.
                let r = unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) };
                if r < 0 {
                    errno()
                } else {
                    0
                }
            },
        );
        assert!(matches!(st, WaitStatus::Exited(_, 38)), "{st:?}");
    }

    #[test]
    fn kill_action_kills_with_sigsys() {
        use nix::sys::signal::Signal;
        use nix::sys::wait::WaitStatus;
        for act in ["SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS"] {
            let st = in_child(
                json!({"defaultAction": "SCMP_ACT_ALLOW",
                       "syscalls": [{"names": ["uname"], "action": act}]}),
                || {
                    // SAFETY: zeroed utsname is a valid out-buffer.
                    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
                    // SAFETY: valid pointer.
                    unsafe { libc::uname(&mut u) };
                    0
                },
            );
            assert!(
                matches!(st, WaitStatus::Signaled(_, Signal::SIGSYS, _)),
                "{act}: {st:?}"
            );
        }
    }

    #[test]
    fn arg_conditions_filter_by_value() {
        use nix::sys::wait::WaitStatus;
        // personality(0xffffffff) (the "query" call) refused; others allowed.
        let st = in_child(
            json!({"defaultAction": "SCMP_ACT_ALLOW",
                   "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                                 "args": [{"index": 0, "value": 4294967295u64, "op": "SCMP_CMP_EQ"}]}]}),
            || {
                // SAFETY: personality with plain integers.
                let denied = unsafe { libc::syscall(libc::SYS_personality, 0xffff_ffffu64) };
                if denied != -1 || errno() != libc::EPERM {
                    return 1;
                }
                // SAFETY: as above; PER_LINUX (0) is the default persona.
                let allowed = unsafe { libc::syscall(libc::SYS_personality, 0u64) };
                if allowed < 0 {
                    return 2;
                }
                0
            },
        );
        assert!(matches!(st, WaitStatus::Exited(_, 0)), "{st:?}");

        // Two conditions on arg0: ORed (runc's rule), so 1 and 2 are refused,
        // 3 is allowed. Uses getpriority(which, who) with `which` invalid
        // values so the allowed call fails with EINVAL, not EPERM.
        let st = in_child(
            json!({"defaultAction": "SCMP_ACT_ALLOW",
                   "syscalls": [{"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": 77,
                                 "args": [{"index": 0, "value": 100, "op": "SCMP_CMP_EQ"},
                                          {"index": 0, "value": 101, "op": "SCMP_CMP_EQ"}]}]}),
            || {
                for (which, want) in [(100u64, 77), (101, 77), (102, libc::EINVAL)] {
                    // SAFETY: integer arguments only.
                    unsafe { libc::syscall(libc::SYS_getpriority, which, 0u64) };
                    if errno() != want {
                        return which as i32 - 99;
                    }
                }
                0
            },
        );
        assert!(matches!(st, WaitStatus::Exited(_, 0)), "{st:?}");

        // MASKED_EQ: value is the mask, valueTwo the datum.
        let st = in_child(
            json!({"defaultAction": "SCMP_ACT_ALLOW",
                   "syscalls": [{"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": 77,
                                 "args": [{"index": 0, "value": 0xf0, "valueTwo": 0x50, "op": "SCMP_CMP_MASKED_EQ"}]}]}),
            || {
                for (which, want) in [(0x55u64, 77), (0x5f, 77), (0x65, libc::EINVAL)] {
                    // SAFETY: integer arguments only.
                    unsafe { libc::syscall(libc::SYS_getpriority, which, 0u64) };
                    if errno() != want {
                        return 1;
                    }
                }
                0
            },
        );
        assert!(matches!(st, WaitStatus::Exited(_, 0)), "{st:?}");
    }

    #[test]
    fn default_errno_action_with_allow_list() {
        use nix::sys::wait::WaitStatus;
        // An allow-list profile like Docker's: everything not listed fails.
        let st = in_child(
            json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
                   "syscalls": [{"names": ["exit_group", "exit", "getppid"], "action": "SCMP_ACT_ALLOW"}]}),
            || {
                // SAFETY: plain syscalls.
                let ok = unsafe { libc::syscall(libc::SYS_getppid) };
                // SAFETY: plain syscall.
                let refused = unsafe { libc::syscall(libc::SYS_getuid) };
                if ok > 0 && refused == -1 && errno() == libc::EPERM {
                    0
                } else {
                    1
                }
            },
        );
        assert!(matches!(st, WaitStatus::Exited(_, 0)), "{st:?}");
    }

    #[test]
    fn supported_flags_are_probed() {
        let f = supported_flags();
        // Every kernel since 3.17 knows TSYNC.
        assert!(f.contains(&"SECCOMP_FILTER_FLAG_TSYNC"), "{f:?}");
    }
}

//! One error type for the whole runtime.
//!
//! Every failure says *where* (the stage id), *what* (the syscall and its
//! arguments), the errno the kernel returned, and a hint a learner can act
//! on. The same text goes to stderr and, with `--log`, to the log file as
//! runc-style JSON, because Docker shows its users only what the log says.

use serde::{Deserialize, Serialize};

use crate::sys::SysError;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Error {
    /// Stage id (`pivot_root`, `rootfs.mounts`, ...) or the command name.
    pub stage: String,
    /// What we were doing, in words.
    pub msg: String,
    /// The failing syscall as the trace shows it, when there is one.
    pub syscall: Option<String>,
    /// Symbolic errno (`EINVAL`).
    pub errno: Option<String>,
    /// What to check or do about it.
    pub hint: Option<String>,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(stage: &str, msg: impl Into<String>) -> Self {
        Error {
            stage: stage.to_string(),
            msg: msg.into(),
            syscall: None,
            errno: None,
            hint: None,
        }
    }

    /// A failed syscall in a stage. The hint comes from [`hint_for`] unless
    /// the caller gives a better one with [`Error::hint`].
    pub fn sys(stage: &str, msg: impl Into<String>, e: SysError) -> Self {
        let errno = format!("{:?}", e.errno);
        Error {
            stage: stage.to_string(),
            msg: msg.into(),
            syscall: Some(format!("{}({})", e.syscall, e.args)),
            hint: hint_for(e.syscall, &errno).map(str::to_string),
            errno: Some(errno),
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The errno name, if the failure came from a syscall.
    pub fn errno_is(&self, name: &str) -> bool {
        self.errno.as_deref() == Some(name)
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.stage, self.msg)?;
        if let Some(s) = &self.syscall {
            write!(f, ": {s} failed")?;
        }
        if let Some(e) = &self.errno {
            let desc = errno_desc(e);
            write!(f, ": {e}")?;
            if !desc.is_empty() {
                write!(f, " ({desc})")?;
            }
        }
        if let Some(h) = &self.hint {
            write!(f, " — {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

fn errno_desc(name: &str) -> &'static str {
    // Errno names come from nix's Debug output: map back for the text.
    for e in [
        nix::errno::Errno::EPERM,
        nix::errno::Errno::ENOENT,
        nix::errno::Errno::EINVAL,
        nix::errno::Errno::EACCES,
        nix::errno::Errno::EBUSY,
        nix::errno::Errno::EEXIST,
        nix::errno::Errno::ENOTDIR,
        nix::errno::Errno::ENOSPC,
        nix::errno::Errno::EROFS,
        nix::errno::Errno::ESRCH,
        nix::errno::Errno::ENOEXEC,
        nix::errno::Errno::ENOSYS,
        nix::errno::Errno::EBADF,
        nix::errno::Errno::ELOOP,
        nix::errno::Errno::ENODEV,
        nix::errno::Errno::EISDIR,
    ] {
        if format!("{e:?}") == name {
            return e.desc();
        }
    }
    ""
}

/// Hints for the failures learners meet most, by syscall and errno.
pub fn hint_for(syscall: &str, errno: &str) -> Option<&'static str> {
    Some(match (syscall, errno) {
        ("pivot_root", "EINVAL") => "the new root must be a mount point and not on a shared mount; learnrt bind-mounts the rootfs first and makes / slave (see rootfsPropagation). Is the rootfs on a filesystem pivot_root cannot use (ramfs/initramfs)? Try --no-pivot",
        ("pivot_root", "EBUSY") => "the new root or the put-old directory is already a mount that is busy",
        ("mount", "ENOENT") => "the mount source or target does not exist; check the path in config.json (and inside the rootfs)",
        ("mount", "EPERM") => "mounting needs CAP_SYS_ADMIN in the mount namespace's user namespace; some filesystems (sysfs, proc) also need their own namespace (net, pid) when run in a user namespace",
        ("mount", "ENODEV") => "the kernel does not know this filesystem type",
        ("mount", "EBUSY") => "something is already mounted there or the source is in use",
        ("mount", "EINVAL") => "a flag or option is not valid for this filesystem, or the source is not a mount (for propagation changes)",
        ("mknod", "EPERM") => "creating device nodes needs CAP_MKNOD and is not allowed in a user namespace; bind-mount the host's device instead",
        ("setns", "EINVAL") => "the file is not a namespace of the expected type",
        ("setns", "EPERM") => "joining a namespace needs CAP_SYS_ADMIN over it",
        ("unshare", "EPERM") | ("clone3", "EPERM") => "creating namespaces needs CAP_SYS_ADMIN (user namespaces may be disabled by sysctl)",
        ("clone3", "EINVAL") => "a combination of namespace flags the kernel refuses (e.g. a new user namespace inside a chroot)",
        ("execve", "ENOENT") => "the program (or its ELF interpreter/dynamic loader) does not exist inside the rootfs",
        ("execve", "EACCES") => "the program is not executable, or its filesystem is mounted noexec",
        ("execve", "ENOEXEC") => "the file is not a program this kernel can run (wrong architecture, or a script without #!)",
        ("sethostname", "EPERM") => "setting the hostname needs its own UTS namespace (add {\"type\": \"uts\"} to linux.namespaces)",
        ("prlimit64", "EPERM") => "raising a hard limit needs CAP_SYS_RESOURCE, which this machine's capability bounding set may lack",
        ("prctl", "EPERM") => "changing capabilities needs CAP_SETPCAP",
        ("write", "EACCES") | ("write", "EPERM") => "the kernel refused the write: is the file read-only (e.g. /proc/sys in a read-only mount) or owned by another user namespace?",
        ("chdir", "ENOENT") => "process.cwd does not exist inside the rootfs",
        _ => return None,
    })
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::new("io", e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::errno::Errno;

    #[test]
    fn names_stage_syscall_errno_and_hint() {
        let e = Error::sys(
            "pivot_root",
            "move into the new root",
            SysError {
                syscall: "pivot_root",
                args: "\".\", \".\"".into(),
                errno: Errno::EINVAL,
            },
        );
        let s = e.to_string();
        assert!(s.starts_with("pivot_root: move into the new root: pivot_root(\".\", \".\") failed: EINVAL (Invalid argument) — the new root must be a mount point"), "{s}");
    }
}

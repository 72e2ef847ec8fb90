//! One error type for everything cgroups: each variant says what failed, on
//! which path, with which errno, and gives a hint a learner can act on.

use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::sys::SysError;

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// No cgroup filesystem in /proc/self/mountinfo.
    #[error("no cgroup filesystem found in {source_name}: {reason} — mount cgroup2 on /sys/fs/cgroup (pure v2) or the v1 controllers under /sys/fs/cgroup/<controller>")]
    NoCgroupFs { source_name: String, reason: String },

    /// A file we had to read could not be read.
    #[error("read {}: {} — {hint}", path.display(), show_errno(*errno))]
    Read {
        path: PathBuf,
        errno: Errno,
        hint: String,
    },

    /// A cgroup file could not be written.
    #[error("write {} <- {value:?}: {} — {hint}", path.display(), show_errno(*errno))]
    Write {
        path: PathBuf,
        value: String,
        errno: Errno,
        hint: String,
    },

    /// mkdir of a cgroup directory failed.
    #[error("mkdir {}: {} — {hint}", path.display(), show_errno(*errno))]
    Mkdir {
        path: PathBuf,
        errno: Errno,
        hint: String,
    },

    /// rmdir of a cgroup directory failed.
    #[error("rmdir {}: {} — {hint}", path.display(), show_errno(*errno))]
    Rmdir {
        path: PathBuf,
        errno: Errno,
        hint: String,
    },

    /// `linux.cgroupsPath` is not usable.
    #[error("linux.cgroupsPath {path:?}: {reason}")]
    InvalidPath { path: String, reason: String },

    /// A value in `linux.resources` is out of range or inconsistent.
    #[error("{field}: {reason}")]
    InvalidValue { field: String, reason: String },

    /// The host cannot apply a limit the config asks for.
    #[error("{field}: {reason}")]
    Unsupported { field: String, reason: String },

    /// The target cgroup already holds processes (another container?).
    #[error("cgroup {} already holds processes {pids:?} — another container (or a leftover process) uses this cgroup; pick another linux.cgroupsPath or stop those processes", path.display())]
    Busy { path: PathBuf, pids: Vec<i32> },

    /// The freezer did not reach FROZEN in time.
    #[error("freeze {}: still {state:?} after {waited_ms} ms — a process may be stuck in an uninterruptible sleep (D state, e.g. on NFS or a FUSE mount); the cgroup was thawed again", path.display())]
    FreezeTimeout {
        path: PathBuf,
        state: String,
        waited_ms: u64,
    },
}

/// `EBUSY (Device or resource busy)`.
pub fn show_errno(e: Errno) -> String {
    format!("{e:?} ({})", e.desc())
}

/// The name of the last path component (`memory.limit_in_bytes`).
fn file_name(path: &Path) -> &str {
    path.file_name().and_then(|s| s.to_str()).unwrap_or("")
}

/// A hint for a failed write, from the file name and the errno.
pub fn write_hint(path: &Path, errno: Errno) -> String {
    let f = file_name(path);
    let h = match (errno, f) {
        (Errno::EBUSY, "memory.limit_in_bytes" | "memory.memsw.limit_in_bytes") => {
            "the new limit is below current usage; the kernel could not reclaim enough memory"
        }
        (Errno::EINVAL, "memory.memsw.limit_in_bytes") => {
            "memory+swap must be >= memory.limit_in_bytes; set linux.resources.memory.swap >= limit"
        }
        (Errno::EINVAL, "memory.limit_in_bytes") => {
            "memory.limit_in_bytes must be <= memory.memsw.limit_in_bytes (the memory+swap limit)"
        }
        (Errno::EOPNOTSUPP, _) if f.starts_with("memory.kmem") => {
            "this kernel no longer supports kernel-memory limits (removed in Linux 6.x)"
        }
        (Errno::EINVAL, "cpu.cfs_quota_us" | "cpu.cfs_period_us" | "cpu.max") => {
            "the quota must be >= 1000 µs (or -1) and the period between 1000 and 1000000 µs; a child's quota must fit in its parent's"
        }
        (Errno::EINVAL | Errno::EBUSY, "cpu.rt_runtime_us" | "cpu.rt_period_us") => {
            "real-time runtime must fit inside the parent's budget (cpu.rt_runtime_us of the parent cgroup) and be <= the period"
        }
        (Errno::EINVAL | Errno::ENOSPC, "cpuset.cpus" | "cpuset.mems") => {
            "the CPU / memory-node list must be a subset of the parent's (cpuset.effective_cpus / cpuset.effective_mems)"
        }
        (Errno::ENOSPC, "cgroup.procs") => {
            "the cgroup's cpuset.cpus or cpuset.mems is empty, so no process may live in it"
        }
        (Errno::EBUSY, "cgroup.procs") => {
            "cgroup v2 'no internal processes' rule: a cgroup that hands controllers to children (cgroup.subtree_control) cannot hold processes itself"
        }
        (Errno::ESRCH, "cgroup.procs") => "the process has already exited",
        (Errno::EBUSY, "cgroup.subtree_control") => {
            "this cgroup holds processes; cgroup v2 only lets a cgroup without processes enable controllers for its children"
        }
        (Errno::EINVAL, "devices.allow" | "devices.deny") => {
            "malformed device rule (expected 'type major:minor access', e.g. 'c 1:3 rwm')"
        }
        (Errno::EPERM, "devices.allow") => {
            "a child cgroup cannot allow a device its parent denies"
        }
        (Errno::ENOENT, _) => {
            "the file does not exist: this kernel lacks the feature, or the controller is not enabled for this cgroup"
        }
        (Errno::EACCES | Errno::EPERM | Errno::EROFS, _) => {
            "permission denied: is learnrt running as root, and is the cgroup filesystem mounted read-write?"
        }
        (Errno::EINVAL, _) => "the kernel rejected the value as invalid for this file",
        (Errno::ERANGE, _) => "the value is out of the range this file accepts",
        _ => "see cgroups(7) and the kernel's cgroup documentation for this file",
    };
    h.to_string()
}

pub fn mkdir_hint(errno: Errno) -> String {
    match errno {
        Errno::EACCES | Errno::EPERM | Errno::EROFS => {
            "permission denied: is learnrt running as root, and is the cgroup filesystem mounted read-write?"
        }
        Errno::ENOENT => "a parent directory is missing: is the controller still mounted?",
        Errno::EAGAIN | Errno::ENOSPC => {
            "too many cgroups (cgroup.max.descendants / cgroup.max.depth reached)"
        }
        _ => "see cgroups(7)",
    }
    .to_string()
}

pub fn rmdir_hint(errno: Errno) -> String {
    match errno {
        Errno::EBUSY => {
            "the cgroup still holds processes (or child cgroups); kill them first (learnrt kill) and retry"
        }
        Errno::ENOTEMPTY => "the cgroup still has child cgroups",
        _ => "see cgroups(7)",
    }
    .to_string()
}

pub fn read_hint(errno: Errno) -> String {
    match errno {
        Errno::ENOENT => {
            "the file does not exist: the cgroup is gone or the controller lacks this feature"
        }
        _ => "see cgroups(7)",
    }
    .to_string()
}

impl CgroupError {
    /// Turn a failed `sys.write_file` into a [`CgroupError::Write`].
    pub fn from_write(path: &Path, value: &str, e: SysError) -> Self {
        CgroupError::Write {
            path: path.to_path_buf(),
            value: value.to_string(),
            errno: e.errno,
            hint: write_hint(path, e.errno),
        }
    }

    pub fn from_read(path: &Path, e: std::io::Error) -> Self {
        let errno = crate::sys::io_errno(e);
        CgroupError::Read {
            path: path.to_path_buf(),
            errno,
            hint: read_hint(errno),
        }
    }

    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        CgroupError::InvalidValue {
            field: field.to_string(),
            reason: reason.into(),
        }
    }

    pub fn unsupported(field: &str, reason: impl Into<String>) -> Self {
        CgroupError::Unsupported {
            field: field.to_string(),
            reason: reason.into(),
        }
    }

    /// The errno behind this error, if a syscall failed.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            CgroupError::Read { errno, .. }
            | CgroupError::Write { errno, .. }
            | CgroupError::Mkdir { errno, .. }
            | CgroupError::Rmdir { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

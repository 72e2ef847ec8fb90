//! THE HEART: one file per stage, in the order the kernel sees them.
//!
//! | n  | file            | who     | what                                             |
//! |----|-----------------|---------|--------------------------------------------------|
//! | 1  | bundle.rs       | runtime | read + validate config.json, find the rootfs     |
//! | 2  | namespaces.rs   | both    | clone3 with CLONE_NEW*; setns for given paths    |
//! | 3  | idmap.rs        | runtime | uid_map / gid_map for a user namespace           |
//! | 4  | cgroups.rs      | both    | create, limit, join; new cgroup namespace        |
//! | 5  | rootfs.rs       | init    | propagation, bind rootfs, every config mount     |
//! | 6  | devices.rs      | init    | device nodes, /dev symlinks, ptmx                |
//! | 7  | hooks.rs        | both    | prestart, createRuntime, createContainer         |
//! | 8  | pivot_root.rs   | init    | pivot into the rootfs, detach the old root       |
//! | 9  | finish.rs       | init    | sysctl, hostname, read-only + masked paths       |
//! | 10 | process.rs      | init    | console, rlimits, user, capabilities, cwd, fds   |
//! | 11 | exec.rs         | init    | wait for start, no_new_privs, seccomp, execve    |
//! |    | teardown.rs     | runtime | kill, delete                                     |
//!
//! Init-side stages take a [`Ctx`] whose `sys` is the real kernel in the
//! runtime and the recording double in unit tests.

pub mod bundle;
pub mod cgroups;
pub mod devices;
pub mod exec;
pub mod finish;
pub mod hooks;
pub mod idmap;
pub mod namespaces;
pub mod pivot_root;
pub mod process;
pub mod rootfs;
pub mod teardown;
#[cfg(test)]
mod tests;

use std::path::PathBuf;

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::sys::Sys;

/// What the init-side stages work on.
pub struct Ctx<'a> {
    pub sys: &'a dyn Sys,
    pub spec: &'a Spec,
    /// The rootfs on the host (before pivot_root).
    pub rootfs: PathBuf,
    pub no_pivot: bool,
    /// The init's pid on the host (for hook state).
    pub host_pid: i32,
    pub id: String,
    pub bundle: PathBuf,
    /// The channel to the learnrt command (pty master goes over it).
    pub chan_fd: i32,
    pub preserve_fds: u32,
}

impl Ctx<'_> {
    pub fn has_ns(&self, t: LinuxNamespaceType) -> bool {
        has_ns(self.spec, t)
    }
    pub fn process(&self) -> &oci_spec::runtime::Process {
        self.spec
            .process()
            .as_ref()
            .expect("bundle stage checked process")
    }
}

pub fn has_ns(spec: &Spec, t: LinuxNamespaceType) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|v| v.iter().any(|n| n.typ() == t))
}

/// `linux.namespaces[i]` for the namespace of type `t`, for `from:` lines.
pub fn ns_index(spec: &Spec, t: LinuxNamespaceType) -> Option<usize> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .and_then(|v| v.iter().position(|n| n.typ() == t))
}

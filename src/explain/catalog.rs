//! Every step, in the order a container is made. `learnrt explain`, the
//! `--explain` renderer and the book read this list; each entry lives
//! beside the code that performs it.

use super::Step;
use crate::stages::{
    bundle, cgroups, devices, exec, finish, hooks, idmap, namespaces, pivot_root, process, rootfs,
    teardown,
};

/// All steps, in execution order.
pub static ALL: &[&Step] = &[
    &bundle::BUNDLE,
    &namespaces::NAMESPACES,
    &namespaces::JOIN,
    &namespaces::TIME,
    &idmap::IDMAP,
    &idmap::BECOME_ROOT,
    &cgroups::CGROUPS,
    &crate::cgroups::devices_bpf::DEVICES_BPF,
    &cgroups::CGROUP_NS,
    &rootfs::PROPAGATION,
    &rootfs::BIND,
    &rootfs::MOUNTS,
    &devices::DEVICES,
    &hooks::CREATE_RUNTIME,
    &hooks::CREATE_CONTAINER,
    &pivot_root::PIVOT_ROOT,
    &finish::SYSCTL,
    &finish::HOSTNAME,
    &finish::PATHS,
    &process::CONSOLE,
    &process::SESSION,
    &process::SCHED,
    &process::RLIMITS,
    &process::BOUNDING,
    &process::USER,
    &process::CAPS,
    &process::CWD,
    &exec::START_WAIT,
    &hooks::START_CONTAINER,
    &exec::NO_NEW_PRIVS,
    &crate::seccomp::SECCOMP,
    &exec::EXEC,
    &hooks::POSTSTART,
    &teardown::STATE,
    &teardown::KILL,
    &teardown::DELETE,
    &hooks::POSTSTOP,
];

pub fn find(id: &str) -> Option<&'static Step> {
    ALL.iter().copied().find(|s| s.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_is_explained() {
        let mut ids = std::collections::HashSet::new();
        for s in ALL {
            assert!(ids.insert(s.id), "duplicate step id {}", s.id);
            assert!(!s.title.is_empty(), "{} has no title", s.id);
            assert!(
                s.why.split('.').count() >= 2,
                "{}: why should be sentences",
                s.id
            );
            assert!(!s.man.is_empty(), "{} has no man page", s.id);
            assert!(!s.shell.is_empty(), "{} has no shell twin", s.id);
            assert!((1..=super::super::STAGES).contains(&s.stage), "{}", s.id);
        }
    }

    #[test]
    fn stages_are_in_order() {
        let mut last = 0;
        for s in ALL {
            assert!(
                s.stage >= last,
                "{} (stage {}) comes after stage {}",
                s.id,
                s.stage,
                last
            );
            last = s.stage;
        }
    }
}

//! Stage 4 — cgroups: the container's resource limits, and its own cgroup
//! namespace.

use oci_spec::runtime::Spec;

use crate::error::{Error, Result};
use crate::explain::{self, Actor, Step};
use crate::state::State;
use crate::sys::Sys;

pub const CGROUP_NS: Step = Step {
    id: "cgroups.ns",
    stage: 4,
    title: "enter a new cgroup namespace",
    why: "With its own cgroup namespace the container sees its cgroup as the root `/` in /proc/self/cgroup and in a cgroup mount, and cannot see the host's tree. It must be made after the init has joined its cgroup: the namespace's root is the cgroup the process is in at that moment.",
    man: &["cgroup_namespaces(7)", "unshare(2)"],
    shell: "unshare --cgroup sh",
    config: &["linux.namespaces[type=cgroup]"],
    look: &["cat /proc/{pid}/cgroup"],
    actor: Actor::Init,
};

/// Init side: make the cgroup namespace once we are in our cgroup.
pub fn new_namespace(sys: &dyn Sys, wanted: bool, spec: &Spec) -> Result<()> {
    if !wanted {
        return Ok(());
    }
    let from: Vec<String> =
        crate::stages::ns_index(spec, oci_spec::runtime::LinuxNamespaceType::Cgroup)
            .map(|i| format!("linux.namespaces[{i}]"))
            .into_iter()
            .collect();
    explain::run_stage(&CGROUP_NS, &from, || {
        sys.unshare(libc::CLONE_NEWCGROUP)
            .map_err(|e| Error::sys(CGROUP_NS.id, "make a cgroup namespace", e))
    })
}

pub use crate::cgroups::{Cgroup, CGROUPS, FREEZE, THAW};

/// Runtime side: resolve, create and limit the container's cgroup and move
/// the init (`pid`) into it. Returns the cgroup for the state file.
pub fn setup(sys: &dyn Sys, spec: &Spec, id: &str, pid: i32) -> Result<Cgroup> {
    let linux = spec.linux().as_ref();
    let path = linux
        .and_then(|l| l.cgroups_path().as_ref())
        .map(|p| p.to_string_lossy().into_owned());
    let from = vec![
        "linux.cgroupsPath".to_string(),
        "linux.resources".to_string(),
    ];
    let g = explain::stage(&CGROUPS, &from)?;
    let r = (|| {
        let err = |e: crate::cgroups::CgroupError| Error::new(CGROUPS.id, e.to_string());
        let layout = crate::cgroups::detect().map_err(err)?;
        let self_cg = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let mut cg = Cgroup::resolve(&layout, path.as_deref(), id, &self_cg).map_err(err)?;
        explain::note(|| format!("{} layout; cgroup {}", layout.name(), cg.path));
        if let Some(res) = linux.and_then(|l| l.resources().as_ref()) {
            crate::cgroups::validate(&layout, res).map_err(err)?;
        }
        cg.create(sys).map_err(err)?;
        let applied = (|| {
            if let Some(res) = linux.and_then(|l| l.resources().as_ref()) {
                for w in cg.apply(sys, res).map_err(err)? {
                    crate::logging::warn(&w);
                }
            }
            cg.add_pid(sys, pid).map_err(err)
        })();
        if let Err(e) = applied {
            let _ = cg.destroy(sys);
            return Err(e);
        }
        Ok(cg)
    })();
    if r.is_err() {
        g.failed();
    }
    r
}

/// The container's cgroup from its state file.
pub fn of(st: &State) -> Option<Cgroup> {
    st.cgroup
        .as_ref()
        .and_then(|v| serde_json::from_value(v.clone()).ok())
}

/// Is the container frozen (`learnrt pause`)?
pub fn is_paused(st: &State) -> bool {
    of(st).is_some_and(|c| c.is_frozen())
}

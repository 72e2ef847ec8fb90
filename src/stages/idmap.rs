//! Stage 3 — id maps: who the container's users are on the host.

use std::path::PathBuf;

use oci_spec::runtime::{LinuxIdMapping, Spec};

use crate::error::{Error, Result};
use crate::explain::{self, Actor, Step};
use crate::sys::Sys;

pub const IDMAP: Step = Step {
    id: "idmap",
    stage: 3,
    title: "write uid_map and gid_map for the user namespace",
    why: "In a new user namespace every id starts unmapped (shown as 65534, nobody). The parent, from outside, writes which container ids stand for which host ids: `0 100000 65536` makes root inside the container the unprivileged user 100000 outside. Only the parent can do it, and only once.",
    man: &["user_namespaces(7)", "newuidmap(1)"],
    shell: "echo '0 100000 65536' > /proc/$PID/uid_map; echo '0 100000 65536' > /proc/$PID/gid_map",
    config: &["linux.uidMappings", "linux.gidMappings"],
    look: &["cat /proc/{pid}/uid_map /proc/{pid}/gid_map"],
    actor: Actor::Runtime,
};

fn render(m: &[LinuxIdMapping]) -> String {
    m.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Write the maps of the freshly cloned init (`pid`), only when a new user
/// namespace was made.
pub fn run(sys: &dyn Sys, spec: &Spec, pid: i32, new_userns: bool) -> Result<()> {
    if !new_userns {
        return Ok(());
    }
    let linux = spec.linux().as_ref();
    let uid = linux
        .and_then(|l| l.uid_mappings().clone())
        .unwrap_or_default();
    let gid = linux
        .and_then(|l| l.gid_mappings().clone())
        .unwrap_or_default();
    let from = vec![
        "linux.uidMappings".to_string(),
        "linux.gidMappings".to_string(),
    ];
    explain::run_stage(&IDMAP, &from, || {
        if uid.is_empty() || gid.is_empty() {
            return Err(Error::new(IDMAP.id, "a user namespace needs linux.uidMappings and linux.gidMappings")
                .hint("add e.g. \"uidMappings\": [{\"containerID\": 0, \"hostID\": 100000, \"size\": 65536}]"));
        }
        let base = PathBuf::from(format!("/proc/{pid}"));
        sys.write_file(&base.join("uid_map"), &render(&uid))
            .map_err(|e| Error::sys(IDMAP.id, "write uid_map", e))?;
        sys.write_file(&base.join("gid_map"), &render(&gid))
            .map_err(|e| Error::sys(IDMAP.id, "write gid_map", e))?;
        Ok(())
    })
}

pub const BECOME_ROOT: Step = Step {
    id: "idmap.root",
    stage: 3,
    title: "become root of the new user namespace",
    why: "A process born in a new user namespace keeps its host credentials, which mean nothing there until the maps exist: it shows up as the overflow id 65534. Once the parent has written the maps, setresgid(0)/setresuid(0) make it the namespace's root — with full capabilities over the namespace's resources, and none over the host's.",
    man: &["user_namespaces(7)", "setresuid(2)"],
    shell: "unshare --user --map-root-user id",
    config: &["linux.uidMappings"],
    look: &["grep -E '^(Uid|Gid)' /proc/{pid}/status"],
    actor: Actor::Init,
};

/// Init side, in a new user namespace once the maps are written.
pub fn become_root(sys: &dyn Sys) -> Result<()> {
    explain::run_stage(&BECOME_ROOT, &[], || {
        sys.setresgid(0).map_err(|e| {
            Error::sys(BECOME_ROOT.id, "become gid 0", e)
                .hint("is container gid 0 in linux.gidMappings?")
        })?;
        sys.setresuid(0).map_err(|e| {
            Error::sys(BECOME_ROOT.id, "become uid 0", e)
                .hint("is container uid 0 in linux.uidMappings?")
        })
    })
}

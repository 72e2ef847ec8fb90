//! `learnrt pause` / `resume`: freeze and thaw the container's cgroup.

use crate::error::{Error, Result};
use crate::state::{Root, Status};
use crate::sys::Linux;

fn cgroup(
    root: &Root,
    id: &str,
) -> Result<(
    crate::state::Lock,
    crate::state::State,
    crate::stages::cgroups::Cgroup,
)> {
    let (lock, st) = root.open(id)?;
    let cg = crate::stages::cgroups::of(&st)
        .ok_or_else(|| Error::new("pause", format!("container {id} has no cgroup to freeze")))?;
    Ok((lock, st, cg))
}

pub fn pause(root: &Root, id: &str) -> Result<i32> {
    let (_l, st, cg) = cgroup(root, id)?;
    match st.status(&root.container_dir(id)) {
        Status::Running | Status::Created => {}
        s => {
            return Err(Error::new(
                "pause",
                format!("container {id} is not running (status: {})", s.as_str()),
            ))
        }
    }
    crate::explain::run_stage(&crate::stages::cgroups::FREEZE, &[], || {
        cg.freeze(&Linux)
            .map_err(|e| Error::new("pause", e.to_string()))
    })?;
    Ok(0)
}

pub fn resume(root: &Root, id: &str) -> Result<i32> {
    let (_l, st, cg) = cgroup(root, id)?;
    if st.status(&root.container_dir(id)) != Status::Paused {
        return Err(Error::new(
            "resume",
            format!("container {id} is not paused"),
        ));
    }
    crate::explain::run_stage(&crate::stages::cgroups::THAW, &[], || {
        cg.thaw(&Linux)
            .map_err(|e| Error::new("resume", e.to_string()))
    })?;
    Ok(0)
}

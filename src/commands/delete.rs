//! `learnrt delete`: kill what is left, remove cgroup and state.

use crate::error::Result;
use crate::state::Root;

pub fn run(root: &Root, id: &str, force: bool) -> Result<i32> {
    crate::process::delete(root, id, force)?;
    Ok(0)
}

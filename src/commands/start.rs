//! `learnrt start`: release a created container's init.

use crate::error::Result;
use crate::explain::Settings;
use crate::state::Root;

pub fn run(root: &Root, id: &str, settings: &Settings) -> Result<i32> {
    crate::process::start(root, id, settings)?;
    Ok(0)
}

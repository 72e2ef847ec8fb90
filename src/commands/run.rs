//! `learnrt run`: create + start, then (unless -d) wait, forward signals
//! and the terminal, delete, and exit with the container's exit code.

use crate::cli::CreateArgs;
use crate::error::Result;
use crate::explain::Settings;
use crate::process;
use crate::state::Root;

pub fn run(
    root: &Root,
    a: CreateArgs,
    detach: bool,
    keep: bool,
    settings: &Settings,
) -> Result<i32> {
    let id = a.id.clone();
    if !detach {
        crate::process::tty::block_forwarded();
    }
    let c = process::create(root, &super::create::opts(a, !detach), settings)?;
    if let Err(e) = process::start(root, &id, settings) {
        let _ = process::delete(root, &id, true);
        return Err(e);
    }
    if detach {
        return Ok(0);
    }
    let code = process::wait_foreground(c.pid, c.pty);
    if !keep {
        process::delete(root, &id, true)?;
    }
    Ok(code)
}

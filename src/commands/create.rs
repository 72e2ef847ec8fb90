//! `learnrt create`: every stage up to "wait for start".

use crate::cli::CreateArgs;
use crate::error::Result;
use crate::explain::Settings;
use crate::process::{self, CreateOpts};
use crate::state::Root;

pub fn opts(a: CreateArgs, foreground: bool) -> CreateOpts {
    CreateOpts {
        id: a.id,
        bundle: a.bundle,
        pid_file: a.pid_file,
        console_socket: a.console_socket,
        no_pivot: a.no_pivot,
        preserve_fds: a.preserve_fds,
        foreground,
    }
}

pub fn run(root: &Root, a: CreateArgs, settings: &Settings) -> Result<i32> {
    let c = process::create(root, &opts(a, false), settings)?;
    crate::explain::note(|| {
        format!(
            "created: init pid {} waits in {}/notify.sock for `learnrt start`",
            c.pid,
            c.dir.display()
        )
    });
    Ok(0)
}

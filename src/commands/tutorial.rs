//! `learnrt tutorial`: the README's main job.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub fn run(yes: bool, dir: PathBuf, root: &Path) -> Result<i32> {
    crate::tutorial::run(crate::tutorial::TutorialOpts {
        dir,
        yes,
        root: Some(root.to_path_buf()),
    })
    .map_err(|e| Error::new("tutorial", e))
}

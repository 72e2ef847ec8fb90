//! Stage 1 — bundle: read config.json and find the root filesystem.

use std::path::Path;

use crate::bundle::Bundle;
use crate::error::Result;
use crate::explain::{self, Actor, Step};

pub const BUNDLE: Step = Step {
    id: "bundle",
    stage: 1,
    title: "read config.json and find the root filesystem",
    why: "A low-level runtime gets no image, only a bundle: a directory with config.json (what to run and how to isolate it) and the root filesystem it names in root.path. Everything later stages do comes from this file, so it is checked first: a mistake found now costs nothing to undo.",
    man: &["runtime-spec: bundle.md, config.md"],
    shell: "cat config.json | jq .root,.process.args",
    config: &["ociVersion", "root.path", "process", "mounts", "linux"],
    look: &["cat config.json   # in the bundle directory"],
    actor: Actor::Runtime,
};

pub fn run(dir: &Path) -> Result<Bundle> {
    explain::run_stage(&BUNDLE, &[], || {
        let b = crate::bundle::load(dir)?;
        explain::note(|| format!("bundle {} → rootfs {}", b.dir.display(), b.rootfs.display()));
        explain::note(|| {
            format!(
                "process.args = {:?}",
                b.spec
                    .process()
                    .as_ref()
                    .and_then(|p| p.args().clone())
                    .unwrap_or_default()
            )
        });
        Ok(b)
    })
}

//! `learnrt mkbundle DIR`: a busybox bundle, offline.

use std::path::Path;

use crate::error::{Error, Result};

pub fn run(dir: &Path, terminal: bool) -> Result<i32> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::new("mkbundle", format!("{}: {e}", dir.display())))?;
    let src = crate::mkbundle::build_rootfs(&dir.join("rootfs"))
        .map_err(|e| Error::new("mkbundle", e))?;
    let mut spec = crate::spec_default::default_spec(false);
    spec["process"]["terminal"] = serde_json::json!(terminal);
    std::fs::write(
        dir.join("config.json"),
        crate::spec_default::render_spec(&spec),
    )?;
    let from = match src {
        crate::mkbundle::Source::BusyboxStatic(p) => format!("busybox-static ({})", p.display()),
        crate::mkbundle::Source::Host => "the host's own binaries and libraries".to_string(),
    };
    eprintln!(
        "bundle ready in {}: rootfs from {from}, config.json with terminal {terminal}",
        dir.display()
    );
    Ok(0)
}

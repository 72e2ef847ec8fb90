//! `learnrt spec`: write runc's default config.json (hostname "learnrt").

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::spec_default;

pub fn run(bundle: Option<PathBuf>, rootless: bool) -> Result<i32> {
    let dir = bundle.unwrap_or_else(|| PathBuf::from("."));
    let path = dir.join("config.json");
    if path.exists() {
        return Err(Error::new(
            "spec",
            format!("File {} exists. Remove it first", path.display()),
        ));
    }
    let spec = spec_default::default_spec(rootless);
    if crate::sys::tracing_on() {
        explain_defaults();
    }
    std::fs::write(&path, spec_default::render_spec(&spec))
        .map_err(|e| Error::new("spec", format!("write {}: {e}", path.display())))?;
    Ok(0)
}

/// `learnrt --explain spec`: what every default in config.json means.
fn explain_defaults() {
    let color = crate::explain::render::color_wanted();
    eprintln!("config.json, field by field (runtime-spec config.md):\n");
    for (path, meaning) in spec_default::explain_defaults() {
        if color {
            use owo_colors::OwoColorize;
            eprintln!("  {}", path.bold().cyan());
        } else {
            eprintln!("  {path}");
        }
        eprintln!("      {meaning}");
    }
}

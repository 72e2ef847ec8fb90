//! The OCI bundle: `config.json` plus the root filesystem it names.
//!
//! Parsing is tolerant where the runtime-spec asks runtimes to be: unknown
//! capability names are dropped with a warning (config.md: runtimes SHOULD
//! NOT fail on them; runc warns and goes on), and any ociVersion 1.x is
//! accepted. Everything else that is wrong is an error naming the JSON path
//! of the bad field.

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use crate::error::{Error, Result};

pub struct Bundle {
    /// Absolute path of the bundle directory.
    pub dir: PathBuf,
    pub spec: Spec,
    /// Absolute path of the root filesystem on the host.
    pub rootfs: PathBuf,
    /// Things we accepted but want the user to know about.
    pub warnings: Vec<String>,
}

const STAGE: &str = "bundle";

/// Read and validate `<dir>/config.json`.
pub fn load(dir: &Path) -> Result<Bundle> {
    let dir = std::fs::canonicalize(dir).map_err(|e| {
        Error::new(STAGE, format!("bundle directory {}: {e}", dir.display()))
            .hint("pass the directory that holds config.json with --bundle/-b, or cd into it")
    })?;
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::new(STAGE, format!("cannot read {}: {e}", path.display()))
            .hint("a bundle needs a config.json: `learnrt spec` writes a default one")
    })?;
    let (spec, warnings) = parse(&text)?;
    let root = spec.root().as_ref().ok_or_else(|| {
        Error::new(STAGE, "config.json has no \"root\"")
            .hint("add \"root\": {\"path\": \"rootfs\"}")
    })?;
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        dir.join(root.path())
    };
    let rootfs = std::fs::canonicalize(&rootfs).map_err(|e| {
        Error::new(STAGE, format!("root.path {}: {e}", rootfs.display())).hint(
            "the root filesystem directory named by root.path does not exist: unpack the image into it (tar xf c1.tar -C rootfs)",
        )
    })?;
    if !rootfs.is_dir() {
        return Err(Error::new(
            STAGE,
            format!("root.path {} is not a directory", rootfs.display()),
        ));
    }
    if spec.process().is_none() {
        return Err(Error::new(STAGE, "config.json has no \"process\"")
            .hint("create and run need process.args"));
    }
    Ok(Bundle {
        dir,
        spec,
        rootfs,
        warnings,
    })
}

/// Parse config.json text: tolerant capability names, JSON paths in errors.
pub fn parse(text: &str) -> Result<(Spec, Vec<String>)> {
    let mut value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| Error::new(STAGE, format!("config.json is not valid JSON: {e}")))?;
    let mut warnings = Vec::new();
    let version = value
        .get("ociVersion")
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string();
    if !version.starts_with("1.") {
        return Err(Error::new(
            STAGE,
            format!("ociVersion {version:?} is not supported (learnrt runs 1.x bundles)"),
        ));
    }
    drop_unknown_caps(&mut value, &mut warnings);
    let spec: Spec = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        Error::new(
            STAGE,
            format!("config.json field `{path}`: {}", e.into_inner()),
        )
    })?;
    validate(&spec)?;
    Ok((spec, warnings))
}

fn drop_unknown_caps(v: &mut serde_json::Value, warnings: &mut Vec<String>) {
    let Some(caps) = v
        .pointer_mut("/process/capabilities")
        .and_then(|c| c.as_object_mut())
    else {
        return;
    };
    for (set, list) in caps.iter_mut() {
        if let Some(arr) = list.as_array_mut() {
            arr.retain(|c| {
                let ok = serde_json::from_value::<oci_spec::runtime::Capability>(c.clone()).is_ok();
                if !ok {
                    warnings.push(format!(
                        "process.capabilities.{set}: unknown capability {c}, ignored"
                    ));
                }
                ok
            });
        }
    }
}

/// Checks serde cannot express.
fn validate(spec: &Spec) -> Result<()> {
    if let Some(p) = spec.process() {
        if p.args().as_ref().is_none_or(|a| a.is_empty()) {
            return Err(
                Error::new(STAGE, "config.json field `process.args` is empty")
                    .hint("name the program to run, e.g. [\"sh\"]"),
            );
        }
        if !p.cwd().is_absolute() {
            return Err(Error::new(
                STAGE,
                format!(
                    "config.json field `process.cwd`: {:?} is not an absolute path",
                    p.cwd()
                ),
            ));
        }
    }
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        if !m.destination().is_absolute() {
            return Err(Error::new(
                STAGE,
                format!(
                    "config.json field `mounts[{i}].destination`: {:?} is not an absolute path",
                    m.destination()
                ),
            ));
        }
    }
    if let Some(linux) = spec.linux() {
        let mut seen = std::collections::HashSet::new();
        for (i, ns) in linux.namespaces().iter().flatten().enumerate() {
            if !seen.insert(ns.typ()) {
                return Err(Error::new(
                    STAGE,
                    format!(
                        "config.json field `linux.namespaces[{i}]`: namespace {:?} listed twice",
                        ns.typ()
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = r#"{"ociVersion":"1.0.2-dev","process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0}},"root":{"path":"rootfs"}}"#;

    #[test]
    fn minimal_config_parses() {
        let (s, w) = parse(MIN).unwrap();
        assert!(w.is_empty());
        assert_eq!(
            s.process().as_ref().unwrap().args().as_ref().unwrap()[0],
            "sh"
        );
    }

    #[test]
    fn unknown_capability_is_a_warning() {
        let t = MIN.replace(
            r#""cwd":"/""#,
            r#""cwd":"/","capabilities":{"bounding":["CAP_KILL","CAP_NOT_A_THING"]}"#,
        );
        let (_, w) = parse(&t).unwrap();
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("CAP_NOT_A_THING"));
    }

    #[test]
    fn bad_field_names_its_json_path() {
        let t = MIN.replace(
            r#""root""#,
            r#""linux":{"namespaces":[{"type":"pid"},{"type":"bogus"}]},"root""#,
        );
        let e = parse(&t).unwrap_err();
        assert!(e.msg.contains("linux.namespaces[1]"), "{}", e.msg);
    }

    #[test]
    fn other_major_versions_are_refused() {
        assert!(parse(&MIN.replace("1.0.2-dev", "2.0.0")).is_err());
        assert!(parse(&MIN.replace("1.0.2-dev", "1.2.0")).is_ok());
    }
}

//! `learnrt update`: change a container's cgroup limits while it runs.
//! Docker sends the whole linux.resources JSON on stdin (`-r -`).

use std::io::Read;

use serde_json::{json, Value};

use crate::cli::UpdateArgs;
use crate::error::{Error, Result};
use crate::state::Root;

/// `100m`, `1g`, `4096`, `-1` → bytes (runc's RAMInBytes, base 1024).
pub fn parse_size(s: &str) -> Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let t = t.trim_end_matches('b');
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: f64 = num.parse().map_err(|_| {
        Error::new("update", format!("bad size {s:?}"))
            .hint("use bytes or a k/m/g suffix, e.g. 100m")
    })?;
    Ok((n * mult as f64) as i64)
}

fn merge(into: &mut Value, key: &str, field: &str, v: Value) {
    if !into[key].is_object() {
        into[key] = json!({});
    }
    into[key][field] = v;
}

pub fn resources_json(a: &UpdateArgs) -> Result<Value> {
    let mut r = match &a.resources {
        Some(p) => {
            let mut text = String::new();
            if p.as_os_str() == "-" {
                std::io::stdin().read_to_string(&mut text)?;
            } else {
                text = std::fs::read_to_string(p)
                    .map_err(|e| Error::new("update", format!("{}: {e}", p.display())))?;
            }
            serde_json::from_str(&text)
                .map_err(|e| Error::new("update", format!("resources JSON: {e}")))?
        }
        None => json!({}),
    };
    if let Some(m) = &a.memory {
        merge(&mut r, "memory", "limit", json!(parse_size(m)?));
    }
    if let Some(m) = &a.memory_reservation {
        merge(&mut r, "memory", "reservation", json!(parse_size(m)?));
    }
    if let Some(m) = &a.memory_swap {
        merge(&mut r, "memory", "swap", json!(parse_size(m)?));
    }
    if let Some(q) = a.cpu_quota {
        merge(&mut r, "cpu", "quota", json!(q));
    }
    if let Some(p) = a.cpu_period {
        merge(&mut r, "cpu", "period", json!(p));
    }
    if let Some(s) = a.cpu_share {
        merge(&mut r, "cpu", "shares", json!(s));
    }
    if let Some(c) = &a.cpuset_cpus {
        merge(&mut r, "cpu", "cpus", json!(c));
    }
    if let Some(c) = &a.cpuset_mems {
        merge(&mut r, "cpu", "mems", json!(c));
    }
    if let Some(p) = a.pids_limit {
        merge(&mut r, "pids", "limit", json!(p));
    }
    if let Some(w) = a.blkio_weight {
        merge(&mut r, "blockIO", "weight", json!(w));
    }
    Ok(r)
}

pub fn run(root: &Root, a: UpdateArgs) -> Result<i32> {
    let v = resources_json(&a)?;
    let res: oci_spec::runtime::LinuxResources =
        serde_path_to_error::deserialize(v).map_err(|e| {
            Error::new(
                "update",
                format!("resources field `{}`: {}", e.path(), e.inner()),
            )
        })?;
    let (_l, st) = root.open(&a.id)?;
    let cg = crate::stages::cgroups::of(&st)
        .ok_or_else(|| Error::new("update", format!("container {} has no cgroup", a.id)))?;
    crate::explain::run_stage(
        &crate::stages::cgroups::CGROUPS,
        &["linux.resources".into()],
        || {
            let warnings = cg
                .update(&crate::sys::Linux, &res)
                .map_err(|e| Error::new("update", e.to_string()))?;
            for w in warnings {
                crate::logging::warn(&w);
            }
            Ok(())
        },
    )?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        assert_eq!(super::parse_size("100m").unwrap(), 100 << 20);
        assert_eq!(super::parse_size("4096").unwrap(), 4096);
        assert_eq!(super::parse_size("1G").unwrap(), 1 << 30);
        assert_eq!(super::parse_size("-1").unwrap(), -1);
        assert!(super::parse_size("lots").is_err());
    }
}

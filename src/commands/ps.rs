//! `learnrt ps`: the container's processes (host pids).

use std::collections::HashSet;

use crate::cli::ListFormat;
use crate::error::{Error, Result};
use crate::state::Root;

/// Pids of the container: its cgroup's, or (no cgroup) every process in
/// the init's pid namespace.
pub fn pids(root: &Root, id: &str) -> Result<Vec<i32>> {
    let (_lock, st) = root.open(id)?;
    if let Some(cg) = crate::stages::cgroups::of(&st) {
        if let Ok(p) = cg.pids() {
            return Ok(p);
        }
    }
    let ns = std::fs::read_link(format!("/proc/{}/ns/pid", st.pid)).ok();
    let mut out = vec![];
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        if let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() {
            if ns.is_some() && std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok() == ns {
                out.push(pid);
            }
        }
    }
    Ok(out)
}

pub fn run(root: &Root, id: &str, format: ListFormat, ps_args: &[String]) -> Result<i32> {
    let pids = pids(root, id)?;
    if format == ListFormat::Json {
        println!("{}", serde_json::to_string(&pids).unwrap_or_default());
        return Ok(0);
    }
    let args: Vec<String> = if ps_args.is_empty() {
        vec!["-ef".into()]
    } else {
        ps_args.to_vec()
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .map_err(|e| Error::new("ps", format!("run ps: {e}")).hint("install procps"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Ok(0);
    };
    let col = header
        .split_whitespace()
        .position(|c| c == "PID")
        .ok_or_else(|| Error::new("ps", "ps output has no PID column"))?;
    let set: HashSet<i32> = pids.into_iter().collect();
    println!("{header}");
    for l in lines {
        if l.split_whitespace()
            .nth(col)
            .and_then(|p| p.parse().ok())
            .is_some_and(|p| set.contains(&p))
        {
            println!("{l}");
        }
    }
    Ok(0)
}

//! cgroup v2: one directory holds every controller's files; values use
//! `max` for "no limit" and some knobs have new scales (cpu.weight, io.weight).

use std::path::Path;

use oci_spec::runtime::LinuxResources;

use super::{read, throttles, v1::rdma_line, write, Cgroup, CgroupError};
use crate::sys::Sys;

/// cpu.shares (v1, 2..=262144, default 1024) -> cpu.weight (v2, 1..=10000,
/// default 100), the same linear mapping runc uses.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.saturating_sub(2) * 9999) / 262_142
}

/// blkio.weight (10..=1000) -> io.weight (1..=10000).
pub fn blkio_weight_to_io_weight(w: u16) -> u64 {
    if w == 0 {
        return 0;
    }
    1 + (u64::from(w).saturating_sub(10) * 9999) / 990
}

/// OCI `swap` is memory+swap; v2's memory.swap.max is swap alone.
/// Returns `None` to leave the file alone.
pub fn swap_to_v2(swap: Option<i64>, limit: Option<i64>) -> Option<String> {
    match swap {
        None | Some(0) => None,
        Some(-1) => Some("max".into()),
        Some(s) => {
            let l = limit.unwrap_or(0);
            Some((s - l).max(0).to_string())
        }
    }
}

fn max_or(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

/// The container's directory, which must offer `file`: a missing file means
/// the controller is not enabled for this cgroup.
fn need_file(dir: &Path, file: &str, field: &str) -> Result<std::path::PathBuf, CgroupError> {
    let p = dir.join(file);
    if p.exists() {
        Ok(p)
    } else {
        let ctrl = file.split('.').next().unwrap_or(file);
        Err(CgroupError::unsupported(
            field,
            format!(
                "{} does not exist: the \"{ctrl}\" controller is not enabled for this cgroup (is it in the parent's cgroup.subtree_control? cat {})",
                p.display(),
                dir.parent().unwrap_or(dir).join("cgroup.subtree_control").display()
            ),
        ))
    }
}

pub(super) fn apply(
    cg: &Cgroup,
    sys: &dyn Sys,
    res: &LinuxResources,
    update: bool,
    warnings: &mut Vec<String>,
) -> Result<(), CgroupError> {
    let dir = cg.unified.as_deref().ok_or_else(|| {
        CgroupError::unsupported(
            "linux.resources",
            "no cgroup v2 directory for this container",
        )
    })?;
    memory(dir, sys, res, update, warnings)?;
    cpu(dir, sys, res, warnings)?;
    if let Some(p) = res.pids() {
        let f = need_file(dir, "pids.max", "linux.resources.pids.limit")?;
        write(sys, &f, &super::pids_max(p.limit()))?;
    }
    io(dir, sys, res, warnings)?;
    for (i, h) in res.hugepage_limits().iter().flatten().enumerate() {
        let f = need_file(
            dir,
            &format!("hugetlb.{}.max", h.page_size()),
            &format!("linux.resources.hugepageLimits[{i}]"),
        )?;
        write(sys, &f, &max_or(h.limit()))?;
    }
    if let Some(n) = res.network() {
        if n.class_id().is_some() || n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
            warnings.push(
                "linux.resources.network: ignored, cgroup v2 has no net_cls/net_prio controllers (use eBPF or nftables cgroup matching instead)".into(),
            );
        }
    }
    if let Some(r) = res.rdma() {
        if !r.is_empty() {
            let f = need_file(dir, "rdma.max", "linux.resources.rdma")?;
            for (dev, l) in r {
                write(sys, &f, &rdma_line(dev, l))?;
            }
        }
    }
    // No devices.allow on v2: the rules become an eBPF program attached to
    // the directory (create), or replace the one attached before (update).
    if let Some(d) = res.devices() {
        if !update || !d.is_empty() {
            super::devices_bpf::apply(dir, d)?;
        }
    }
    // unified last: it may deliberately override what the fields above set.
    if let Some(u) = res.unified() {
        let mut keys: Vec<_> = u.iter().collect();
        keys.sort();
        for (k, v) in keys {
            let f = need_file(dir, k, &format!("linux.resources.unified[{k:?}]"))?;
            write(sys, &f, v)?;
        }
    }
    Ok(())
}

fn memory(
    dir: &Path,
    sys: &dyn Sys,
    res: &LinuxResources,
    update: bool,
    warnings: &mut Vec<String>,
) -> Result<(), CgroupError> {
    let Some(m) = res.memory() else {
        return Ok(());
    };
    let limit = m.limit().filter(|&v| v != 0);
    if update && m.check_before_update() == Some(true) {
        if let Some(l) = limit.filter(|&l| l > 0) {
            let usage: i64 = read(&dir.join("memory.current"))?
                .trim()
                .parse()
                .unwrap_or(0);
            if l < usage {
                return Err(CgroupError::invalid(
                    "linux.resources.memory.limit",
                    format!("new limit {l} is below the current usage {usage} (checkBeforeUpdate is set)"),
                ));
            }
        }
    }
    // Swap before max: memory.swap.max does not depend on memory.max in v2,
    // but this order keeps usage bounded while both change.
    if let Some(v) = swap_to_v2(m.swap(), limit) {
        let p = dir.join("memory.swap.max");
        if p.exists() {
            write(sys, &p, &v)?;
        } else {
            warnings.push(format!(
                "linux.resources.memory.swap: ignored, {} does not exist (swap accounting is off or there is no swap)",
                p.display()
            ));
        }
    }
    if let Some(l) = limit {
        let f = need_file(dir, "memory.max", "linux.resources.memory.limit")?;
        write(sys, &f, &max_or(l))?;
    }
    if let Some(r) = m.reservation().filter(|&v| v != 0) {
        let f = need_file(dir, "memory.low", "linux.resources.memory.reservation")?;
        write(sys, &f, &max_or(r))?;
    }
    if m.kernel().is_some_and(|v| v != 0) {
        warnings.push("linux.resources.memory.kernel: ignored, cgroup v2 counts kernel memory inside memory.max".into());
    }
    if m.kernel_tcp().is_some_and(|v| v != 0) {
        warnings.push("linux.resources.memory.kernelTCP: ignored, cgroup v2 counts socket memory inside memory.max".into());
    }
    if let Some(s) = m.swappiness() {
        warnings.push(format!(
            "linux.resources.memory.swappiness: {s} ignored, cgroup v2 has no per-cgroup swappiness"
        ));
    }
    if m.disable_oom_killer() == Some(true) {
        warnings.push(
            "linux.resources.memory.disableOOMKiller: ignored, cgroup v2 cannot turn the OOM killer off for a cgroup".into(),
        );
    }
    Ok(())
}

fn cpu(
    dir: &Path,
    sys: &dyn Sys,
    res: &LinuxResources,
    warnings: &mut Vec<String>,
) -> Result<(), CgroupError> {
    let Some(c) = res.cpu() else {
        return Ok(());
    };
    if let Some(s) = c.shares().filter(|&v| v != 0) {
        let f = need_file(dir, "cpu.weight", "linux.resources.cpu.shares")?;
        write(sys, &f, &shares_to_weight(s).to_string())?;
    }
    let quota = c.quota().filter(|&v| v != 0);
    let period = c.period().filter(|&v| v != 0);
    if quota.is_some() || period.is_some() {
        let f = need_file(dir, "cpu.max", "linux.resources.cpu.quota")?;
        // "$QUOTA $PERIOD"; a missing period keeps the kernel's (100 ms).
        let mut v = match quota {
            Some(q) if q > 0 => q.to_string(),
            _ => "max".to_string(),
        };
        if let Some(p) = period {
            v.push_str(&format!(" {p}"));
        }
        write(sys, &f, &v)?;
    }
    if let Some(b) = c.burst() {
        let f = need_file(dir, "cpu.max.burst", "linux.resources.cpu.burst")?;
        write(sys, &f, &b.to_string())?;
    }
    if c.realtime_runtime().is_some_and(|v| v != 0) || c.realtime_period().is_some_and(|v| v != 0) {
        warnings.push(
            "linux.resources.cpu.realtimeRuntime/realtimePeriod: ignored, cgroup v2 has no real-time CPU budget".into(),
        );
    }
    if let Some(i) = c.idle() {
        let f = need_file(dir, "cpu.idle", "linux.resources.cpu.idle")?;
        write(sys, &f, &i.to_string())?;
    }
    if let Some(v) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
        let f = need_file(dir, "cpuset.cpus", "linux.resources.cpu.cpus")?;
        write(sys, &f, v)?;
    }
    if let Some(v) = c.mems().as_deref().filter(|s| !s.is_empty()) {
        let f = need_file(dir, "cpuset.mems", "linux.resources.cpu.mems")?;
        write(sys, &f, v)?;
    }
    Ok(())
}

fn io(
    dir: &Path,
    sys: &dyn Sys,
    res: &LinuxResources,
    warnings: &mut Vec<String>,
) -> Result<(), CgroupError> {
    let Some(b) = res.block_io() else {
        return Ok(());
    };
    let bfq = dir.join("io.bfq.weight");
    let plain = dir.join("io.weight");
    // BFQ takes the old 10..1000 scale as is; io.weight needs converting.
    let weight = |w: u16| -> Option<(std::path::PathBuf, String)> {
        if bfq.exists() {
            Some((bfq.clone(), w.to_string()))
        } else if plain.exists() {
            Some((plain.clone(), blkio_weight_to_io_weight(w).to_string()))
        } else {
            None
        }
    };
    if let Some(w) = b.weight().filter(|&w| w != 0) {
        match weight(w) {
            Some((p, v)) => write(sys, &p, &v)?,
            None => warnings.push(format!(
                "linux.resources.blockIO.weight: ignored, neither io.bfq.weight nor io.weight exists in {}",
                dir.display()
            )),
        }
    }
    if b.leaf_weight().is_some() {
        warnings.push(
            "linux.resources.blockIO.leafWeight: ignored, cgroup v2 has no leaf weights".into(),
        );
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        if let Some(w) = d.weight() {
            match weight(w) {
                Some((p, v)) => write(sys, &p, &format!("{}:{} {v}", d.major(), d.minor()))?,
                None => warnings.push(format!(
                    "linux.resources.blockIO.weightDevice[{i}]: ignored, no io.weight file"
                )),
            }
        }
        if d.leaf_weight().is_some() {
            warnings.push(format!(
                "linux.resources.blockIO.weightDevice[{i}].leafWeight: ignored, cgroup v2 has no leaf weights"
            ));
        }
    }
    for (name, list) in throttles(b) {
        let key = match name {
            "throttleReadBpsDevice" => "rbps",
            "throttleWriteBpsDevice" => "wbps",
            "throttleReadIOPSDevice" => "riops",
            _ => "wiops",
        };
        for d in list {
            let f = need_file(dir, "io.max", &format!("linux.resources.blockIO.{name}"))?;
            let rate = if d.rate() == 0 {
                "max".to_string()
            } else {
                d.rate().to_string()
            };
            write(
                sys,
                &f,
                &format!("{}:{} {key}={rate}", d.major(), d.minor()),
            )?;
        }
    }
    Ok(())
}

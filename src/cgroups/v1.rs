//! cgroup v1 (and hybrid): one directory per controller, one file per knob.

use std::path::Path;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};

use super::{read, read_opt, throttles, write, Cgroup, CgroupError};
use crate::sys::Sys;

/// The devices every container may use whatever its config says, appended
/// after the config's own rules as runc does: any mknod, and the standard
/// nodes the runtime creates in /dev (null, zero, full, tty, random,
/// urandom, the pty master and the pty slaves).
pub const DEFAULT_ALLOWED_DEVICES: &[&str] = &[
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 5:0 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
];

/// The container's directory for `controller`, or an error naming the field
/// that needed it.
fn need<'a>(cg: &'a Cgroup, controller: &str, field: &str) -> Result<&'a Path, CgroupError> {
    cg.v1.get(controller).map(|p| p.as_path()).ok_or_else(|| {
        CgroupError::unsupported(
            field,
            format!("the cgroup v1 \"{controller}\" controller is not mounted on this host (see /proc/self/mountinfo), so this limit cannot be enforced"),
        )
    })
}

/// Write `value` to `dir/file` if the file exists, else warn.
fn write_or_warn(
    sys: &dyn Sys,
    dir: &Path,
    file: &str,
    value: &str,
    field: &str,
    warnings: &mut Vec<String>,
) -> Result<(), CgroupError> {
    let p = dir.join(file);
    if p.exists() {
        write(sys, &p, value)
    } else {
        warnings.push(format!(
            "{field}: ignored, {} does not exist (this kernel lacks the feature)",
            p.display()
        ));
        Ok(())
    }
}

pub(super) fn apply(
    cg: &Cgroup,
    sys: &dyn Sys,
    res: &LinuxResources,
    update: bool,
    warnings: &mut Vec<String>,
) -> Result<(), CgroupError> {
    memory(cg, sys, res, update, warnings)?;
    cpu(cg, sys, res, warnings)?;
    if let Some(p) = res.pids() {
        let dir = need(cg, "pids", "linux.resources.pids.limit")?;
        write(sys, &dir.join("pids.max"), &super::pids_max(p.limit()))?;
    }
    blkio(cg, sys, res, warnings)?;
    for h in res.hugepage_limits().iter().flatten() {
        let dir = need(cg, "hugetlb", "linux.resources.hugepageLimits")?;
        let p = dir.join(format!("hugetlb.{}.limit_in_bytes", h.page_size()));
        if !p.exists() {
            return Err(CgroupError::unsupported(
                "linux.resources.hugepageLimits",
                format!(
                    "{} does not exist: this machine has no {} huge pages",
                    p.display(),
                    h.page_size()
                ),
            ));
        }
        write(sys, &p, &h.limit().to_string())?;
    }
    network(cg, sys, res, warnings)?;
    if let Some(r) = res.rdma() {
        if !r.is_empty() {
            let dir = need(cg, "rdma", "linux.resources.rdma")?;
            for (dev, l) in r {
                write(sys, &dir.join("rdma.max"), &rdma_line(dev, l))?;
            }
        }
    }
    if !update {
        devices(cg, sys, res)?;
    }
    Ok(())
}

pub(super) fn rdma_line(dev: &str, l: &oci_spec::runtime::LinuxRdma) -> String {
    let f = |v: Option<u32>| v.map_or("max".to_string(), |v| v.to_string());
    format!(
        "{dev} hca_handle={} hca_object={}",
        f(l.hca_handles()),
        f(l.hca_objects())
    )
}

/// Current value of a v1 byte-limit file, as i64 (-1 when unlimited).
fn read_limit(p: &Path) -> Result<i64, CgroupError> {
    let s = read(p)?;
    let v: u64 = s.trim().parse().unwrap_or(u64::MAX);
    Ok(i64::try_from(v).unwrap_or(-1))
}

fn memory(
    cg: &Cgroup,
    sys: &dyn Sys,
    res: &LinuxResources,
    update: bool,
    warnings: &mut Vec<String>,
) -> Result<(), CgroupError> {
    let Some(m) = res.memory() else {
        return Ok(());
    };
    let dir = need(cg, "memory", "linux.resources.memory")?;
    let limit = m.limit().filter(|&v| v != 0);
    let mut swap = m.swap().filter(|&v| v != 0);
    let limit_file = dir.join("memory.limit_in_bytes");
    let memsw_file = dir.join("memory.memsw.limit_in_bytes");

    if update && m.check_before_update() == Some(true) {
        if let Some(l) = limit.filter(|&l| l > 0) {
            let usage = read(&dir.join("memory.usage_in_bytes"))?;
            let usage: i64 = usage.trim().parse().unwrap_or(0);
            if l < usage {
                return Err(CgroupError::invalid(
                    "linux.resources.memory.limit",
                    format!("new limit {l} is below the current usage {usage} (checkBeforeUpdate is set)"),
                ));
            }
        }
    }
    if swap.is_some() && !memsw_file.exists() {
        warnings.push(format!(
            "linux.resources.memory.swap: ignored, {} does not exist (swap accounting is off; boot with swapaccount=1)",
            memsw_file.display()
        ));
        swap = None;
    }
    match (limit, swap) {
        (Some(l), Some(s)) => {
            // memory.limit must stay <= memory.memsw.limit at every moment:
            // raise memsw first when growing, lower the limit first when
            // shrinking.
            let cur = read_limit(&limit_file)?;
            if s == -1 || (cur != -1 && cur < s) {
                write(sys, &memsw_file, &s.to_string())?;
                write(sys, &limit_file, &l.to_string())?;
            } else {
                write(sys, &limit_file, &l.to_string())?;
                write(sys, &memsw_file, &s.to_string())?;
            }
        }
        (Some(l), None) => write(sys, &limit_file, &l.to_string())?,
        (None, Some(s)) => write(sys, &memsw_file, &s.to_string())?,
        (None, None) => {}
    }
    if let Some(r) = m.reservation().filter(|&v| v != 0) {
        write(sys, &dir.join("memory.soft_limit_in_bytes"), &r.to_string())?;
    }
    for (field, file, v) in [
        (
            "linux.resources.memory.kernel",
            "memory.kmem.limit_in_bytes",
            m.kernel(),
        ),
        (
            "linux.resources.memory.kernelTCP",
            "memory.kmem.tcp.limit_in_bytes",
            m.kernel_tcp(),
        ),
    ] {
        let Some(v) = v.filter(|&v| v != 0) else {
            continue;
        };
        let p = dir.join(file);
        if !p.exists() {
            warnings.push(format!("{field}: ignored, {} does not exist", p.display()));
            continue;
        }
        // Kernel-memory limits are deprecated; newer kernels refuse them.
        if let Err(e) = write(sys, &p, &v.to_string()) {
            warnings.push(format!("{field}: ignored, {e}"));
        }
    }
    if let Some(s) = m.swappiness() {
        write_or_warn(
            sys,
            dir,
            "memory.swappiness",
            &s.to_string(),
            "linux.resources.memory.swappiness",
            warnings,
        )?;
    }
    if m.disable_oom_killer() == Some(true) {
        write(sys, &dir.join("memory.oom_control"), "1")?;
    }
    if let Some(h) = m.use_hierarchy() {
        let p = dir.join("memory.use_hierarchy");
        if let Err(e) = write(sys, &p, if h { "1" } else { "0" }) {
            warnings.push(format!("linux.resources.memory.useHierarchy: ignored, {e}"));
        }
    }
    Ok(())
}

fn cpu(
    cg: &Cgroup,
    sys: &dyn Sys,
    res: &LinuxResources,
    warnings: &mut Vec<String>,
) -> Result<(), CgroupError> {
    let Some(c) = res.cpu() else {
        return Ok(());
    };
    let wants_cpu = c.shares().is_some_and(|v| v != 0)
        || c.quota().is_some_and(|v| v != 0)
        || c.period().is_some_and(|v| v != 0)
        || c.burst().is_some()
        || c.realtime_runtime().is_some_and(|v| v != 0)
        || c.realtime_period().is_some_and(|v| v != 0)
        || c.idle().is_some();
    if wants_cpu {
        let dir = need(cg, "cpu", "linux.resources.cpu")?;
        if let Some(s) = c.shares().filter(|&v| v != 0) {
            let p = dir.join("cpu.shares");
            write(sys, &p, &s.to_string())?;
            // The kernel silently clamps shares to 2..=262144: read it back.
            if let Some(got) = read_opt(&p).and_then(|t| t.trim().parse::<u64>().ok()) {
                if got != s {
                    return Err(CgroupError::invalid(
                        "linux.resources.cpu.shares",
                        format!("the kernel changed {s} to {got}: shares must be in 2..=262144"),
                    ));
                }
            }
        }
        let period = c.period().filter(|&v| v != 0);
        let quota = c.quota().filter(|&v| v != 0);
        let pf = dir.join("cpu.cfs_period_us");
        let qf = dir.join("cpu.cfs_quota_us");
        match (period, quota) {
            (Some(p), Some(q)) => {
                // A shorter period can make the current quota invalid;
                // then write the quota first and the period after.
                if let Err(e) = write(sys, &pf, &p.to_string()) {
                    if e.errno() != Some(nix::errno::Errno::EINVAL) {
                        return Err(e);
                    }
                    write(sys, &qf, &q.to_string())?;
                    write(sys, &pf, &p.to_string())?;
                } else {
                    write(sys, &qf, &q.to_string())?;
                }
            }
            (Some(p), None) => write(sys, &pf, &p.to_string())?,
            // Quota alone: the kernel keeps its period (100 ms by default),
            // as runc does.
            (None, Some(q)) => write(sys, &qf, &q.to_string())?,
            (None, None) => {}
        }
        if let Some(b) = c.burst() {
            write_or_warn(
                sys,
                dir,
                "cpu.cfs_burst_us",
                &b.to_string(),
                "linux.resources.cpu.burst",
                warnings,
            )?;
        }
        if let Some(p) = c.realtime_period().filter(|&v| v != 0) {
            write_or_warn(
                sys,
                dir,
                "cpu.rt_period_us",
                &p.to_string(),
                "linux.resources.cpu.realtimePeriod",
                warnings,
            )?;
        }
        if let Some(r) = c.realtime_runtime().filter(|&v| v != 0) {
            write_or_warn(
                sys,
                dir,
                "cpu.rt_runtime_us",
                &r.to_string(),
                "linux.resources.cpu.realtimeRuntime",
                warnings,
            )?;
        }
        if let Some(i) = c.idle() {
            write_or_warn(
                sys,
                dir,
                "cpu.idle",
                &i.to_string(),
                "linux.resources.cpu.idle",
                warnings,
            )?;
        }
    }
    let cpus = c.cpus().as_deref().filter(|s| !s.is_empty());
    let mems = c.mems().as_deref().filter(|s| !s.is_empty());
    if cpus.is_some() || mems.is_some() {
        let dir = need(cg, "cpuset", "linux.resources.cpu.cpus")?;
        if let Some(v) = cpus {
            write(sys, &dir.join("cpuset.cpus"), v)?;
        }
        if let Some(v) = mems {
            write(sys, &dir.join("cpuset.mems"), v)?;
        }
    }
    Ok(())
}

fn blkio(
    cg: &Cgroup,
    sys: &dyn Sys,
    res: &LinuxResources,
    warnings: &mut Vec<String>,
) -> Result<(), CgroupError> {
    let Some(b) = res.block_io() else {
        return Ok(());
    };
    let any = b.weight().is_some()
        || b.leaf_weight().is_some()
        || b.weight_device().as_ref().is_some_and(|v| !v.is_empty())
        || !throttles(b).iter().all(|(_, l)| l.is_empty());
    if !any {
        return Ok(());
    }
    let dir = need(cg, "blkio", "linux.resources.blockIO")?;
    // CFQ's blkio.weight, or BFQ's blkio.bfq.weight on newer kernels.
    let weight_file = |plain: &str, bfq: &str| {
        [plain, bfq]
            .into_iter()
            .map(|f| dir.join(f))
            .find(|p| p.exists())
    };
    if let Some(w) = b.weight().filter(|&w| w != 0) {
        match weight_file("blkio.weight", "blkio.bfq.weight") {
            Some(p) => write(sys, &p, &w.to_string())?,
            None => warnings.push(format!(
                "linux.resources.blockIO.weight: ignored, neither blkio.weight nor blkio.bfq.weight exists in {} (no CFQ/BFQ I/O scheduler)",
                dir.display()
            )),
        }
    }
    if let Some(w) = b.leaf_weight().filter(|&w| w != 0) {
        write_or_warn(
            sys,
            dir,
            "blkio.leaf_weight",
            &w.to_string(),
            "linux.resources.blockIO.leafWeight",
            warnings,
        )?;
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        if let Some(w) = d.weight() {
            let line = format!("{}:{} {w}", d.major(), d.minor());
            match weight_file("blkio.weight_device", "blkio.bfq.weight_device") {
                Some(p) => write(sys, &p, &line)?,
                None => warnings.push(format!(
                    "linux.resources.blockIO.weightDevice[{i}].weight: ignored, no blkio.weight_device file (no CFQ/BFQ I/O scheduler)"
                )),
            }
        }
        if let Some(w) = d.leaf_weight() {
            write_or_warn(
                sys,
                dir,
                "blkio.leaf_weight_device",
                &format!("{}:{} {w}", d.major(), d.minor()),
                &format!("linux.resources.blockIO.weightDevice[{i}].leafWeight"),
                warnings,
            )?;
        }
    }
    for (name, list) in throttles(b) {
        let file = match name {
            "throttleReadBpsDevice" => "blkio.throttle.read_bps_device",
            "throttleWriteBpsDevice" => "blkio.throttle.write_bps_device",
            "throttleReadIOPSDevice" => "blkio.throttle.read_iops_device",
            _ => "blkio.throttle.write_iops_device",
        };
        for d in list {
            write(
                sys,
                &dir.join(file),
                &format!("{}:{} {}", d.major(), d.minor(), d.rate()),
            )?;
        }
    }
    Ok(())
}

fn network(
    cg: &Cgroup,
    sys: &dyn Sys,
    res: &LinuxResources,
    warnings: &mut Vec<String>,
) -> Result<(), CgroupError> {
    let Some(n) = res.network() else {
        return Ok(());
    };
    if let Some(id) = n.class_id() {
        match cg.v1.get("net_cls") {
            Some(dir) => write(sys, &dir.join("net_cls.classid"), &id.to_string())?,
            None => warnings.push(
                "linux.resources.network.classID: ignored, the net_cls controller is not mounted on this host".into(),
            ),
        }
    }
    for p in n.priorities().iter().flatten() {
        match cg.v1.get("net_prio") {
            Some(dir) => write(
                sys,
                &dir.join("net_prio.ifpriomap"),
                &format!("{} {}", p.name(), p.priority()),
            )?,
            None => {
                warnings.push(
                    "linux.resources.network.priorities: ignored, the net_prio controller is not mounted on this host".into(),
                );
                break;
            }
        }
    }
    Ok(())
}

/// One device rule as the v1 devices files want it: `c 1:3 rwm`.
pub fn device_rule(d: &LinuxDeviceCgroup) -> String {
    let t = d.typ().unwrap_or(LinuxDeviceType::A);
    let t = match t {
        // 'u' (unbuffered char) is a char device to the cgroup; 'p' (FIFO)
        // is not policed by the devices cgroup: treat as "all".
        LinuxDeviceType::C | LinuxDeviceType::U => "c",
        LinuxDeviceType::B => "b",
        LinuxDeviceType::A | LinuxDeviceType::P => "a",
    };
    let num = |v: Option<i64>| match v {
        Some(v) if v >= 0 => v.to_string(),
        _ => "*".to_string(),
    };
    let access = d.access().as_deref().unwrap_or("rwm");
    format!("{t} {}:{} {access}", num(d.major()), num(d.minor()))
}

/// v1 devices: deny everything, then replay the config's rules in order
/// (later rules win), then the defaults every container needs.
fn devices(cg: &Cgroup, sys: &dyn Sys, res: &LinuxResources) -> Result<(), CgroupError> {
    let Some(rules) = res.devices() else {
        return Ok(());
    };
    let dir = need(cg, "devices", "linux.resources.devices")?;
    write(sys, &dir.join("devices.deny"), "a")?;
    for d in rules {
        let file = if d.allow() {
            "devices.allow"
        } else {
            "devices.deny"
        };
        write(sys, &dir.join(file), &device_rule(d))?;
    }
    for r in DEFAULT_ALLOWED_DEVICES {
        write(sys, &dir.join("devices.allow"), r)?;
    }
    Ok(())
}

/// v1 cpuset: a new cgroup starts with empty `cpuset.cpus` / `cpuset.mems`,
/// and no process may join it until they are filled. Copy them down from
/// the parent, top to bottom, for every level that is still empty.
pub(super) fn fill_cpuset(sys: &dyn Sys, mount: &Path, dir: &Path) -> Result<(), CgroupError> {
    let rest = dir.strip_prefix(mount).unwrap_or(Path::new(""));
    let mut parent = mount.to_path_buf();
    for c in rest.components() {
        let cur = parent.join(c);
        for f in ["cpuset.cpus", "cpuset.mems"] {
            let mine = cur.join(f);
            let Some(v) = read_opt(&mine) else { continue };
            if v.trim().is_empty() {
                let from_parent = read_opt(&parent.join(f)).unwrap_or_default();
                if !from_parent.trim().is_empty() {
                    write(sys, &mine, from_parent.trim())?;
                }
            }
        }
        parent = cur;
    }
    Ok(())
}

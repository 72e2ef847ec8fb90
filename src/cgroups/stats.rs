//! Usage numbers for `learnrt events --stats`, in exactly the JSON shape of
//! runc's `types.Stats` (the `data` object of a "stats" event), so tools
//! that parse runc's output parse ours.
//!
//! Go's `omitempty` drops zero numbers, empty lists and empty maps but never
//! a nested struct; [`Obj`] mimics that field by field.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Map, Value};

use super::{keyed, read_opt, Cgroup, CgroupError};

/// A JSON object built with Go's omitempty rules.
#[derive(Default)]
struct Obj(Map<String, Value>);

impl Obj {
    /// Always present (no omitempty in runc's struct tag).
    fn put(mut self, k: &str, v: impl Into<Value>) -> Self {
        self.0.insert(k.into(), v.into());
        self
    }
    /// `omitempty` number.
    fn nz(mut self, k: &str, v: u64) -> Self {
        if v != 0 {
            self.0.insert(k.into(), v.into());
        }
        self
    }
    /// `omitempty` list or map.
    fn ne(mut self, k: &str, v: Value) -> Self {
        let empty = match &v {
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
            Value::Null => true,
            _ => false,
        };
        if !empty {
            self.0.insert(k.into(), v);
        }
        self
    }
    fn done(self) -> Value {
        Value::Object(self.0)
    }
}

fn num(dir: &Path, file: &str) -> u64 {
    read_opt(&dir.join(file))
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// A limit file where `max` means unlimited (reported as `u64::MAX`, as runc).
fn limit(dir: &Path, file: &str) -> u64 {
    match read_opt(&dir.join(file)) {
        Some(s) if s.trim() == "max" => u64::MAX,
        Some(s) => s.trim().parse().unwrap_or(0),
        None => 0,
    }
}

/// `key value` lines into a map.
pub fn flat_keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.parse().ok()?))
        })
        .collect()
}

/// `0-3,5` -> [0, 1, 2, 3, 5].
pub fn parse_list(s: &str) -> Vec<u16> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) {
                    out.extend(a..=b);
                }
            }
            None => out.extend(part.parse::<u16>().ok()),
        }
    }
    out
}

fn memory_entry(limit: u64, usage: u64, max: u64, failcnt: u64) -> Value {
    Obj::default()
        .put("limit", limit)
        .nz("usage", usage)
        .nz("max", max)
        .put("failcnt", failcnt)
        .done()
}

/// Build the stats object for `cg`.
pub fn collect(cg: &Cgroup) -> Result<Value, CgroupError> {
    // A cgroup that is gone cannot report anything: say so.
    for d in cg.dirs() {
        if !d.is_dir() {
            return Err(CgroupError::Read {
                path: d,
                errno: nix::errno::Errno::ENOENT,
                hint: "the container's cgroup no longer exists (has the container been deleted?)"
                    .into(),
            });
        }
    }
    let v = if cg.is_v2() {
        let dir = cg.unified.clone().unwrap_or_default();
        json!({
            "cpu": cpu_v2(&dir),
            "cpuset": cpuset(Some(&dir), true),
            "memory": memory_v2(&dir),
            "pids": pids(Some(&dir)),
            "blkio": io_v2(&dir),
            "hugetlb": hugetlb(Some(&dir), true),
            "intel_rdt": {},
            "network_interfaces": null,
        })
    } else {
        let d = |c: &str| cg.v1.get(c).map(|p| p.as_path());
        json!({
            "cpu": cpu_v1(d("cpuacct"), d("cpu")),
            "cpuset": cpuset(d("cpuset"), false),
            "memory": memory_v1(d("memory")),
            "pids": pids(d("pids")),
            "blkio": blkio_v1(d("blkio")),
            "hugetlb": hugetlb(d("hugetlb"), false),
            "intel_rdt": {},
            "network_interfaces": null,
        })
    };
    Ok(v)
}

pub(crate) fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

fn usage_obj(
    total: u64,
    percpu: Vec<u64>,
    pk: Vec<u64>,
    pu: Vec<u64>,
    kernel: u64,
    user: u64,
) -> Value {
    Obj::default()
        .nz("total", total)
        .ne("percpu", json!(percpu))
        .ne("percpu_kernel", json!(pk))
        .ne("percpu_user", json!(pu))
        .put("kernel", kernel)
        .put("user", user)
        .done()
}

fn throttling_obj(periods: u64, throttled: u64, time_ns: u64) -> Value {
    Obj::default()
        .nz("periods", periods)
        .nz("throttledPeriods", throttled)
        .nz("throttledTime", time_ns)
        .done()
}

fn cpu_v1(acct: Option<&Path>, cpu: Option<&Path>) -> Value {
    let (mut total, mut percpu, mut pk, mut pu, mut kernel, mut user) =
        (0, Vec::new(), Vec::new(), Vec::new(), 0, 0);
    if let Some(a) = acct {
        total = num(a, "cpuacct.usage");
        percpu = read_opt(&a.join("cpuacct.usage_percpu"))
            .map(|s| {
                s.split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        // cpuacct.usage_all: "cpu user system" then one line per CPU, in ns.
        if let Some(all) = read_opt(&a.join("cpuacct.usage_all")) {
            for l in all.lines().skip(1) {
                let f: Vec<u64> = l
                    .split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect();
                if f.len() == 3 {
                    pu.push(f[1]);
                    pk.push(f[2]);
                }
            }
        }
        // cpuacct.stat is in clock ticks (USER_HZ); runc reports ns.
        if let Some(st) = read_opt(&a.join("cpuacct.stat")) {
            let ns = 1_000_000_000 / clock_ticks();
            user = keyed(&st, "user").unwrap_or(0) * ns;
            kernel = keyed(&st, "system").unwrap_or(0) * ns;
        }
    }
    let thr = cpu
        .and_then(|c| read_opt(&c.join("cpu.stat")))
        .map(|s| flat_keyed(&s))
        .unwrap_or_default();
    let g = |k: &str| thr.get(k).copied().unwrap_or(0);
    json!({
        "usage": usage_obj(total, percpu, pk, pu, kernel, user),
        "throttling": throttling_obj(g("nr_periods"), g("nr_throttled"), g("throttled_time")),
    })
}

fn cpu_v2(dir: &Path) -> Value {
    let st = read_opt(&dir.join("cpu.stat"))
        .map(|s| flat_keyed(&s))
        .unwrap_or_default();
    let g = |k: &str| st.get(k).copied().unwrap_or(0);
    json!({
        "usage": usage_obj(g("usage_usec") * 1000, vec![], vec![], vec![], g("system_usec") * 1000, g("user_usec") * 1000),
        "throttling": throttling_obj(g("nr_periods"), g("nr_throttled"), g("throttled_usec") * 1000),
    })
}

fn cpuset(dir: Option<&Path>, v2: bool) -> Value {
    let Some(d) = dir else {
        return cpuset_obj(vec![], vec![], |_| 0);
    };
    let list = |f: &str| {
        read_opt(&d.join(f))
            .map(|s| parse_list(&s))
            .unwrap_or_default()
    };
    let (cpus, mems) = if v2 {
        (list("cpuset.cpus.effective"), list("cpuset.mems.effective"))
    } else {
        (list("cpuset.cpus"), list("cpuset.mems"))
    };
    cpuset_obj(cpus, mems, |f| if v2 { 0 } else { num(d, f) })
}

fn cpuset_obj(cpus: Vec<u16>, mems: Vec<u16>, n: impl Fn(&str) -> u64) -> Value {
    let level: i64 = 0;
    Obj::default()
        .ne("cpus", json!(cpus))
        .put("cpu_exclusive", n("cpuset.cpu_exclusive"))
        .ne("mems", json!(mems))
        .put("mem_hardwall", n("cpuset.mem_hardwall"))
        .put("mem_exclusive", n("cpuset.mem_exclusive"))
        .put("memory_migrate", n("cpuset.memory_migrate"))
        .put("memory_spread_page", n("cpuset.memory_spread_page"))
        .put("memory_spread_slab", n("cpuset.memory_spread_slab"))
        .put("memory_pressure", n("cpuset.memory_pressure"))
        .put("sched_load_balance", n("cpuset.sched_load_balance"))
        .put("sched_relax_domain_level", level)
        .done()
}

fn memory_v1(dir: Option<&Path>) -> Value {
    let Some(d) = dir else {
        let z = memory_entry(0, 0, 0, 0);
        return json!({"usage": z, "swap": z, "kernel": z, "kernelTCP": z});
    };
    let entry = |prefix: &str| {
        memory_entry(
            num(d, &format!("{prefix}.limit_in_bytes")),
            num(d, &format!("{prefix}.usage_in_bytes")),
            num(d, &format!("{prefix}.max_usage_in_bytes")),
            num(d, &format!("{prefix}.failcnt")),
        )
    };
    let raw = read_opt(&d.join("memory.stat"))
        .map(|s| flat_keyed(&s))
        .unwrap_or_default();
    Obj::default()
        .nz("cache", raw.get("cache").copied().unwrap_or(0))
        .put("usage", entry("memory"))
        .put("swap", entry("memory.memsw"))
        .put("kernel", entry("memory.kmem"))
        .put("kernelTCP", entry("memory.kmem.tcp"))
        .ne("raw", json!(raw))
        .done()
}

fn memory_v2(d: &Path) -> Value {
    let raw = read_opt(&d.join("memory.stat"))
        .map(|s| flat_keyed(&s))
        .unwrap_or_default();
    let events = read_opt(&d.join("memory.events")).unwrap_or_default();
    let usage = num(d, "memory.current");
    let max = limit(d, "memory.max");
    let usage_e = memory_entry(
        max,
        usage,
        num(d, "memory.peak"),
        keyed(&events, "max").unwrap_or(0),
    );
    // runc reports v2 swap like v1's memsw: memory + swap together.
    let swap_e = if d.join("memory.swap.current").exists() {
        memory_entry(
            limit(d, "memory.swap.max").saturating_add(max),
            num(d, "memory.swap.current") + usage,
            0,
            0,
        )
    } else {
        memory_entry(0, 0, 0, 0)
    };
    let zero = memory_entry(0, 0, 0, 0);
    Obj::default()
        .nz("cache", raw.get("file").copied().unwrap_or(0))
        .put("usage", usage_e)
        .put("swap", swap_e)
        .put("kernel", zero.clone())
        .put("kernelTCP", zero)
        .ne("raw", json!(raw))
        .done()
}

fn pids(dir: Option<&Path>) -> Value {
    let Some(d) = dir else {
        return json!({});
    };
    let lim = match read_opt(&d.join("pids.max")) {
        Some(s) if s.trim() == "max" => 0,
        Some(s) => s.trim().parse().unwrap_or(0),
        None => 0,
    };
    Obj::default()
        .nz("current", num(d, "pids.current"))
        .nz("limit", lim)
        .done()
}

fn blkio_entry(major: u64, minor: u64, op: &str, value: u64) -> Value {
    let mut o = Obj::default().nz("major", major).nz("minor", minor);
    if !op.is_empty() {
        o = o.put("op", op);
    }
    o.nz("value", value).done()
}

/// `8:0 Read 4096` (or `8:0 4096` for sectors/time); `Total` lines skipped.
pub fn parse_blkio(text: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for l in text.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        let Some((maj, min)) = f.first().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(maj), Ok(min)) = (maj.parse::<u64>(), min.parse::<u64>()) else {
            continue;
        };
        let (op, v) = match f.len() {
            3 => (f[1], f[2]),
            2 => ("", f[1]),
            _ => continue,
        };
        out.push(blkio_entry(maj, min, op, v.parse().unwrap_or(0)));
    }
    out
}

fn blkio_v1(dir: Option<&Path>) -> Value {
    let Some(d) = dir else {
        return json!({});
    };
    // CFQ files first, then BFQ, then the throttle layer (always present).
    let pick = |base: &str| -> Vec<Value> {
        for f in [
            format!("blkio.{base}"),
            format!("blkio.bfq.{base}"),
            format!("blkio.throttle.{base}"),
        ] {
            if let Some(t) = read_opt(&d.join(&f)) {
                let v = parse_blkio(&t);
                if !v.is_empty() {
                    return v;
                }
            }
        }
        Vec::new()
    };
    let only = |f: &str| {
        read_opt(&d.join(f))
            .map(|t| parse_blkio(&t))
            .unwrap_or_default()
    };
    Obj::default()
        .ne(
            "ioServiceBytesRecursive",
            json!(pick("io_service_bytes_recursive")),
        )
        .ne("ioServicedRecursive", json!(pick("io_serviced_recursive")))
        .ne("ioQueueRecursive", json!(only("blkio.io_queued_recursive")))
        .ne(
            "ioServiceTimeRecursive",
            json!(only("blkio.io_service_time_recursive")),
        )
        .ne(
            "ioWaitTimeRecursive",
            json!(only("blkio.io_wait_time_recursive")),
        )
        .ne(
            "ioMergedRecursive",
            json!(only("blkio.io_merged_recursive")),
        )
        .ne("ioTimeRecursive", json!(only("blkio.time_recursive")))
        .ne("sectorsRecursive", json!(only("blkio.sectors_recursive")))
        .done()
}

/// io.stat: `8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0`.
fn io_v2(d: &Path) -> Value {
    let mut bytes = Vec::new();
    let mut ios = Vec::new();
    for l in read_opt(&d.join("io.stat")).unwrap_or_default().lines() {
        let mut it = l.split_whitespace();
        let Some((maj, min)) = it.next().and_then(|x| x.split_once(':')) else {
            continue;
        };
        let (Ok(maj), Ok(min)) = (maj.parse::<u64>(), min.parse::<u64>()) else {
            continue;
        };
        for kv in it {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let v: u64 = v.parse().unwrap_or(0);
            match k {
                "rbytes" => bytes.push(blkio_entry(maj, min, "Read", v)),
                "wbytes" => bytes.push(blkio_entry(maj, min, "Write", v)),
                "rios" => ios.push(blkio_entry(maj, min, "Read", v)),
                "wios" => ios.push(blkio_entry(maj, min, "Write", v)),
                _ => {}
            }
        }
    }
    Obj::default()
        .ne("ioServiceBytesRecursive", json!(bytes))
        .ne("ioServicedRecursive", json!(ios))
        .done()
}

/// Per page size: `{"2MB": {"usage":…, "max":…, "failcnt":…}}`.
fn hugetlb(dir: Option<&Path>, v2: bool) -> Value {
    let mut out = Map::new();
    let Some(d) = dir else {
        return Value::Object(out);
    };
    let suffix = if v2 { ".max" } else { ".limit_in_bytes" };
    let Ok(entries) = std::fs::read_dir(d) else {
        return Value::Object(out);
    };
    let mut sizes: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().into_string().ok()?;
            let size = n.strip_prefix("hugetlb.")?.strip_suffix(suffix)?;
            (!size.contains('.')).then(|| size.to_string())
        })
        .collect();
    sizes.sort();
    for s in sizes {
        let p = format!("hugetlb.{s}");
        let v = if v2 {
            let ev = read_opt(&d.join(format!("{p}.events"))).unwrap_or_default();
            Obj::default()
                .nz("usage", num(d, &format!("{p}.current")))
                .put("failcnt", keyed(&ev, "max").unwrap_or(0))
                .done()
        } else {
            Obj::default()
                .nz("usage", num(d, &format!("{p}.usage_in_bytes")))
                .nz("max", num(d, &format!("{p}.max_usage_in_bytes")))
                .put("failcnt", num(d, &format!("{p}.failcnt")))
                .done()
        };
        out.insert(s, v);
    }
    Value::Object(out)
}

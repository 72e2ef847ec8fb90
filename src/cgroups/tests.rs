//! Unit tests on fake cgroup trees in temp dirs: no root needed.
//!
//! The real [`Linux`] impl is used where files must really change (create,
//! destroy, freeze); the [`Recording`] double where the exact sequence of
//! writes matters (apply). Reads always hit the fake tree.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use nix::errno::Errno;
use oci_spec::runtime::LinuxResources;
use serde_json::json;

use super::*;
use crate::sys::{Linux, Recording};

const HOST_MOUNTINFO: &str = include_str!("testdata/mountinfo_hybrid_host.txt");
const HOST_CGROUP: &str = include_str!("testdata/cgroup_hybrid_host.txt");
const V2_MOUNTINFO: &str = include_str!("testdata/mountinfo_v2_systemd.txt");
const V1_MOUNTINFO: &str = include_str!("testdata/mountinfo_v1_comounted.txt");

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A temp dir removed on drop.
struct Tmp(PathBuf);
impl Tmp {
    fn new(tag: &str) -> Tmp {
        let p = std::env::temp_dir().join(format!(
            "learnrt-cg-{tag}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Tmp(p)
    }
}
impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn touch(dir: &Path, files: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (f, v) in files {
        std::fs::write(dir.join(f), v).unwrap();
    }
}

fn res(v: serde_json::Value) -> LinuxResources {
    serde_json::from_value(v).unwrap()
}

/// Recorded lines with the temp root cut out, writes only.
fn writes(r: &Recording, root: &Path) -> Vec<String> {
    let root = root.display().to_string();
    r.lines()
        .into_iter()
        .filter(|l| l.starts_with("write("))
        .map(|l| l.replace(&root, ""))
        .collect()
}

const V1_CTRLS: &[&str] = &[
    "blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids",
];

fn fake_hybrid(t: &Path) -> Layout {
    let mut mounts = BTreeMap::new();
    for c in V1_CTRLS {
        std::fs::create_dir_all(t.join(c)).unwrap();
        mounts.insert(c.to_string(), t.join(c));
    }
    std::fs::create_dir_all(t.join("unified")).unwrap();
    Layout::Hybrid {
        mounts,
        unified: t.join("unified"),
    }
}

/// The files the kernel would put in a new v1 cgroup (the subset we use).
fn populate_v1(cg: &Cgroup) {
    let d = |c: &str| cg.v1[c].clone();
    touch(
        &d("memory"),
        &[
            ("memory.limit_in_bytes", "9223372036854771712\n"),
            ("memory.memsw.limit_in_bytes", "9223372036854771712\n"),
            ("memory.soft_limit_in_bytes", "9223372036854771712\n"),
            ("memory.kmem.limit_in_bytes", ""),
            ("memory.swappiness", "60\n"),
            (
                "memory.oom_control",
                "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
            ),
            ("memory.usage_in_bytes", "4096\n"),
        ],
    );
    touch(
        &d("cpu"),
        &[
            ("cpu.shares", "512\n"),
            ("cpu.cfs_period_us", "100000\n"),
            ("cpu.cfs_quota_us", "-1\n"),
            ("cpu.rt_period_us", "1000000\n"),
            ("cpu.rt_runtime_us", "0\n"),
            ("cpu.idle", "0\n"),
        ],
    );
    touch(&d("cpuset"), &[("cpuset.cpus", ""), ("cpuset.mems", "")]);
    touch(&d("pids"), &[("pids.max", "max\n")]);
    touch(
        &d("blkio"),
        &[
            ("blkio.bfq.weight", "100\n"),
            ("blkio.bfq.weight_device", ""),
            ("blkio.throttle.read_bps_device", ""),
            ("blkio.throttle.write_bps_device", ""),
            ("blkio.throttle.read_iops_device", ""),
            ("blkio.throttle.write_iops_device", ""),
        ],
    );
    touch(
        &d("devices"),
        &[("devices.allow", ""), ("devices.deny", "")],
    );
    touch(&d("freezer"), &[("freezer.state", "THAWED\n")]);
    for dir in cg.dirs() {
        touch(&dir, &[("cgroup.procs", "")]);
    }
}

/// Remove the fake control files so rmdir can work on a plain fs.
fn unpopulate(cg: &Cgroup) {
    for dir in cg.dirs() {
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                if e.file_type().unwrap().is_file() {
                    std::fs::remove_file(e.path()).unwrap();
                }
            }
        }
    }
}

// ---------------------------------------------------------------- detection

#[test]
fn detects_this_machines_hybrid_layout() {
    let l = detect_from(HOST_MOUNTINFO).unwrap();
    let Layout::Hybrid { mounts, unified } = &l else {
        panic!("expected hybrid, got {l:?}")
    };
    assert_eq!(unified, Path::new("/sys/fs/cgroup/unified"));
    let names: Vec<&str> = mounts.keys().map(String::as_str).collect();
    assert_eq!(names, V1_CTRLS);
    assert_eq!(mounts["memory"], Path::new("/sys/fs/cgroup/memory"));
    assert_eq!(l.name(), "hybrid");
}

#[test]
fn detects_pure_v2_and_pure_v1() {
    assert_eq!(
        detect_from(V2_MOUNTINFO).unwrap(),
        Layout::V2 {
            root: "/sys/fs/cgroup".into()
        }
    );
    let l = detect_from(V1_MOUNTINFO).unwrap();
    let Layout::V1 { mounts } = &l else {
        panic!("expected v1, got {l:?}")
    };
    // co-mounted controllers share one mount; named hierarchies are skipped
    assert_eq!(mounts["cpu"], Path::new("/sys/fs/cgroup/cpu,cpuacct"));
    assert_eq!(mounts["cpuacct"], mounts["cpu"]);
    assert_eq!(
        mounts["net_prio"],
        Path::new("/sys/fs/cgroup/net_cls,net_prio")
    );
    assert!(!mounts.keys().any(|k| k.contains("systemd")));
    // octal escapes in mount points are decoded
    assert_eq!(mounts["hugetlb"], Path::new("/mnt/my cgroups/hugetlb"));
}

#[test]
fn detect_without_cgroups_is_a_clear_error() {
    let e = detect_from("22 1 8:1 / / rw - ext4 /dev/sda rw\n").unwrap_err();
    assert!(e.to_string().contains("no cgroup filesystem"), "{e}");
}

#[test]
fn detect_on_this_machine_works() {
    detect().unwrap();
}

#[test]
fn self_path_reads_proc_self_cgroup() {
    assert_eq!(
        self_path(HOST_CGROUP, Some("memory")).map(|s| s.starts_with("/")),
        Some(true)
    );
    assert_eq!(
        self_path("2:cpu,cpuacct:/a\n0::/u\n", Some("cpuacct")),
        Some("/a")
    );
    assert_eq!(self_path("2:cpu,cpuacct:/a\n0::/u\n", None), Some("/u"));
    assert_eq!(self_path("2:cpu:/a\n", Some("memory")), None);
}

// ---------------------------------------------------------------- resolve

#[test]
fn resolves_absolute_default_and_relative_paths() {
    let l = detect_from(HOST_MOUNTINFO).unwrap();
    let cg = Cgroup::resolve(&l, Some("/a/b"), "c1", HOST_CGROUP).unwrap();
    assert_eq!(cg.path, "/a/b");
    assert_eq!(cg.v1["pids"], Path::new("/sys/fs/cgroup/pids/a/b"));
    assert_eq!(
        cg.unified.as_deref(),
        Some(Path::new("/sys/fs/cgroup/unified/a/b"))
    );

    let cg = Cgroup::resolve(&l, None, "c1", HOST_CGROUP).unwrap();
    assert_eq!(cg.path, "/learnrt/c1");
    assert_eq!(
        cg.v1["memory"],
        Path::new("/sys/fs/cgroup/memory/learnrt/c1")
    );
    let cg2 = Cgroup::resolve(&l, Some(""), "c1", HOST_CGROUP).unwrap();
    assert_eq!(cg, cg2);

    let me = "4:memory:/process_api/x\n1:cpu:/\n0::/u\n";
    let l = Layout::Hybrid {
        mounts: [
            ("memory".to_string(), PathBuf::from("/m")),
            ("cpu".into(), "/c".into()),
        ]
        .into(),
        unified: "/un".into(),
    };
    let cg = Cgroup::resolve(&l, Some("a/./b"), "c1", me).unwrap();
    assert_eq!(cg.path, "a/b");
    assert_eq!(cg.v1["memory"], Path::new("/m/process_api/x/a/b"));
    assert_eq!(cg.v1["cpu"], Path::new("/c/a/b"));
    assert_eq!(cg.unified.as_deref(), Some(Path::new("/un/u/a/b")));
    // no line for a controller: a clear error
    let e = Cgroup::resolve(&l, Some("a"), "c1", "4:memory:/\n0::/\n").unwrap_err();
    assert!(e.to_string().contains("no line for cpu"), "{e}");
}

#[test]
fn resolve_rejects_dotdot_root_and_systemd_form() {
    let l = detect_from(V2_MOUNTINFO).unwrap();
    for (p, want) in [
        ("/a/../../etc", "\"..\" is not allowed"),
        ("../x", "\"..\" is not allowed"),
        ("/", "root cgroup"),
        ("system.slice:docker:abc", "systemd"),
    ] {
        let e = Cgroup::resolve(&l, Some(p), "c1", "0::/\n").unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains(want) && s.contains("linux.cgroupsPath"),
            "{p}: {s}"
        );
    }
    // an id with ".." in it cannot escape through the default either
    assert!(Cgroup::resolve(&l, None, "..", "0::/\n").is_err());
}

#[test]
fn cgroup_round_trips_through_json() {
    let l = detect_from(HOST_MOUNTINFO).unwrap();
    let mut cg = Cgroup::resolve(&l, None, "c1", HOST_CGROUP).unwrap();
    cg.created.push("/sys/fs/cgroup/memory/learnrt/c1".into());
    let s = serde_json::to_string(&cg).unwrap();
    assert_eq!(serde_json::from_str::<Cgroup>(&s).unwrap(), cg);
    assert!(s.contains("\"hybrid\""), "{s}");
}

// ---------------------------------------------------------------- create / destroy

#[test]
fn create_and_destroy_remove_only_what_we_made() {
    let t = Tmp::new("create");
    let l = fake_hybrid(&t.0);
    // /learnrt exists already in the memory hierarchy (made by someone else)
    std::fs::create_dir_all(t.0.join("memory/learnrt")).unwrap();
    let mut cg = Cgroup::resolve(&l, None, "c1", "").unwrap();
    cg.create(&Linux).unwrap();
    for c in V1_CTRLS {
        assert!(t.0.join(c).join("learnrt/c1").is_dir(), "{c}");
    }
    assert!(t.0.join("unified/learnrt/c1").is_dir());
    assert!(cg.created.contains(&t.0.join("pids/learnrt")));
    assert!(!cg.created.contains(&t.0.join("memory/learnrt")));
    assert!(cg.created.contains(&t.0.join("memory/learnrt/c1")));
    // parents come before children
    let i = cg
        .created
        .iter()
        .position(|p| p == &t.0.join("pids/learnrt"))
        .unwrap();
    let j = cg
        .created
        .iter()
        .position(|p| p == &t.0.join("pids/learnrt/c1"))
        .unwrap();
    assert!(i < j);

    populate_v1(&cg);
    unpopulate(&cg);
    // Another container still lives under the pre-existing parent.
    std::fs::create_dir(t.0.join("memory/learnrt/other")).unwrap();
    cg.destroy(&Linux).unwrap();
    for c in V1_CTRLS {
        assert!(!t.0.join(c).join("learnrt/c1").exists(), "{c}");
    }
    assert!(
        t.0.join("memory/learnrt").is_dir(),
        "a parent another container still uses must stay"
    );
    // Once that one is gone too, the last one out removes the empty
    // default parent, whoever made it.
    std::fs::remove_dir(t.0.join("memory/learnrt/other")).unwrap();
    cg.destroy(&Linux).unwrap();
    assert!(!t.0.join("memory/learnrt").exists());
    assert!(!t.0.join("pids/learnrt").exists());
    // destroying twice is fine
    cg.destroy(&Linux).unwrap();
}

#[test]
fn create_refuses_a_cgroup_with_processes_and_cleans_up() {
    let t = Tmp::new("busy");
    let l = fake_hybrid(&t.0);
    touch(
        &t.0.join("pids/learnrt/c1"),
        &[("cgroup.procs", "4242\n4243\n")],
    );
    let mut cg = Cgroup::resolve(&l, None, "c1", "").unwrap();
    let e = cg.create(&Linux).unwrap_err();
    let s = e.to_string();
    assert!(s.contains("already holds processes [4242, 4243]"), "{s}");
    assert!(s.contains("pids/learnrt/c1"), "{s}");
    assert!(cg.created.is_empty());
    // what create made before it noticed was removed again
    assert!(!t.0.join("blkio/learnrt").exists());
}

#[test]
fn create_copies_cpuset_from_parent() {
    let t = Tmp::new("cpuset");
    let l = fake_hybrid(&t.0);
    touch(
        &t.0.join("cpuset"),
        &[("cpuset.cpus", "0-3\n"), ("cpuset.mems", "0\n")],
    );
    touch(
        &t.0.join("cpuset/learnrt"),
        &[("cpuset.cpus", "\n"), ("cpuset.mems", "\n")],
    );
    touch(
        &t.0.join("cpuset/learnrt/c1"),
        &[("cpuset.cpus", ""), ("cpuset.mems", "0\n")],
    );
    let mut cg = Cgroup::resolve(&l, None, "c1", "").unwrap();
    cg.create(&Linux).unwrap();
    assert_eq!(
        std::fs::read_to_string(t.0.join("cpuset/learnrt/cpuset.cpus")).unwrap(),
        "0-3"
    );
    assert_eq!(
        std::fs::read_to_string(t.0.join("cpuset/learnrt/c1/cpuset.cpus")).unwrap(),
        "0-3"
    );
    assert_eq!(
        std::fs::read_to_string(t.0.join("cpuset/learnrt/c1/cpuset.mems")).unwrap(),
        "0\n"
    );
}

#[test]
fn create_v2_enables_controllers_on_ancestors_only() {
    let t = Tmp::new("v2create");
    let l = Layout::V2 { root: t.0.clone() };
    touch(
        &t.0,
        &[
            ("cgroup.controllers", "cpuset cpu io memory pids\n"),
            ("cgroup.subtree_control", "cpu\n"),
        ],
    );
    let mut cg = Cgroup::resolve(&l, None, "c1", "0::/\n").unwrap();
    let r = Recording::new();
    cg.create(&r).unwrap();
    let w = writes(&r, &t.0);
    assert_eq!(
        w,
        vec![
            "write(\"/cgroup.subtree_control\" <- \"+cpuset\")",
            "write(\"/cgroup.subtree_control\" <- \"+io\")",
            "write(\"/cgroup.subtree_control\" <- \"+memory\")",
            "write(\"/cgroup.subtree_control\" <- \"+pids\")",
        ]
    );
    let mk: Vec<String> = r
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("mkdir"))
        .map(|l| l.replace(&t.0.display().to_string(), ""))
        .collect();
    assert_eq!(
        mk,
        vec![
            "mkdir(\"/learnrt\", 0o755)",
            "mkdir(\"/learnrt/c1\", 0o755)"
        ]
    );
}

#[test]
fn mkdir_failure_is_explained() {
    let t = Tmp::new("mkfail");
    let l = Layout::V2 { root: t.0.clone() };
    let mut cg = Cgroup::resolve(&l, None, "c1", "0::/\n").unwrap();
    let r = Recording::failing("mkdir", Errno::EACCES);
    let s = cg.create(&r).unwrap_err().to_string();
    assert!(
        s.starts_with("mkdir ") && s.contains("EACCES") && s.contains("root"),
        "{s}"
    );
}

// ---------------------------------------------------------------- apply v1

fn v1_cgroup(t: &Tmp) -> Cgroup {
    let l = fake_hybrid(&t.0);
    let mut cg = Cgroup::resolve(&l, None, "c1", "").unwrap();
    cg.create(&Linux).unwrap();
    populate_v1(&cg);
    cg
}

#[test]
fn v1_apply_writes_every_resource_to_the_right_file() {
    let t = Tmp::new("v1apply");
    let cg = v1_cgroup(&t);
    let r = Recording::new();
    let warnings = cg
        .apply(
            &r,
            &res(json!({
                "memory": {"limit": 104857600, "reservation": 52428800, "swap": 209715200,
                           "kernel": 1000000, "kernelTCP": 2000000, "swappiness": 10, "disableOOMKiller": true},
                "cpu": {"shares": 512, "quota": 50000, "period": 100000, "realtimeRuntime": 950,
                        "realtimePeriod": 1000, "cpus": "0-1", "mems": "0", "idle": 1},
                "pids": {"limit": 64},
                "blockIO": {"weight": 500, "leafWeight": 300,
                            "weightDevice": [{"major": 8, "minor": 0, "weight": 600}],
                            "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                            "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 100}]},
                "devices": [{"allow": false, "access": "rwm"},
                            {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"},
                            {"allow": false, "type": "b", "major": 8, "access": "w"}]
            })),
        )
        .unwrap();
    let m = "/memory/learnrt/c1";
    let c = "/cpu/learnrt/c1";
    let b = "/blkio/learnrt/c1";
    let d = "/devices/learnrt/c1";
    let mut want: Vec<String> = vec![
        format!("{m}/memory.limit_in_bytes\" <- \"104857600"),
        format!("{m}/memory.memsw.limit_in_bytes\" <- \"209715200"),
        format!("{m}/memory.soft_limit_in_bytes\" <- \"52428800"),
        format!("{m}/memory.kmem.limit_in_bytes\" <- \"1000000"),
        format!("{m}/memory.swappiness\" <- \"10"),
        format!("{m}/memory.oom_control\" <- \"1"),
        format!("{c}/cpu.shares\" <- \"512"),
        format!("{c}/cpu.cfs_period_us\" <- \"100000"),
        format!("{c}/cpu.cfs_quota_us\" <- \"50000"),
        format!("{c}/cpu.rt_period_us\" <- \"1000"),
        format!("{c}/cpu.rt_runtime_us\" <- \"950"),
        format!("{c}/cpu.idle\" <- \"1"),
        "/cpuset/learnrt/c1/cpuset.cpus\" <- \"0-1".into(),
        "/cpuset/learnrt/c1/cpuset.mems\" <- \"0".into(),
        "/pids/learnrt/c1/pids.max\" <- \"64".into(),
        format!("{b}/blkio.bfq.weight\" <- \"500"),
        format!("{b}/blkio.bfq.weight_device\" <- \"8:0 600"),
        format!("{b}/blkio.throttle.read_bps_device\" <- \"8:0 1048576"),
        format!("{b}/blkio.throttle.write_iops_device\" <- \"8:16 100"),
        format!("{d}/devices.deny\" <- \"a"),
        format!("{d}/devices.deny\" <- \"a *:* rwm"),
        format!("{d}/devices.allow\" <- \"c 10:229 rw"),
        format!("{d}/devices.deny\" <- \"b 8:* w"),
    ];
    want.extend(
        v1::DEFAULT_ALLOWED_DEVICES
            .iter()
            .map(|r| format!("{d}/devices.allow\" <- \"{r}")),
    );
    let want: Vec<String> = want
        .into_iter()
        .map(|w| format!("write(\"{w}\")"))
        .collect();
    assert_eq!(writes(&r, &t.0), want);
    // kernelTCP and leafWeight files are missing on this fake host: warnings
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].starts_with("linux.resources.memory.kernelTCP: ignored"));
    assert!(warnings[1].starts_with("linux.resources.blockIO.leafWeight: ignored"));
}

#[test]
fn v1_memory_raises_memsw_first_when_growing() {
    let t = Tmp::new("memsw");
    let cg = v1_cgroup(&t);
    std::fs::write(cg.v1["memory"].join("memory.limit_in_bytes"), "1048576\n").unwrap();
    let r = Recording::new();
    cg.apply(
        &r,
        &res(json!({"memory": {"limit": 4194304, "swap": 8388608}})),
    )
    .unwrap();
    let w = writes(&r, &t.0);
    assert!(
        w[0].contains("memory.memsw.limit_in_bytes\" <- \"8388608"),
        "{w:?}"
    );
    assert!(
        w[1].contains("memory.limit_in_bytes\" <- \"4194304"),
        "{w:?}"
    );
    // swap -1: memsw first as well
    let r = Recording::new();
    cg.apply(&r, &res(json!({"memory": {"limit": 1024, "swap": -1}})))
        .unwrap();
    assert!(writes(&r, &t.0)[0].contains("memsw.limit_in_bytes\" <- \"-1"));
}

#[test]
fn v1_pids_minus_one_and_zero_mean_max() {
    let t = Tmp::new("pids");
    let cg = v1_cgroup(&t);
    for l in [-1, 0] {
        let r = Recording::new();
        cg.apply(&r, &res(json!({"pids": {"limit": l}}))).unwrap();
        assert_eq!(
            writes(&r, &t.0),
            vec!["write(\"/pids/learnrt/c1/pids.max\" <- \"max\")"]
        );
    }
}

#[test]
fn v1_clamped_shares_are_an_error() {
    let t = Tmp::new("shares");
    let cg = v1_cgroup(&t);
    std::fs::write(cg.v1["cpu"].join("cpu.shares"), "262144\n").unwrap();
    let e = cg
        .apply(&Recording::new(), &res(json!({"cpu": {"shares": 300000}})))
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("linux.resources.cpu.shares: the kernel changed 300000 to 262144"),
        "{e}"
    );
}

#[test]
fn v1_update_skips_devices_and_checks_usage() {
    let t = Tmp::new("update");
    let cg = v1_cgroup(&t);
    let r = Recording::new();
    cg.update(
        &r,
        &res(json!({"devices": [{"allow": false, "access": "rwm"}], "pids": {"limit": 5}})),
    )
    .unwrap();
    assert_eq!(writes(&r, &t.0).len(), 1);
    // usage is 4096 in the fake tree
    let e = cg
        .update(
            &r,
            &res(json!({"memory": {"limit": 1024, "checkBeforeUpdate": true}})),
        )
        .unwrap_err();
    assert!(
        e.to_string().contains(
            "linux.resources.memory.limit: new limit 1024 is below the current usage 4096"
        ),
        "{e}"
    );
    cg.update(
        &r,
        &res(json!({"memory": {"limit": 8192, "checkBeforeUpdate": true}})),
    )
    .unwrap();
}

#[test]
fn v1_missing_controller_and_unified_are_errors() {
    let t = Tmp::new("missing");
    let cg = v1_cgroup(&t);
    let e = cg
        .apply(
            &Recording::new(),
            &res(json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]})),
        )
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("\"hugetlb\" controller is not mounted"),
        "{e}"
    );
    let e = cg
        .apply(
            &Recording::new(),
            &res(json!({"unified": {"memory.high": "1M"}})),
        )
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("linux.resources.unified: this host uses cgroup hybrid"),
        "{e}"
    );
    // network on a host without net_cls / net_prio: warnings, not silence
    let w = cg
        .apply(
            &Recording::new(),
            &res(
                json!({"network": {"classID": 1, "priorities": [{"name": "eth0", "priority": 5}]}}),
            ),
        )
        .unwrap();
    assert_eq!(w.len(), 2, "{w:?}");
}

#[test]
fn write_errors_say_path_errno_and_hint() {
    let t = Tmp::new("ebusy");
    let cg = v1_cgroup(&t);
    let r = Recording::failing("write(\"", Errno::EBUSY);
    let e = cg
        .apply(&r, &res(json!({"memory": {"limit": 1048576}})))
        .unwrap_err();
    let s = e.to_string();
    assert!(s.starts_with("write "), "{s}");
    assert!(
        s.contains("memory/learnrt/c1/memory.limit_in_bytes <- \"1048576\": EBUSY"),
        "{s}"
    );
    assert!(s.contains("below current usage"), "{s}");
    assert_eq!(e.errno(), Some(Errno::EBUSY));
}

#[test]
fn bad_values_name_the_field() {
    let l = Layout::V2 { root: "/x".into() };
    for (v, field) in [
        (
            json!({"memory": {"limit": -2}}),
            "linux.resources.memory.limit:",
        ),
        (
            json!({"memory": {"limit": 100, "swap": 50}}),
            "linux.resources.memory.swap:",
        ),
        (
            json!({"memory": {"swap": 50}}),
            "linux.resources.memory.swap:",
        ),
        (
            json!({"memory": {"swappiness": 101}}),
            "linux.resources.memory.swappiness:",
        ),
        (json!({"cpu": {"quota": -5}}), "linux.resources.cpu.quota:"),
        (
            json!({"cpu": {"period": 10}}),
            "linux.resources.cpu.period:",
        ),
        (json!({"cpu": {"shares": 1}}), "linux.resources.cpu.shares:"),
        (json!({"cpu": {"idle": 3}}), "linux.resources.cpu.idle:"),
        (
            json!({"pids": {"limit": -7}}),
            "linux.resources.pids.limit:",
        ),
        (
            json!({"blockIO": {"weight": 5}}),
            "linux.resources.blockIO.weight:",
        ),
        (
            json!({"blockIO": {"throttleReadBpsDevice": [{"major": -1, "minor": 0, "rate": 1}]}}),
            "linux.resources.blockIO.throttleReadBpsDevice[0]:",
        ),
        (
            json!({"hugepageLimits": [{"pageSize": "2M", "limit": 1}]}),
            "linux.resources.hugepageLimits[0].pageSize:",
        ),
        (
            json!({"devices": [{"allow": true, "access": "rwx"}]}),
            "linux.resources.devices[0].access:",
        ),
        (
            json!({"unified": {"../x": "1"}}),
            "linux.resources.unified[\"../x\"]:",
        ),
    ] {
        let e = validate(&l, &res(v.clone())).unwrap_err();
        assert!(e.to_string().starts_with(field), "{v}: {e}");
    }
}

// ---------------------------------------------------------------- apply v2

fn v2_cgroup(t: &Tmp) -> Cgroup {
    let l = Layout::V2 { root: t.0.clone() };
    let cg = Cgroup::resolve(&l, None, "c1", "0::/\n").unwrap();
    touch(
        cg.unified.as_ref().unwrap(),
        &[
            ("cgroup.procs", ""),
            ("memory.max", "max\n"),
            ("memory.low", "0\n"),
            ("memory.swap.max", "max\n"),
            ("memory.current", "4096\n"),
            ("memory.high", "max\n"),
            ("cpu.weight", "100\n"),
            ("cpu.max", "max 100000\n"),
            ("cpu.max.burst", "0\n"),
            ("cpu.idle", "0\n"),
            ("cpuset.cpus", ""),
            ("cpuset.mems", ""),
            ("pids.max", "max\n"),
            ("io.weight", "default 100\n"),
            ("io.max", ""),
            ("hugetlb.2MB.max", "max\n"),
            ("cgroup.freeze", "0\n"),
            ("cgroup.events", "populated 1\nfrozen 0\n"),
        ],
    );
    cg
}

#[test]
fn v2_apply_converts_and_writes_every_resource() {
    let t = Tmp::new("v2apply");
    let cg = v2_cgroup(&t);
    let r = Recording::new();
    let warnings = cg
        .apply(
            &r,
            &res(json!({
                "memory": {"limit": 104857600, "reservation": 52428800, "swap": 209715200,
                           "kernel": 1, "swappiness": 10, "disableOOMKiller": true},
                "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "burst": 1000,
                        "cpus": "0-1", "mems": "0", "idle": 1, "realtimeRuntime": 5},
                "pids": {"limit": -1},
                "blockIO": {"weight": 500, "weightDevice": [{"major": 8, "minor": 0, "weight": 1000}],
                            "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                            "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 0}]},
                "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
                "unified": {"memory.high": "50M"}
            })),
        )
        .unwrap();
    let d = "/learnrt/c1";
    let want: Vec<String> = [
        "memory.swap.max\" <- \"104857600",
        "memory.max\" <- \"104857600",
        "memory.low\" <- \"52428800",
        "cpu.weight\" <- \"39",
        "cpu.max\" <- \"50000 100000",
        "cpu.max.burst\" <- \"1000",
        "cpu.idle\" <- \"1",
        "cpuset.cpus\" <- \"0-1",
        "cpuset.mems\" <- \"0",
        "pids.max\" <- \"max",
        "io.weight\" <- \"4950",
        "io.weight\" <- \"8:0 10000",
        "io.max\" <- \"8:0 rbps=1048576",
        "io.max\" <- \"8:0 wiops=max",
        "hugetlb.2MB.max\" <- \"4194304",
        "memory.high\" <- \"50M",
    ]
    .iter()
    .map(|w| format!("write(\"{d}/{w}\")"))
    .collect();
    assert_eq!(writes(&r, &t.0), want);
    let joined = warnings.join("\n");
    for w in [
        "memory.kernel",
        "memory.swappiness",
        "disableOOMKiller",
        "realtimeRuntime",
    ] {
        assert!(joined.contains(w), "missing warning {w}: {joined}");
    }
}

#[test]
fn v2_devices_need_a_real_cgroup2_directory() {
    // Device rules become an eBPF program (devices_bpf.rs); it can only be
    // attached to a directory on a cgroup2 filesystem, which this fake
    // tree is not: a clear error, no silent "not enforced".
    let t = Tmp::new("v2devices");
    let cg = v2_cgroup(&t);
    let e = cg
        .apply(
            &Recording::new(),
            &res(json!({"devices": [{"allow": false, "access": "rwm"}]})),
        )
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("linux.resources.devices:") && e.contains("not on a cgroup2 filesystem"),
        "{e}"
    );
    // update without device rules leaves the program alone
    cg.update(&Recording::new(), &res(json!({"devices": []})))
        .unwrap();
}

#[test]
fn v2_conversions_match_runc() {
    assert_eq!(v2::shares_to_weight(2), 1);
    assert_eq!(v2::shares_to_weight(1024), 39);
    assert_eq!(v2::shares_to_weight(262_144), 10_000);
    assert_eq!(v2::shares_to_weight(0), 0);
    assert_eq!(v2::blkio_weight_to_io_weight(10), 1);
    assert_eq!(v2::blkio_weight_to_io_weight(1000), 10_000);
    assert_eq!(v2::swap_to_v2(Some(-1), Some(5)), Some("max".into()));
    assert_eq!(v2::swap_to_v2(Some(300), Some(100)), Some("200".into()));
    assert_eq!(v2::swap_to_v2(Some(100), Some(100)), Some("0".into()));
    assert_eq!(v2::swap_to_v2(None, Some(100)), None);
}

#[test]
fn v2_missing_controller_file_is_an_error_with_hint() {
    let t = Tmp::new("v2missing");
    let cg = v2_cgroup(&t);
    std::fs::remove_file(cg.unified.as_ref().unwrap().join("pids.max")).unwrap();
    let e = cg
        .apply(&Recording::new(), &res(json!({"pids": {"limit": 10}})))
        .unwrap_err();
    let s = e.to_string();
    assert!(
        s.starts_with("linux.resources.pids.limit:") && s.contains("cgroup.subtree_control"),
        "{s}"
    );
    let e = cg
        .apply(
            &Recording::new(),
            &res(json!({"unified": {"nope.max": "1"}})),
        )
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("linux.resources.unified[\"nope.max\"]"),
        "{e}"
    );
}

// ---------------------------------------------------------------- processes, freezer

#[test]
fn add_pid_writes_every_hierarchy_once() {
    let l = detect_from(V1_MOUNTINFO).unwrap();
    let cg = Cgroup::resolve(&l, None, "c1", "").unwrap();
    let r = Recording::new();
    cg.add_pid(&r, 42).unwrap();
    let w = r.lines();
    // cpu,cpuacct and net_cls,net_prio are shared: 7 distinct hierarchies
    assert_eq!(w.len(), 7, "{w:?}");
    assert!(w.contains(
        &"write(\"/sys/fs/cgroup/cpu,cpuacct/learnrt/c1/cgroup.procs\" <- \"42\")".to_string()
    ));
    let e = cg
        .add_pid(&Recording::failing("write", Errno::ESRCH), 42)
        .unwrap_err();
    assert!(e.to_string().contains("already exited"), "{e}");
}

#[test]
fn pids_are_collected_recursively() {
    let t = Tmp::new("pids");
    let cg = v1_cgroup(&t);
    std::fs::write(cg.v1["pids"].join("cgroup.procs"), "10\n11\n").unwrap();
    touch(&cg.v1["pids"].join("sub"), &[("cgroup.procs", "12\n")]);
    std::fs::write(cg.v1["memory"].join("cgroup.procs"), "11\n10\n").unwrap();
    assert_eq!(cg.pids().unwrap(), vec![10, 11, 12]);
}

#[test]
fn v1_freeze_and_thaw() {
    let t = Tmp::new("freeze1");
    let cg = v1_cgroup(&t);
    assert!(!cg.is_frozen());
    cg.freeze(&Linux).unwrap();
    assert!(cg.is_frozen());
    let st = cg.v1["freezer"].join("freezer.state");
    assert_eq!(std::fs::read_to_string(&st).unwrap(), "FROZEN");
    cg.thaw(&Linux).unwrap();
    assert_eq!(std::fs::read_to_string(&st).unwrap(), "THAWED");
    assert!(!cg.is_frozen());
}

#[test]
fn v2_freeze_waits_for_cgroup_events() {
    let t = Tmp::new("freeze2");
    let cg = v2_cgroup(&t);
    let dir = cg.unified.clone().unwrap();
    std::fs::write(dir.join("cgroup.events"), "populated 1\nfrozen 1\n").unwrap();
    cg.freeze(&Linux).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("cgroup.freeze")).unwrap(),
        "1"
    );
    assert!(cg.is_frozen());
    cg.thaw(&Linux).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("cgroup.freeze")).unwrap(),
        "0"
    );
}

#[test]
fn oom_kill_count_reads_both_versions() {
    let t = Tmp::new("oom");
    assert_eq!(v1_cgroup(&t).oom_kill_count(), 3);
    let t2 = Tmp::new("oom2");
    let cg = v2_cgroup(&t2);
    std::fs::write(
        cg.unified.as_ref().unwrap().join("memory.events"),
        "low 0\noom 2\noom_kill 1\n",
    )
    .unwrap();
    assert_eq!(cg.oom_kill_count(), 1);
}

// ---------------------------------------------------------------- stats

#[test]
fn v1_stats_have_runcs_shape() {
    let t = Tmp::new("stats1");
    let l = fake_hybrid(&t.0);
    let cg = Cgroup::resolve(&l, None, "c1", "").unwrap();
    for d in cg.dirs() {
        std::fs::create_dir_all(d).unwrap();
    }
    touch(
        &cg.v1["cpuacct"],
        &[
            ("cpuacct.usage", "123456789\n"),
            ("cpuacct.usage_percpu", "100 200 \n"),
            ("cpuacct.usage_all", "cpu user system\n0 60 40\n1 150 50\n"),
            ("cpuacct.stat", "user 10\nsystem 5\n"),
        ],
    );
    touch(
        &cg.v1["cpu"],
        &[(
            "cpu.stat",
            "nr_periods 10\nnr_throttled 2\nthrottled_time 3000\n",
        )],
    );
    touch(
        &cg.v1["memory"],
        &[
            ("memory.usage_in_bytes", "4096\n"),
            ("memory.max_usage_in_bytes", "8192\n"),
            ("memory.failcnt", "1\n"),
            ("memory.limit_in_bytes", "104857600\n"),
            ("memory.memsw.usage_in_bytes", "4096\n"),
            ("memory.memsw.limit_in_bytes", "209715200\n"),
            ("memory.memsw.failcnt", "0\n"),
            ("memory.stat", "cache 100\nrss 200\n"),
        ],
    );
    touch(
        &cg.v1["pids"],
        &[("pids.current", "3\n"), ("pids.max", "max\n")],
    );
    touch(
        &cg.v1["cpuset"],
        &[
            ("cpuset.cpus", "0-2,5\n"),
            ("cpuset.mems", "0\n"),
            ("cpuset.sched_load_balance", "1\n"),
        ],
    );
    touch(
        &cg.v1["blkio"],
        &[
            (
                "blkio.throttle.io_service_bytes_recursive",
                "8:0 Read 4096\n8:0 Write 0\nTotal 4096\n",
            ),
            (
                "blkio.throttle.io_serviced_recursive",
                "8:0 Read 1\n8:0 Write 0\nTotal 1\n",
            ),
        ],
    );
    let s = cg.stats().unwrap();
    let tick_ns = 1_000_000_000 / super::stats::clock_ticks();
    assert_eq!(
        s["cpu"],
        json!({
            "usage": {"total": 123456789u64, "percpu": [100, 200], "percpu_kernel": [40, 50],
                      "percpu_user": [60, 150], "kernel": 5 * tick_ns, "user": 10 * tick_ns},
            "throttling": {"periods": 10, "throttledPeriods": 2, "throttledTime": 3000}
        })
    );
    assert_eq!(
        s["memory"],
        json!({
            "cache": 100,
            "usage": {"limit": 104857600, "usage": 4096, "max": 8192, "failcnt": 1},
            "swap": {"limit": 209715200, "usage": 4096, "failcnt": 0},
            "kernel": {"limit": 0, "failcnt": 0},
            "kernelTCP": {"limit": 0, "failcnt": 0},
            "raw": {"cache": 100, "rss": 200}
        })
    );
    assert_eq!(s["pids"], json!({"current": 3}));
    assert_eq!(
        s["blkio"],
        json!({
            "ioServiceBytesRecursive": [{"major": 8, "op": "Read", "value": 4096}, {"major": 8, "op": "Write"}],
            "ioServicedRecursive": [{"major": 8, "op": "Read", "value": 1}, {"major": 8, "op": "Write"}]
        })
    );
    assert_eq!(s["cpuset"]["cpus"], json!([0, 1, 2, 5]));
    assert_eq!(s["cpuset"]["sched_load_balance"], json!(1));
    assert_eq!(s["hugetlb"], json!({}));
    assert_eq!(s["intel_rdt"], json!({}));
    assert!(s["network_interfaces"].is_null());
}

#[test]
fn v2_stats_have_runcs_shape() {
    let t = Tmp::new("stats2");
    let cg = v2_cgroup(&t);
    touch(
        cg.unified.as_ref().unwrap(),
        &[
            ("cpu.stat", "usage_usec 1000\nuser_usec 600\nsystem_usec 400\nnr_periods 5\nnr_throttled 1\nthrottled_usec 7\n"),
            ("memory.peak", "8192\n"),
            ("memory.events", "low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n"),
            ("memory.swap.current", "0\n"),
            ("memory.stat", "anon 10\nfile 20\n"),
            ("pids.current", "2\n"),
            ("pids.max", "100\n"),
            ("io.stat", "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n"),
            ("hugetlb.2MB.current", "0\n"),
            ("hugetlb.2MB.events", "max 4\n"),
        ],
    );
    let s = cg.stats().unwrap();
    assert_eq!(
        s["cpu"],
        json!({
            "usage": {"total": 1000000, "kernel": 400000, "user": 600000},
            "throttling": {"periods": 5, "throttledPeriods": 1, "throttledTime": 7000}
        })
    );
    assert_eq!(
        s["memory"]["usage"],
        json!({"limit": u64::MAX, "usage": 4096, "max": 8192, "failcnt": 2})
    );
    assert_eq!(
        s["memory"]["swap"],
        json!({"limit": u64::MAX, "usage": 4096, "failcnt": 0})
    );
    assert_eq!(s["memory"]["cache"], json!(20));
    assert_eq!(s["pids"], json!({"current": 2, "limit": 100}));
    assert_eq!(
        s["blkio"]["ioServiceBytesRecursive"],
        json!([{"major": 8, "op": "Read", "value": 4096}, {"major": 8, "op": "Write", "value": 8192}])
    );
    assert_eq!(s["hugetlb"], json!({"2MB": {"failcnt": 4}}));
}

#[test]
fn stats_of_a_deleted_cgroup_is_a_clear_error() {
    let l = Layout::V2 {
        root: "/nonexistent-learnrt".into(),
    };
    let cg = Cgroup::resolve(&l, None, "c1", "0::/\n").unwrap();
    let e = cg.stats().unwrap_err();
    assert!(e.to_string().contains("no longer exists"), "{e}");
}

#[test]
fn steps_are_well_formed() {
    for s in [&CGROUPS, &FREEZE, &THAW] {
        assert_eq!(s.stage, 4);
        assert!(s.id.starts_with("cgroups"));
        assert!(!s.why.is_empty() && !s.shell.is_empty() && !s.look.is_empty());
        assert!(s.man.contains(&"cgroups(7)"));
    }
    assert!(CGROUPS.config.contains(&"linux.cgroupsPath"));
    assert!(CGROUPS
        .look
        .iter()
        .any(|l| l.contains("/proc/{pid}/cgroup")));
}

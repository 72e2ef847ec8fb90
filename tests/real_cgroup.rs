//! Root only: a real cgroup on this machine, end to end.
//!
//! Skips with a message when not root; fails when CI=true and not root.

use std::path::PathBuf;
use std::process::{Child, Command};

use learnrt::cgroups::{detect, Cgroup, CgroupError};
use learnrt::sys::Linux;

fn need_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("this test needs root and CI=true: run it as root");
    }
    eprintln!("SKIPPED: real cgroup test needs root");
    false
}

/// Cleans up on every exit path, including a failed assertion.
struct Guard {
    cg: Cgroup,
    child: Option<Child>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.cg.thaw(&Linux);
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Err(e) = self.cg.destroy(&Linux) {
            eprintln!("cleanup: {e}");
        }
    }
}

fn read(p: PathBuf) -> String {
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

#[test]
fn real_cgroup_limits_processes_freezer_and_cleanup() {
    if !need_root() {
        return;
    }
    let layout = detect().expect("detect");
    let self_cg = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let path = format!("/learnrt-test-{}-{nanos}/c1", std::process::id());
    let mut cg = Cgroup::resolve(&layout, Some(&path), "c1", &self_cg).expect("resolve");
    cg.create(&Linux).expect("create");
    let mut g = Guard {
        cg: cg.clone(),
        child: None,
    };
    assert!(!cg.created.is_empty());
    for d in cg.dirs() {
        assert!(d.is_dir(), "{} missing", d.display());
    }

    let res: oci_spec::runtime::LinuxResources = serde_json::from_value(serde_json::json!({
        "memory": {"limit": 67108864},
        "pids": {"limit": 32},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000},
        "devices": [{"allow": false, "access": "rwm"}]
    }))
    .unwrap();
    let warnings = cg.apply(&Linux, &res).expect("apply");
    eprintln!("warnings: {warnings:?}");

    let mem = cg.controller_dir("memory").unwrap().to_path_buf();
    let pids = cg.controller_dir("pids").unwrap().to_path_buf();
    let cpu = cg.controller_dir("cpu").unwrap().to_path_buf();
    assert_eq!(read(pids.join("pids.max")), "32");
    if cg.is_v2() {
        assert_eq!(read(mem.join("memory.max")), "67108864");
        assert_eq!(read(cpu.join("cpu.max")), "50000 100000");
        assert_eq!(read(cpu.join("cpu.weight")), "20");
    } else {
        assert_eq!(read(mem.join("memory.limit_in_bytes")), "67108864");
        assert_eq!(read(cpu.join("cpu.shares")), "512");
        assert_eq!(read(cpu.join("cpu.cfs_quota_us")), "50000");
        assert_eq!(read(cpu.join("cpu.cfs_period_us")), "100000");
        let list = read(cg.controller_dir("devices").unwrap().join("devices.list"));
        assert!(
            list.contains("c 1:3 rwm") && !list.contains("a *:* rwm"),
            "{list}"
        );
    }

    // A sleeping child, moved into the cgroup.
    let child = Command::new("sleep")
        .arg("60")
        .spawn()
        .expect("spawn sleep");
    let pid = child.id() as i32;
    g.child = Some(child);
    cg.add_pid(&Linux, pid).expect("add_pid");
    assert_eq!(cg.pids().unwrap(), vec![pid]);
    let proc_cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(proc_cg.contains(&path), "{proc_cg}");

    // Another container may not take the same cgroup while it is in use.
    let mut again = Cgroup::resolve(&layout, Some(&path), "c2", &self_cg).unwrap();
    match again.create(&Linux) {
        Err(CgroupError::Busy { pids, .. }) => assert_eq!(pids, vec![pid]),
        other => panic!("expected Busy, got {other:?}"),
    }

    cg.freeze(&Linux).expect("freeze");
    assert!(cg.is_frozen());
    cg.thaw(&Linux).expect("thaw");
    assert!(!cg.is_frozen());

    let s = cg.stats().expect("stats");
    eprintln!("stats: {s}");
    assert_eq!(s["pids"]["current"], 1);
    assert_eq!(s["pids"]["limit"], 32);
    assert_eq!(s["memory"]["usage"]["limit"], 67108864);
    assert_eq!(cg.oom_kill_count(), 0);

    // Clean up explicitly and check nothing is left.
    let mut c = g.child.take().unwrap();
    c.kill().unwrap();
    c.wait().unwrap();
    cg.destroy(&Linux).expect("destroy");
    for d in &cg.created {
        assert!(!d.exists(), "{} left behind", d.display());
    }
}

//! Root test: the cgroup v2 device program really allows and denies.
//!
//! Works on pure v2 and on hybrid hosts: any cgroup2 mount accepts
//! BPF_CGROUP_DEVICE programs, even one with no controllers enabled (the
//! hybrid /sys/fs/cgroup/unified). A temp cgroup gets a program compiled
//! from [deny all, allow c 1:3 rwm, allow c 1:5 r]; a forked child moves
//! itself in and tries to open and mknod device nodes.

mod common;

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use learnrt::cgroups::devices_bpf::{attached, compile, disassemble, install, Rule};
use learnrt::cgroups::{Cgroup, Layout};

/// A cgroup2 mount point from /proc/self/mounts.
fn cgroup2_mount() -> Option<PathBuf> {
    let m = std::fs::read_to_string("/proc/self/mounts").ok()?;
    m.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() > 2 && f[2] == "cgroup2").then(|| PathBuf::from(f[1]))
    })
}

/// A temp cgroup and a temp dir, removed on drop (also when the test fails).
struct Fixture {
    cg: PathBuf,
    tmp: PathBuf,
}

impl Fixture {
    fn new(mount: &Path) -> Fixture {
        let tag = format!(
            "learnrt-devtest-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let cg = mount.join(&tag);
        std::fs::create_dir(&cg).unwrap();
        let tmp = std::env::temp_dir().join(&tag);
        std::fs::create_dir(&tmp).unwrap();
        Fixture { cg, tmp }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.tmp);
        // Child cgroups first (a failed test may leave the Cgroup API's).
        for e in std::fs::read_dir(&self.cg).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                let _ = std::fs::remove_dir(e.path());
            }
        }
        // The child has exited, so the cgroup is empty; its programs are
        // detached by the kernel when the cgroup goes away.
        for _ in 0..50 {
            if std::fs::remove_dir(&self.cg).is_ok() || !self.cg.exists() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        eprintln!("warning: could not remove {}", self.cg.display());
    }
}

const PROBES: [&str; 6] = [
    "open /dev/null O_RDWR",
    "open /dev/zero O_RDONLY",
    "open /dev/zero O_WRONLY",
    "open /dev/full O_RDONLY",
    "mknod c 1:3",
    "mknod c 1:5",
];

/// Fork a child that writes "0" (itself) into `cg`/cgroup.procs, then tries
/// each probe; returns 0 or the errno per probe.
fn probe(f: &Fixture) -> [i32; 6] {
    probe_in(&f.cg, &f.tmp)
}

fn probe_in(cg: &Path, tmp: &Path) -> [i32; 6] {
    // Everything the child needs is allocated before fork: after fork in a
    // multi-threaded test binary the child only makes raw syscalls.
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).unwrap();
    let procs = c(&cg.join("cgroup.procs"));
    let null = c(Path::new("/dev/null"));
    let zero = c(Path::new("/dev/zero"));
    let full = c(Path::new("/dev/full"));
    let n1 = tmp.join("null");
    let n2 = tmp.join("zero");
    let _ = std::fs::remove_file(&n1);
    let _ = std::fs::remove_file(&n2);
    let (n1, n2) = (c(&n1), c(&n2));
    let mut pipe = [0i32; 2];
    // SAFETY: pipe writes two fds into the array.
    assert_eq!(
        unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) },
        0
    );
    // SAFETY: the child only calls async-signal-safe libc functions on
    // memory prepared above, then _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: raw syscalls on valid NUL-terminated strings; _exit at end.
        unsafe {
            let mut out = [0i32; 7];
            let err = || *libc::__errno_location();
            let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
            if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                out[6] = err();
            }
            libc::close(fd);
            let try_open = |p: &CString, fl: i32| {
                let fd = libc::open(p.as_ptr(), fl | libc::O_CLOEXEC);
                if fd < 0 {
                    err()
                } else {
                    libc::close(fd);
                    0
                }
            };
            let try_mknod = |p: &CString, minor: u32| {
                if libc::mknod(p.as_ptr(), libc::S_IFCHR | 0o600, libc::makedev(1, minor)) < 0 {
                    err()
                } else {
                    0
                }
            };
            if out[6] == 0 {
                out[0] = try_open(&null, libc::O_RDWR);
                out[1] = try_open(&zero, libc::O_RDONLY);
                out[2] = try_open(&zero, libc::O_WRONLY);
                out[3] = try_open(&full, libc::O_RDONLY);
                out[4] = try_mknod(&n1, 3);
                out[5] = try_mknod(&n2, 5);
            }
            libc::write(pipe[1], out.as_ptr().cast(), std::mem::size_of_val(&out));
            libc::_exit(0);
        }
    }
    // SAFETY: closing our copy of the write end; reading into a local array.
    let mut out = [0i32; 7];
    let n = unsafe {
        libc::close(pipe[1]);
        let n = libc::read(
            pipe[0],
            out.as_mut_ptr().cast(),
            std::mem::size_of_val(&out),
        );
        libc::close(pipe[0]);
        n
    };
    let mut status = 0;
    // SAFETY: reaping the child we forked.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(n as usize, std::mem::size_of_val(&out), "child died early");
    assert_eq!(
        out[6],
        0,
        "child could not join {}: errno {}",
        cg.display(),
        out[6]
    );
    out[..6].try_into().unwrap()
}

fn show(r: &[i32; 6]) -> String {
    PROBES
        .iter()
        .zip(r)
        .map(|(p, e)| {
            let v = if *e == 0 {
                "ok".into()
            } else {
                format!("{:?}", nix::errno::Errno::from_raw(*e))
            };
            format!("{p}: {v}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn device_program_allows_and_denies_and_is_replaced() {
    if !common::require_root() {
        return;
    }
    let Some(mount) = cgroup2_mount() else {
        eprintln!("skipping: no cgroup2 mount on this host");
        return;
    };
    let f = Fixture::new(&mount);
    const OK: i32 = 0;
    const EPERM: i32 = libc::EPERM;

    // Without a program everything works: what follows is the program's doing.
    let before = probe(&f);
    assert_eq!(before, [OK; 6], "baseline: {}", show(&before));

    let rules = [
        Rule::deny("a"),
        Rule::allow("c 1:3 rwm"),
        Rule::allow("c 1:5 r"),
    ];
    let prog = compile(&rules);
    eprintln!(
        "program ({} insns):\n{}",
        prog.len(),
        disassemble(&prog).join("\n")
    );
    let id = install(&f.cg, &prog).unwrap();
    assert_eq!(attached(&f.cg).unwrap(), vec![id]);
    let got = probe(&f);
    assert_eq!(got, [OK, OK, EPERM, EPERM, OK, EPERM], "{}", show(&got));

    // update: the new program replaces the old one (one program attached).
    let prog2 = compile(&[
        Rule::deny("a"),
        Rule::allow("c 1:7 r"),
        Rule::allow("c 1:5 m"),
    ]);
    let id2 = install(&f.cg, &prog2).unwrap();
    assert_ne!(id, id2);
    assert_eq!(attached(&f.cg).unwrap(), vec![id2]);
    let got = probe(&f);
    assert_eq!(got, [EPERM, EPERM, EPERM, OK, EPERM, OK], "{}", show(&got));
}

/// The whole v2 path: `Cgroup::apply` on a pure-v2 layout (any cgroup2
/// mount will do) compiles linux.resources.devices plus the defaults every
/// container gets, and attaches the program; `update` swaps it.
#[test]
fn cgroup_apply_on_v2_installs_config_rules_and_defaults() {
    if !common::require_root() {
        return;
    }
    let Some(mount) = cgroup2_mount() else {
        eprintln!("skipping: no cgroup2 mount on this host");
        return;
    };
    let f = Fixture::new(&mount);
    let sys = learnrt::sys::Linux;
    let layout = Layout::V2 { root: f.cg.clone() };
    let mut cg = Cgroup::resolve(&layout, Some("/c1"), "c1", "0::/\n").unwrap();
    cg.create(&sys).unwrap();
    let dir = cg.unified.clone().unwrap();
    let res = |v: serde_json::Value| -> oci_spec::runtime::LinuxResources {
        serde_json::from_value(serde_json::json!({ "devices": v })).unwrap()
    };
    // Record what --trace would show for the apply.
    let trace = f.tmp.join("trace.jsonl");
    learnrt::explain::install(
        &learnrt::explain::Settings {
            explain: std::env::var_os("LEARNRT_TEST_EXPLAIN").is_some(),
            step: false,
            trace: Some(trace.to_str().unwrap().to_string()),
        },
        learnrt::explain::Actor::Runtime,
    )
    .unwrap();
    // The usual config: deny everything; the defaults then allow null,
    // zero, full, ... and mknod of anything. The config's deny of /dev/full
    // loses: the defaults come after the config's rules (as in runc).
    let w = cg
        .apply(
            &sys,
            &res(serde_json::json!([
                {"allow": false, "access": "rwm"},
                {"allow": false, "type": "c", "major": 1, "minor": 7, "access": "rwm"}
            ])),
        )
        .unwrap();
    assert!(w.is_empty(), "{w:?}");
    let t = std::fs::read_to_string(&trace).unwrap();
    assert!(
        t.contains(r#""kind":"stage_start","stage":"cgroups.devices""#),
        "{t}"
    );
    assert!(
        t.contains("BPF_PROG_LOAD, {prog_type=BPF_PROG_TYPE_CGROUP_DEVICE, insn_cnt="),
        "{t}"
    );
    assert!(t.contains("BPF_PROG_ATTACH, {target_fd="), "{t}");
    assert_eq!(attached(&dir).unwrap().len(), 1);
    let got = probe_in(&dir, &f.tmp);
    assert_eq!(got, [0; 6], "{}", show(&got));

    // update with new rules: still one program, the new one.
    let before = attached(&dir).unwrap();
    cg.update(
        &sys,
        &res(serde_json::json!([{"allow": false, "access": "rwm"}])),
    )
    .unwrap();
    let after = attached(&dir).unwrap();
    assert_eq!(after.len(), 1);
    assert_ne!(before, after);
    // update without device rules leaves the program alone.
    cg.update(
        &sys,
        &serde_json::from_value(serde_json::json!({})).unwrap(),
    )
    .unwrap();
    assert_eq!(attached(&dir).unwrap(), after);
    cg.destroy(&sys).unwrap();
}

//! Helpers for the root integration tests. Each `tests/*.rs` says `mod common;`.
//!
//! ```ignore
//! mod common;
//! use common::*;
//!
//! #[test]
//! fn hostname_is_set() {
//!     if !require_root() { return; }
//!     let env = TestEnv::new();
//!     let bundle = env.bundle("b", &["/bin/hostname"]);
//!     let id = env.id("hostname");
//!     let out = env.run(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
//!     assert_success(&out);
//! }   // drop: `learnrt --root R delete -f <id>` for every id, then the temp dirs go
//! ```

// Every test file compiles this module and uses a part of it.
#![allow(dead_code)]

pub mod pty;

use std::cell::RefCell;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

#[allow(unused_imports)]
pub use pty::{expect, send, spawn_in_pty};

/// The learnrt binary cargo built for these tests.
pub fn learnrt() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_learnrt"))
}

/// True when running as root. Otherwise: under `CI=true` a test that needs
/// root must not pass silently, so panic; on a developer's machine, say it
/// is skipped and return false (the caller returns).
pub fn require_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "this test needs root, and CI=true: run the test suite as root (sudo -E cargo test)"
        );
    }
    eprintln!("skipping: needs root");
    false
}

/// Panic with the command's stdout and stderr unless it exited 0.
pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "expected success, got {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Panic unless the command failed; returns its stderr for further checks.
pub fn assert_failure(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "expected failure, got success\n--- stdout\n{}\n--- stderr\n{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// One test's world: a private `--root` for learnrt's state and a work dir
/// for bundles, both in a fresh temp dir. On drop, every container id handed
/// out by [`TestEnv::id`] is force-deleted, then the temp dir is removed
/// (after checking that nothing is still mounted under it).
pub struct TestEnv {
    /// The temp dir holding both of the below.
    pub base: PathBuf,
    /// Passed as `--root` to every learnrt command.
    pub root: PathBuf,
    /// Where bundles are made.
    pub dir: PathBuf,
    ids: RefCell<Vec<String>>,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        let base = std::env::temp_dir().join(format!(
            "learnrt-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        // A leftover from a killed run with the same pid: start clean.
        if base.exists() {
            remove_tree(&base);
        }
        let root = base.join("state");
        let dir = base.join("work");
        fs::create_dir_all(&root).unwrap_or_else(|e| panic!("mkdir {}: {e}", root.display()));
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        TestEnv {
            base,
            root,
            dir,
            ids: RefCell::new(Vec::new()),
        }
    }

    /// A container id unique to this test run (`name-<pid>-<n>`), to be
    /// force-deleted on drop. `name` should be a valid id prefix.
    pub fn id(&self, name: &str) -> String {
        let id = format!(
            "{name}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        self.ids.borrow_mut().push(id.clone());
        id
    }

    /// A busybox bundle at `<dir>/<name>` made by `learnrt mkbundle`, with
    /// `process.args = args` and `process.terminal = false`.
    pub fn bundle(&self, name: &str, args: &[&str]) -> PathBuf {
        let bundle = self.dir.join(name);
        let out = Command::new(learnrt())
            .arg("mkbundle")
            .arg(&bundle)
            .output()
            .expect("spawn learnrt mkbundle");
        assert!(
            out.status.success(),
            "learnrt mkbundle {} failed: {}\n{}",
            bundle.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        edit_config(&bundle, |config| {
            config["process"]["args"] = serde_json::json!(args);
            config["process"]["terminal"] = serde_json::Value::Bool(false);
        });
        bundle
    }

    /// `learnrt --root <root> <args...>`, ready to be adjusted (stdio, env,
    /// current dir) and spawned.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(learnrt());
        cmd.arg("--root").arg(&self.root).args(args);
        cmd
    }

    /// Run `learnrt --root <root> <args...>` to completion, capturing output.
    /// stdin is /dev/null so a container never reads the test's stdin.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("spawn learnrt {args:?}: {e}"))
    }
}

impl Default for TestEnv {
    fn default() -> Self {
        TestEnv::new()
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        for id in self.ids.borrow().iter() {
            let out = Command::new(learnrt())
                .arg("--root")
                .arg(&self.root)
                .args(["delete", "-f", id])
                .stdin(std::process::Stdio::null())
                .output();
            match out {
                Ok(out) if !out.status.success() => eprintln!(
                    "cleanup: learnrt delete -f {id}: {}: {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
                Err(e) => eprintln!("cleanup: spawn learnrt delete -f {id}: {e}"),
                Ok(_) => {}
            }
        }
        let mounts = mounts_under(&self.base);
        if !mounts.is_empty() {
            let msg = format!(
                "mounts left behind under {}: {} (a runtime bug: the test env is kept for inspection)",
                self.base.display(),
                mounts.join(", ")
            );
            if std::thread::panicking() {
                // A second panic would abort the whole test binary; the
                // first failure is already being reported.
                eprintln!("{msg}");
                return;
            }
            panic!("{msg}");
        }
        remove_tree(&self.base);
    }
}

/// The cgroup directories of container `id` under learnrt's default parent,
/// in every hierarchy (v1, hybrid) or the one v2 tree: after a delete, or
/// a failed create, there must be none.
pub fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    let mut found = vec![];
    let v2 = Path::new("/sys/fs/cgroup/learnrt").join(id);
    if v2.exists() {
        found.push(v2);
    }
    for e in fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        let p = e.path().join("learnrt").join(id);
        if p.exists() {
            found.push(p);
        }
    }
    found
}

/// Read `<bundle>/config.json`, let `f` change it, write it back.
pub fn edit_config(bundle: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let path = bundle.join("config.json");
    let text = fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut config: serde_json::Value =
        serde_json::from_slice(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()));
    f(&mut config);
    let text = serde_json::to_vec_pretty(&config).expect("serialize config.json");
    fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Mount points in this process's mount namespace at or below `dir`.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let dir = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let dir = dir.to_string_lossy().into_owned();
    let prefix = format!("{dir}/");
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        // Field 5 is the mount point, with space, tab, newline and backslash
        // written as octal escapes.
        .filter_map(|line| line.split(' ').nth(4))
        .map(unescape_mountinfo)
        .filter(|m| *m == dir || m.starts_with(&prefix))
        .collect()
}

fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let oct = std::str::from_utf8(&bytes[i + 1..i + 4]).unwrap();
            out.push(u8::from_str_radix(oct, 8).unwrap_or(b'?'));
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Remove `top` and everything below it without following symlinks and
/// without crossing into another filesystem: a directory on a different
/// device than `top` is a mount point the mountinfo check missed, which is
/// a bug to report, not to delete through.
fn remove_tree(top: &Path) {
    let Ok(meta) = fs::symlink_metadata(top) else {
        return;
    };
    let dev = meta.dev();
    remove_tree_on(top, dev);
}

fn remove_tree_on(path: &Path, dev: u64) {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(_) => return,
    };
    if meta.is_dir() {
        if meta.dev() != dev {
            panic!(
                "{} is on another filesystem (a mount point left behind): not removing it",
                path.display()
            );
        }
        // A container may leave a directory without write or search
        // permission for us (root ignores modes, but be safe for non-root
        // unit tests).
        let entries =
            fs::read_dir(path).unwrap_or_else(|e| panic!("read_dir {}: {e}", path.display()));
        for entry in entries.flatten() {
            remove_tree_on(&entry.path(), dev);
        }
        if let Err(e) = fs::remove_dir(path) {
            eprintln!("cleanup: rmdir {}: {e}", path.display());
        }
    } else if let Err(e) = fs::remove_file(path) {
        // Symlinks are removed themselves, never followed.
        eprintln!("cleanup: rm {}: {e}", path.display());
    }
}

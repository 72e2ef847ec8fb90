//! Real clients drive learnrt: Docker, Podman and containerd, each started
//! privately and offline by a script in tests/clients/ (see
//! book/src/clients.md). Each script prints one `ok - …` / `not ok - …` line
//! per check and `N passed, N failed`; a non-zero exit fails the test with the
//! script's whole output.
//!
//! Needs root and the clients (`.ci/run` installs docker.io, podman, conmon,
//! containerd, uidmap). Not root, or a client missing: the test says so and
//! skips, except under CI=true, where it fails.
//!
//! The scripts run one at a time (a lock): three daemons at once on a
//! two-core machine would make the timing checks (stop, wait) flaky.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn under_ci() -> bool {
    std::env::var("CI").map(|v| v == "true").unwrap_or(false)
}

/// The effective uid, read from the owner of /proc/self (no unsafe needed).
fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

fn in_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

/// Skip (with a message) on a developer's machine; fail under CI=true.
fn skip_or_fail(test: &str, why: &str) {
    if under_ci() {
        panic!("{test}: {why} (CI=true: this test must run)");
    }
    eprintln!("skipping {test}: {why}");
}

fn run_client_script(script: &str, needs: &[&str]) {
    let test = format!("tests/clients/{script}");
    if !is_root() {
        return skip_or_fail(&test, "needs root");
    }
    if let Some(missing) = needs.iter().find(|p| !in_path(p)) {
        return skip_or_fail(&test, &format!("{missing} is not installed"));
    }
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join(&test);
    let out = Command::new("bash")
        .arg(&path)
        .env("LEARNRT", env!("CARGO_BIN_EXE_learnrt"))
        .env_remove("LEARNRT_CLIENTS_NS")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Shown with --nocapture, and always on failure.
    println!("{text}");
    assert!(
        out.status.success(),
        "{test} failed ({}):\n{text}",
        out.status
    );
}

#[test]
fn docker_runs_containers_with_learnrt() {
    run_client_script("docker.sh", &["dockerd", "docker", "containerd", "ctr"]);
}

#[test]
fn podman_runs_containers_with_learnrt() {
    run_client_script("podman.sh", &["podman", "conmon"]);
}

#[test]
fn containerd_runs_containers_with_learnrt() {
    run_client_script(
        "containerd.sh",
        &["containerd", "ctr", "containerd-shim-runc-v2"],
    );
}

//! Every lab, end to end: runs `lessons/run-all.sh` with this build of
//! learnrt, in a temp work dir with a temp state root. Needs root.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

/// Both tests make a container called c1 (the tutorial's name) and learnrt's
/// cgroup is /learnrt/<id> whatever --root says: one at a time.
static C1: Mutex<()> = Mutex::new(());

#[test]
fn all_labs_pass_their_checkers() {
    if !nix::unistd::geteuid().is_root() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("tests/lessons.rs needs root, and CI=true: run the tests as root");
        }
        eprintln!("skipping all_labs_pass_their_checkers: needs root (run as root, or in CI)");
        return;
    }
    let _c1 = C1.lock().unwrap_or_else(|e| e.into_inner());
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = std::env::temp_dir().join(format!("learnrt-lessons-test-{}", std::process::id()));
    let state = tmp.join("state");
    std::fs::create_dir_all(&state).expect("temp state root");

    let out = Command::new("bash")
        .arg(repo.join("lessons/run-all.sh"))
        .env("LEARNRT", env!("CARGO_BIN_EXE_learnrt"))
        .env("LEARNRT_ROOT", &state)
        .env("NO_COLOR", "1")
        .current_dir(&tmp)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run lessons/run-all.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let _ = std::fs::remove_dir_all(&tmp);

    // Print the whole run: when a lab fails, its ✗ line says what and why.
    println!("{stdout}");
    eprintln!("{stderr}");
    let failures: Vec<&str> = stdout.lines().filter(|l| l.contains("] ✗ ")).collect();
    assert!(
        out.status.success() && failures.is_empty(),
        "lessons/run-all.sh failed ({}):\n{}",
        out.status,
        failures.join("\n")
    );
    assert!(stdout.contains("run-all: every lab passes"));
}

/// `learnrt tutorial --yes` walks all nine steps and leaves no container.
#[test]
fn tutorial_runs_straight_through() {
    if !nix::unistd::geteuid().is_root() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("tests/lessons.rs needs root, and CI=true: run the tests as root");
        }
        eprintln!("skipping tutorial_runs_straight_through: needs root");
        return;
    }
    let _c1 = C1.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = std::env::temp_dir().join(format!("learnrt-tutorial-test-{}", std::process::id()));
    let state = tmp.join("state");
    let dir = tmp.join("c1");
    std::fs::create_dir_all(&state).expect("temp state root");
    let exe = env!("CARGO_BIN_EXE_learnrt");

    let out = Command::new(exe)
        .arg("--root")
        .arg(&state)
        .args(["tutorial", "--yes", "--dir"])
        .arg(&dir)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run learnrt tutorial");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let list = Command::new(exe)
        .arg("--root")
        .arg(&state)
        .args(["list", "-q"])
        .output()
        .expect("learnrt list");
    let _ = std::fs::remove_dir_all(&tmp);

    assert!(
        out.status.success(),
        "tutorial failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    for want in [
        "$ learnrt --root",
        "Step 5",
        "terminal\": false",
        "aa.txt",
        "Step 9",
    ] {
        assert!(
            stdout.contains(want),
            "tutorial output lacks {want:?}:\n{stdout}"
        );
    }
    // The explanations (on stderr) of create, exec and delete.
    for want in [
        "] pivot_root — ",
        "pivot_root(\".\", \".\") = 0",
        "] namespaces.join — ",
        "] delete — ",
    ] {
        assert!(
            stderr.contains(want),
            "tutorial's --explain output lacks {want:?}:\n{stderr}"
        );
    }
    assert!(
        String::from_utf8_lossy(&list.stdout).trim().is_empty(),
        "tutorial left a container behind"
    );
}

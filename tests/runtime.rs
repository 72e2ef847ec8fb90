//! Integration tests of the runtime, as root, against real busybox bundles:
//! every command, the stages' observable effects inside the container, and
//! bad input (a clear error, and nothing left behind).

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{
    assert_failure, assert_success, edit_config, mounts_under, require_root, stdout, TestEnv,
};
use serde_json::json;

/// Run a command whose container may outlive it (create, run -d, start):
/// its stdio goes to files, never to a pipe the test would wait on.
fn run_to_files(
    env: &TestEnv,
    args: &[&str],
    tag: &str,
) -> (std::process::ExitStatus, String, String) {
    let out = env.base.join(format!("{tag}.out"));
    let err = env.base.join(format!("{tag}.err"));
    let st = env
        .cmd(args)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out).unwrap())
        .stderr(fs::File::create(&err).unwrap())
        .status()
        .expect("spawn learnrt");
    (
        st,
        fs::read_to_string(&out).unwrap_or_default(),
        fs::read_to_string(&err).unwrap_or_default(),
    )
}

fn create(env: &TestEnv, bundle: &Path, id: &str) -> String {
    let (st, _, err) = run_to_files(
        env,
        &["create", "--bundle", bundle.to_str().unwrap(), id],
        id,
    );
    assert!(st.success(), "create {id} failed: {err}");
    err
}

fn state(env: &TestEnv, id: &str) -> serde_json::Value {
    let out = env.run(&["state", id]);
    assert_success(&out);
    serde_json::from_slice(&out.stdout).expect("state is JSON")
}

/// Run a container to completion and return (exit code, stdout, stderr).
fn run_container(
    env: &TestEnv,
    name: &str,
    args: &[&str],
    edit: impl FnOnce(&mut serde_json::Value),
) -> (i32, String, String) {
    let b = env.bundle(name, args);
    edit_config(&b, edit);
    let id = env.id(name);
    let out = env
        .cmd(&["run", "--bundle", b.to_str().unwrap(), &id])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn sh(script: &str) -> Vec<&str> {
    vec!["sh", "-c", script]
}

/// After a failed create: no state, no cgroup, no mounts, no process.
fn assert_nothing_left(env: &TestEnv, id: &str, bundle: &Path) {
    assert!(
        !env.root.join(id).exists(),
        "state dir for {id} left behind"
    );
    assert!(
        common::cgroup_dirs(id).is_empty(),
        "cgroups left behind: {:?}",
        common::cgroup_dirs(id)
    );
    assert!(
        mounts_under(bundle).is_empty(),
        "mounts left: {:?}",
        mounts_under(bundle)
    );
    let list = stdout(&env.run(&["list", "-q"]));
    assert!(!list.lines().any(|l| l == id), "{id} still listed");
}

fn wait_for(mut f: impl FnMut() -> bool, what: &str) {
    for _ in 0..500 {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("timed out waiting for {what}");
}

// ---------------------------------------------------------------- lifecycle

#[test]
fn the_tutorial_nine_steps() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    // Steps 4-5: a bundle dir with the rootfs unpacked, and aa.txt.
    let b = env.bundle("c1", &["sh"]);
    fs::write(b.join("rootfs/aa.txt"), "").unwrap();
    // Step 6: learnrt spec writes config.json (refuses to overwrite it).
    fs::remove_file(b.join("config.json")).unwrap();
    let out = env.cmd(&["spec"]).current_dir(&b).output().unwrap();
    assert_success(&out);
    let cfg: serde_json::Value =
        serde_json::from_slice(&fs::read(b.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["process"]["terminal"], json!(true));
    assert_eq!(cfg["process"]["args"], json!(["sh"]));
    assert_eq!(cfg["root"]["path"], json!("rootfs"));
    let again = env.cmd(&["spec"]).current_dir(&b).output().unwrap();
    assert!(
        !again.status.success(),
        "spec must not overwrite config.json"
    );
    edit_config(&b, |c| c["process"]["terminal"] = json!(false));
    // Step 7: create (bundle = cwd) and list.
    let id = env.id("c1");
    let st = env
        .cmd(&["create", &id])
        .current_dir(&b)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let list = stdout(&env.run(&["list"]));
    let mut lines = list.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    );
    let row: Vec<&str> = lines.next().expect("one row").split_whitespace().collect();
    assert_eq!(row[0], id);
    assert!(row[1].parse::<i32>().unwrap() > 0);
    assert_eq!(row[2], "created");
    assert_eq!(Path::new(row[3]), fs::canonicalize(&b).unwrap());
    assert!(
        row[4].ends_with('Z') && row[4].contains('T'),
        "RFC 3339 time: {}",
        row[4]
    );
    assert_eq!(row[5], "root");
    // Step 8: exec -t an interactive shell through a pty.
    let mut cmd = env.cmd(&["exec", "-t", &id, "/bin/sh"]);
    let (mut child, mut master) = common::pty::spawn_in_pty(&mut cmd);
    common::pty::expect(&mut master, "# ", Duration::from_secs(10)).expect("a shell prompt");
    common::pty::send(&mut master, "ls /\n");
    common::pty::expect(&mut master, "aa.txt", Duration::from_secs(10)).expect("ls / shows aa.txt");
    common::pty::send(&mut master, "exit 0\n");
    let st = child.wait().unwrap();
    assert!(st.success(), "exec -t exited {st}");
    // Step 9: delete, list is empty.
    assert_success(&env.run(&["delete", &id]));
    let list = stdout(&env.run(&["list"]));
    assert_eq!(list.lines().count(), 1, "only the header: {list}");
    assert!(common::cgroup_dirs(&id).is_empty());
}

#[test]
fn both_flag_orders_work() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    let b = env.bundle("orders", &["sleep", "100"]);
    let bs = b.to_str().unwrap();
    let a = env.id("a");
    let c = env.id("b");
    let (st, _, err) = run_to_files(&env, &["create", &a, "--bundle", bs], "a");
    assert!(st.success(), "{err}");
    // Global flag after the subcommand too.
    let st = Command::new(common::learnrt())
        .args(["create", "--bundle", bs, &c, "--root"])
        .arg(&env.root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(state(&env, &a)["status"], "created");
    assert_eq!(state(&env, &c)["status"], "created");
}

#[test]
fn state_goes_created_running_stopped_and_stays_stopped() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    let b = env.bundle("life", &["sh", "-c", "read x < /dev/null; sleep 1"]);
    let id = env.id("life");
    create(&env, &b, &id);
    let s = state(&env, &id);
    assert_eq!(s["status"], "created");
    assert_eq!(s["id"], json!(id));
    assert!(s["pid"].as_i64().unwrap() > 0);
    assert_eq!(s["bundle"], json!(fs::canonicalize(&b).unwrap()));
    assert!(s["ociVersion"].as_str().unwrap().starts_with("1."));
    let (st, _, err) = run_to_files(&env, &["start", &id], "start");
    assert!(st.success(), "{err}");
    assert_eq!(state(&env, &id)["status"], "running");
    // start of a running container is an error.
    let out = env.run(&["start", &id]);
    assert!(assert_failure(&out).contains("running"));
    wait_for(
        || state(&env, &id)["status"] == "stopped",
        "the container to stop",
    );
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(state(&env, &id)["status"], "stopped");
    // kill of a stopped container is an error.
    assert!(assert_failure(&env.run(&["kill", &id, "KILL"])).contains("not running"));
    assert_success(&env.run(&["delete", &id]));
    assert!(assert_failure(&env.run(&["state", &id])).contains("does not exist"));
}

#[test]
fn start_runs_the_process_with_create_stdio() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    let b = env.bundle("stdio", &["sh", "-c", "echo out-line; echo err-line >&2"]);
    let id = env.id("stdio");
    let out = env.base.join("c.out");
    let err = env.base.join("c.err");
    let st = env
        .cmd(&["create", "-b", b.to_str().unwrap(), &id])
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out).unwrap())
        .stderr(fs::File::create(&err).unwrap())
        .status()
        .unwrap();
    assert!(st.success());
    assert_success(&env.run(&["start", &id]));
    wait_for(
        || {
            fs::read_to_string(&err)
                .unwrap_or_default()
                .contains("err-line")
        },
        "output",
    );
    assert_eq!(fs::read_to_string(&out).unwrap(), "out-line\n");
}

#[test]
fn run_returns_the_exit_code_and_forwards_signals() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    let (code, out, _) = run_container(&env, "exit", &sh("echo hi; exit 42"), |_| {});
    assert_eq!(code, 42);
    assert_eq!(out, "hi\n");
    // A TERM sent to `learnrt run` reaches the container's program.
    let b = env.bundle(
        "sig",
        &sh("trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.05; done"),
    );
    let id = env.id("sig");
    let outp = env.base.join("sig.out");
    let mut child = env
        .cmd(&["run", "-b", b.to_str().unwrap(), &id])
        .stdin(Stdio::null())
        .stdout(fs::File::create(&outp).unwrap())
        .spawn()
        .unwrap();
    wait_for(
        || {
            fs::read_to_string(&outp)
                .unwrap_or_default()
                .contains("ready")
        },
        "ready",
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(7), "exit code of the trapped TERM");
    assert!(fs::read_to_string(&outp).unwrap().contains("got-term"));
    assert!(!env.root.join(&id).exists(), "run deletes the container");
    // A program killed by a signal: 128 + signal, like a shell. (pid 1
    // cannot SIGKILL itself: the kernel protects a namespace's init from
    // its own namespace, so the kill comes from outside.)
    let b = env.bundle("killed", &["sleep", "100"]);
    let id = env.id("killed");
    let mut child = env
        .cmd(&["run", "-b", b.to_str().unwrap(), &id])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(
        || env.run(&["state", &id]).status.success() && state(&env, &id)["status"] == "running",
        "running",
    );
    assert_success(&env.run(&["kill", &id, "KILL"]));
    assert_eq!(child.wait().unwrap().code(), Some(137));
}

#[test]
fn run_detached_and_keep() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    let b = env.bundle("det", &["sleep", "100"]);
    let id = env.id("det");
    let pidf = env.base.join("det.pid");
    let (st, _, err) = run_to_files(
        &env,
        &[
            "run",
            "-d",
            "--pid-file",
            pidf.to_str().unwrap(),
            "-b",
            b.to_str().unwrap(),
            &id,
        ],
        "det",
    );
    assert!(st.success(), "{err}");
    assert_eq!(state(&env, &id)["status"], "running");
    let pid = fs::read_to_string(&pidf).unwrap();
    assert!(!pid.ends_with('\n'), "bare decimal, no newline");
    assert_eq!(
        pid.parse::<i64>().unwrap(),
        state(&env, &id)["pid"].as_i64().unwrap()
    );
    let out = env.run(&["delete", &id]);
    assert!(assert_failure(&out).contains("not stopped"));
    assert_success(&env.run(&["delete", "--force", &id]));
    // --keep leaves a stopped container to delete.
    let b2 = env.bundle("keep", &["true"]);
    let id2 = env.id("keep");
    let (st, _, _) = run_to_files(
        &env,
        &["run", "--keep", "-b", b2.to_str().unwrap(), &id2],
        "keep",
    );
    assert!(st.success());
    assert_eq!(state(&env, &id2)["status"], "stopped");
}

#[test]
fn kill_takes_names_numbers_and_all() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    let b = env.bundle(
        "k",
        &sh("trap 'exit 3' USR1; echo ready; while :; do sleep 0.05; done"),
    );
    for (i, sig) in ["USR1", "SIGUSR1", "10"].iter().enumerate() {
        let id = env.id(&format!("k{i}"));
        create(&env, &b, &id);
        assert_success(&env.run(&["start", &id]));
        // The trap must be set before the signal comes: pid 1 ignores a
        // signal it has no handler for. create's stdout is <id>.out.
        let out = env.base.join(format!("{id}.out"));
        wait_for(
            || {
                fs::read_to_string(&out)
                    .unwrap_or_default()
                    .contains("ready")
            },
            "the trap",
        );
        assert_success(&env.run(&["kill", &id, sig]));
        wait_for(
            || state(&env, &id)["status"] == "stopped",
            "stop after kill",
        );
    }
    let id = env.id("kall");
    create(&env, &b, &id);
    assert_success(&env.run(&["start", &id]));
    assert_success(&env.run(&["kill", "--all", &id, "KILL"]));
    wait_for(
        || state(&env, &id)["status"] == "stopped",
        "stop after kill --all",
    );
    assert!(assert_failure(&env.run(&["kill", &id, "NOTASIGNAL"])).contains("signal"));
}

#[test]
fn delete_kills_a_created_container_and_force_of_missing_is_quiet() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    let b = env.bundle("del", &["sleep", "100"]);
    let id = env.id("del");
    create(&env, &b, &id);
    let pid = state(&env, &id)["pid"].as_i64().unwrap();
    assert_success(&env.run(&["delete", &id]));
    assert!(
        !Path::new(&format!("/proc/{pid}/exe")).exists()
            || fs::read_link(format!("/proc/{pid}/exe")).is_err()
    );
    assert!(common::cgroup_dirs(&id).is_empty());
    let out = env.run(&["delete", "--force", &id]);
    assert_success(&out);
    assert!(
        out.stderr.is_empty(),
        "silent: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(assert_failure(&env.run(&["delete", "nope-never-made"])).contains("does not exist"));
}

#[test]
fn exec_joins_the_container_and_returns_its_exit_code() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    let b = env.bundle("ex", &["sleep", "100"]);
    edit_config(&b, |c| c["hostname"] = json!("exec-test"));
    let id = env.id("ex");
    create(&env, &b, &id);
    // exec works on a created container (before start), then a running one.
    let out = env.run(&["exec", &id, "hostname"]);
    assert_success(&out);
    assert_eq!(stdout(&out), "exec-test\n");
    assert_success(&env.run(&["start", &id]));
    let out = env.run(&["exec", &id, "sh", "-c", "exit 5"]);
    assert_eq!(out.status.code(), Some(5));
    let out = env.run(&[
        "exec",
        "-e",
        "FOO=bar",
        "--cwd",
        "/tmp",
        &id,
        "sh",
        "-c",
        "echo $FOO $(pwd)",
    ]);
    assert_eq!(stdout(&out), "bar /tmp\n");
    let out = env.run(&["exec", "-u", "1000:1000", &id, "id"]);
    assert!(
        stdout(&out).starts_with("uid=1000 gid=1000"),
        "{}",
        stdout(&out)
    );
    // Same pid namespace as the container: its init is pid 1.
    let out = env.run(&["exec", &id, "cat", "/proc/1/cmdline"]);
    assert!(stdout(&out).starts_with("sleep"), "{}", stdout(&out));
    // ps sees both.
    let ps = env.run(&["ps", "--format", "json", &id]);
    let pids: Vec<i64> = serde_json::from_slice(&ps.stdout).unwrap();
    assert!(pids.contains(&state(&env, &id)["pid"].as_i64().unwrap()));
    // A detached exec with a pid file.
    let pf = env.base.join("exec.pid");
    let (st, _, err) = run_to_files(
        &env,
        &[
            "exec",
            "-d",
            "--pid-file",
            pf.to_str().unwrap(),
            &id,
            "sleep",
            "50",
        ],
        "exd",
    );
    assert!(st.success(), "{err}");
    let epid: i64 = fs::read_to_string(&pf).unwrap().parse().unwrap();
    let ps = env.run(&["ps", "-f", "json", &id]);
    let pids: Vec<i64> = serde_json::from_slice(&ps.stdout).unwrap();
    assert!(pids.contains(&epid), "{pids:?} has {epid}");
    // --process: a whole process.json.
    let pj = env.base.join("p.json");
    fs::write(&pj, json!({"args": ["sh", "-c", "echo from-process-json"], "cwd": "/", "user": {"uid": 0, "gid": 0}, "env": ["PATH=/bin"]}).to_string()).unwrap();
    let out = env.run(&["exec", "--process", pj.to_str().unwrap(), &id]);
    assert_eq!(stdout(&out), "from-process-json\n");
    // A missing program names it.
    let out = env.run(&["exec", &id, "/no/such/cmd"]);
    assert!(assert_failure(&out).contains("/no/such/cmd"));
}

#[test]
fn features_json_like_runc() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    let out = env.run(&["features"]);
    assert_success(&out);
    let f: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(f["ociVersionMax"].as_str().unwrap().starts_with("1."));
    assert!(f["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .contains(&json!("pid")));
}

// ------------------------------------------------------- stage by stage

#[test]
fn namespaces_hostname_and_user() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    let (code, out, err) = run_container(
        &env,
        "ns",
        &sh("hostname; id -u; id -g; id -G; echo $$; readlink /proc/self/ns/net"),
        |c| {
            c["hostname"] = json!("inside");
            c["process"]["user"] =
                json!({"uid": 1000, "gid": 1001, "additionalGids": [2000, 2001]});
        },
    );
    assert_eq!(code, 0, "{err}");
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[0], "inside");
    assert_eq!(l[1], "1000");
    assert_eq!(l[2], "1001");
    assert!(l[3].contains("2000") && l[3].contains("2001"), "{}", l[3]);
    assert_eq!(l[4], "1", "pid 1 in its own pid namespace");
    assert_ne!(
        l[5],
        fs::read_link("/proc/self/ns/net")
            .unwrap()
            .to_string_lossy(),
        "own netns"
    );
}

#[test]
fn capabilities_are_exactly_the_configured_ones() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    let (code, out, err) = run_container(
        &env,
        "caps",
        &sh("grep -E '^Cap(Prm|Eff|Bnd|Amb)' /proc/self/status; grep NoNewPrivs /proc/self/status"),
        |_| {},
    );
    assert_eq!(code, 0, "{err}");
    // runc's default: AUDIT_WRITE(29), KILL(5), NET_BIND_SERVICE(10).
    for set in ["CapPrm", "CapEff", "CapBnd"] {
        assert!(
            out.contains(&format!("{set}:\t0000000020000420")),
            "{set} in\n{out}"
        );
    }
    // Ambient needs the cap in the inheritable set too, which runc's
    // default leaves empty: the kernel refuses, as with runc.
    assert!(out.contains("CapAmb:\t0000000000000000"), "{out}");
    assert!(out.contains("NoNewPrivs:\t1"));
    // A dropped CAP_SYS_ADMIN really stops mount.
    let (code, _, _) = run_container(&env, "nomount", &sh("mount -t tmpfs none /tmp"), |_| {});
    assert_ne!(code, 0);
}

#[test]
fn mounts_devices_masked_and_readonly_paths() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    let script = "cat /proc/self/mountinfo; for d in null zero full random urandom tty; do test -c /dev/$d || echo missing-$d; done; \
                  test -L /dev/fd && test -L /dev/stdin && test -L /dev/ptmx || echo missing-links; \
                  echo x > /proc/sys/kernel/domainname 2>/dev/null && echo sys-writable; \
                  touch /newfile 2>/dev/null && echo root-writable; \
                  ls /proc/acpi 2>/dev/null | wc -l; echo bound-$(cat /etc/bound)";
    let extra = env.base.join("bound.txt");
    fs::write(&extra, "yes").unwrap();
    let (code, out, err) = run_container(&env, "mnt", &sh(script), |c| {
        c["mounts"].as_array_mut().unwrap().push(json!({"destination": "/etc/bound", "type": "bind", "source": extra, "options": ["rbind", "ro"]}));
    });
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(" / / ") || out.lines().any(|l| l.split(' ').nth(4) == Some("/")));
    for m in [
        "/proc ",
        "/dev ",
        "/dev/pts ",
        "/dev/shm ",
        "/dev/mqueue ",
        "/sys ",
        "/sys/fs/cgroup ",
    ] {
        assert!(
            out.lines().any(|l| l.contains(&format!(" {m}"))),
            "{m} mounted:\n{out}"
        );
    }
    assert!(!out.contains("missing-"), "{out}");
    assert!(!out.contains("sys-writable"), "/proc/sys is read-only");
    assert!(!out.contains("root-writable"), "root.readonly");
    assert!(out.contains("bound-yes"));
    assert!(
        out.lines().any(|l| l.trim() == "0"),
        "masked /proc/acpi is empty"
    );
}

#[test]
fn rlimits_sysctl_and_oom_score() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    let (code, out, err) = run_container(&env, "rl", &sh("grep 'Max open files' /proc/self/limits; cat /proc/sys/net/ipv4/ip_forward; cat /proc/self/oom_score_adj"), |c| {
        c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654}]);
        c["process"]["oomScoreAdj"] = json!(123);
        c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    });
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("321") && out.contains("654"), "{out}");
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[1], "1");
    assert_eq!(l[2], "123");
}

#[test]
fn only_stdio_reaches_the_container() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    // The shell's own descriptors: busybox sh -c opens none of its own.
    let (code, out, err) = run_container(&env, "fds", &sh("ls /proc/$$/fd; true"), |_| {});
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["0", "1", "2"],
        "no runtime fd leaks: {out}"
    );
}

#[test]
fn no_pivot_and_user_namespace() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    // --no-pivot: the rootfs is still / (our marker is there, the host's
    // /proc/1/root is not reachable by path).
    let b = env.bundle(
        "nopivot",
        &sh("cat /marker; test -e /work && echo host-visible; true"),
    );
    fs::write(b.join("rootfs/marker"), "in-the-rootfs\n").unwrap();
    let id = env.id("nopivot");
    let out = env
        .cmd(&["run", "--no-pivot", "-b", b.to_str().unwrap(), &id])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_success(&out);
    assert_eq!(stdout(&out), "in-the-rootfs\n");
    // A user namespace: container root is host uid 100000.
    let (code, out, err) =
        run_container(&env, "userns", &sh("cat /proc/self/uid_map; id -u"), |c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "user"}));
            c["linux"]["uidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            c["linux"]["gidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        });
    assert_eq!(code, 0, "{err}");
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(
        l[0].split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"]
    );
    assert_eq!(l[1], "0");
}

#[test]
fn hooks_get_state_on_stdin() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    let log = env.base.join("hooks.log");
    let hook = |name: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("cat >> {}; echo ' {name}' >> {}", log.display(), log.display())]});
    let b = env.bundle("hooks", &["true"]);
    edit_config(&b, |c| {
        c["hooks"] = json!({"prestart": [hook("prestart")], "createRuntime": [hook("createRuntime")], "poststart": [hook("poststart")], "poststop": [hook("poststop")]});
    });
    let id = env.id("hooks");
    let out = env
        .cmd(&["run", "-b", b.to_str().unwrap(), &id])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_success(&out);
    let text = fs::read_to_string(&log).unwrap();
    let order: Vec<&str> = text.lines().filter_map(|l| l.rsplit(' ').next()).collect();
    assert_eq!(
        order,
        ["prestart", "createRuntime", "poststart", "poststop"],
        "{text}"
    );
    let first: serde_json::Value =
        serde_json::from_str(text.lines().next().unwrap().rsplit_once(' ').unwrap().0).unwrap();
    assert_eq!(first["id"], json!(id));
    assert!(first["pid"].as_i64().unwrap() > 0);
    // A failing hook fails create and leaves nothing.
    let b2 = env.bundle("badhook", &["true"]);
    edit_config(&b2, |c| {
        c["hooks"] = json!({"createRuntime": [{"path": "/bin/false"}]})
    });
    let id2 = env.id("badhook");
    let (st, _, err) = run_to_files(&env, &["create", "-b", b2.to_str().unwrap(), &id2], "bh");
    assert!(!st.success());
    assert!(err.contains("hooks"), "{err}");
    assert_nothing_left(&env, &id2, &b2);
}

// --------------------------------------------------------- resources (4)

#[test]
fn cgroup_limits_are_read_back_inside() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    let files = "/sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max \
                 /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu/cpu.cfs_quota_us \
                 /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/cpuset/cpuset.cpus";
    let (code, out, err) = run_container(&env, "cg", &sh(&format!("cat {files}")), |c| {
        c["linux"]["resources"]["memory"] = json!({"limit": 67108864});
        c["linux"]["resources"]["pids"] = json!({"limit": 32});
        c["linux"]["resources"]["cpu"] =
            json!({"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"});
    });
    assert_eq!(code, 0, "{err}");
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l, ["67108864", "32", "512", "50000", "100000", "0"]);
}

#[test]
fn pause_resume_update_events() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    let b = env.bundle("pz", &["sleep", "100"]);
    edit_config(&b, |c| {
        c["linux"]["resources"]["memory"] = json!({"limit": 67108864})
    });
    let id = env.id("pz");
    create(&env, &b, &id);
    assert_success(&env.run(&["start", &id]));
    assert_success(&env.run(&["pause", &id]));
    assert_eq!(state(&env, &id)["status"], "paused");
    assert_success(&env.run(&["resume", &id]));
    assert_eq!(state(&env, &id)["status"], "running");
    let mut up = env
        .cmd(&["update", "--resources", "-", &id])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    up.stdin
        .take()
        .unwrap()
        .write_all(br#"{"memory": {"limit": 33554432}}"#)
        .unwrap();
    let out = up.wait_with_output().unwrap();
    assert_success(&out);
    assert_eq!(
        fs::read_to_string(format!(
            "/sys/fs/cgroup/memory/learnrt/{id}/memory.limit_in_bytes"
        ))
        .unwrap()
        .trim(),
        "33554432"
    );
    assert_success(&env.run(&["update", "--pids-limit", "7", &id]));
    assert_eq!(
        fs::read_to_string(format!("/sys/fs/cgroup/pids/learnrt/{id}/pids.max"))
            .unwrap()
            .trim(),
        "7"
    );
    let ev = env.run(&["events", "--stats", &id]);
    assert_success(&ev);
    let v: serde_json::Value = serde_json::from_slice(&ev.stdout).unwrap();
    assert_eq!(v["type"], "stats");
    assert_eq!(v["data"]["memory"]["usage"]["limit"], json!(33554432));
}

#[test]
fn seccomp_denies_with_the_configured_errno() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    let (code, out, err) = run_container(&env, "sc", &sh("mkdir /tmp/x 2>&1; echo rc=$?"), |c| {
        c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]});
    });
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Operation not permitted") && out.contains("rc=1"),
        "{out}"
    );
}

// ------------------------------------------------------------ safety floor

#[test]
fn the_runtime_binary_cannot_be_written_through_proc_exe() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    let b = env.bundle("seal", &["sleep", "100"]);
    let id = env.id("seal");
    create(&env, &b, &id);
    let pid = state(&env, &id)["pid"].as_i64().unwrap();
    // While it waits for start, the init *is* learnrt. Take the attacker's
    // handle on its executable (CVE-2019-5736), let it go away, then try
    // to open that handle for writing.
    let exe = nix::fcntl::open(
        format!("/proc/{pid}/exe").as_str(),
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .unwrap();
    assert_success(&env.run(&["delete", "-f", &id]));
    use std::os::fd::AsRawFd;
    // O_TRUNC makes the kernel check the mount (EROFS) before whether the
    // file is being executed (ETXTBSY, which other tests running this very
    // binary would cause): only the read-only mount passes this test.
    let again = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(format!("/proc/self/fd/{}", exe.as_raw_fd()));
    let err = again.expect_err("the learnrt binary must not be writable through /proc/<pid>/exe");
    assert_eq!(err.raw_os_error(), Some(libc::EROFS), "{err}");
}

#[test]
fn two_creates_of_one_id_exactly_one_wins() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    let b = env.bundle("race", &["sleep", "100"]);
    let id = env.id("race");
    let kids: Vec<_> = (0..4)
        .map(|_| {
            env.cmd(&["create", "-b", b.to_str().unwrap(), &id])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let ok = kids
        .into_iter()
        .map(|mut k| k.wait().unwrap().success())
        .filter(|s| *s)
        .count();
    assert_eq!(ok, 1);
    assert_eq!(state(&env, &id)["status"], "created");
}

// ---------------------------------------------------------------- bad input

fn failed_create(env: &TestEnv, name: &str, edit: impl FnOnce(&Path)) -> String {
    let b = env.bundle(name, &["true"]);
    edit(&b);
    let id = env.id(name);
    let (st, _, err) = run_to_files(env, &["create", "-b", b.to_str().unwrap(), &id], name);
    assert!(!st.success(), "{name}: create should fail");
    assert!(!err.trim().is_empty(), "{name}: an error message");
    assert_nothing_left(env, &id, &b);
    err
}

#[test]
fn bad_input_gives_a_clear_error_and_leaves_nothing() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    let e = failed_create(&env, "noconfig", |b| {
        fs::remove_file(b.join("config.json")).unwrap()
    });
    assert!(e.contains("config.json"), "{e}");
    let e = failed_create(&env, "badjson", |b| {
        fs::write(b.join("config.json"), "{ not json").unwrap()
    });
    assert!(e.contains("not valid JSON"), "{e}");
    let e = failed_create(&env, "badns", |b| {
        edit_config(b, |c| c["linux"]["namespaces"][1]["type"] = json!("bogus"))
    });
    assert!(
        e.contains("linux.namespaces[1]"),
        "names the JSON path: {e}"
    );
    let e = failed_create(&env, "norootfs", |b| {
        fs::rename(b.join("rootfs"), b.join("elsewhere")).unwrap()
    });
    assert!(e.contains("root.path"), "{e}");
    let e = failed_create(&env, "badmount", |b| {
        edit_config(b, |c| {
            c["mounts"]
                .as_array_mut()
                .unwrap()
                .push(json!({"destination": "/x", "type": "nosuchfs", "source": "none"}))
        })
    });
    assert!(e.contains("mounts[") && e.contains("ENODEV"), "{e}");
    let e = failed_create(&env, "noprog", |b| {
        edit_config(b, |c| c["process"]["args"] = json!(["/no/such/program"]))
    });
    assert!(e.contains("/no/such/program"), "{e}");
    let e = failed_create(&env, "badcwd", |b| {
        edit_config(b, |c| c["process"]["cwd"] = json!("relative"))
    });
    assert!(e.contains("process.cwd"), "{e}");
    // Invalid and duplicate ids; missing bundle.
    let b = env.bundle("ids", &["sleep", "100"]);
    for bad in ["../x", "a/b", ".x", "with space"] {
        let (st, _, err) = run_to_files(&env, &["create", "-b", b.to_str().unwrap(), bad], "badid");
        assert!(
            !st.success() && err.contains("invalid container id"),
            "{bad}: {err}"
        );
    }
    let id = env.id("dup");
    create(&env, &b, &id);
    let (st, _, err) = run_to_files(&env, &["create", "-b", b.to_str().unwrap(), &id], "dup2");
    assert!(!st.success() && err.contains("already exists"), "{err}");
    let (st, _, err) = run_to_files(
        &env,
        &["create", "-b", "/nonexistent/bundle", &env.id("nob")],
        "nob",
    );
    assert!(!st.success() && err.contains("bundle"), "{err}");
}

#[test]
fn errors_reach_the_json_log() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    let b = env.bundle("log", &["/no/such/cmd"]);
    let log = env.base.join("log.json");
    let id = env.id("log");
    let (st, _, _) = run_to_files(
        &env,
        &[
            "--log",
            log.to_str().unwrap(),
            "--log-format",
            "json",
            "create",
            "-b",
            b.to_str().unwrap(),
            &id,
        ],
        "log",
    );
    assert!(!st.success());
    let text = fs::read_to_string(&log).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "error");
    assert!(last["msg"].as_str().unwrap().contains("/no/such/cmd"));
    assert!(last["time"].as_str().is_some());
}

#[allow(dead_code)]
fn output_text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn memory_limit_oom_kills_and_events_reports_it() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    // 32 MiB limit, no swap; the program allocates more than that.
    let b = env.bundle(
        "oom",
        &sh("echo ready; x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived"),
    );
    edit_config(&b, |c| {
        c["linux"]["resources"]["memory"] = json!({"limit": 33554432, "swap": 33554432})
    });
    let id = env.id("oom");
    create(&env, &b, &id);
    let ev_out = env.base.join("events.out");
    let mut events = env
        .cmd(&["events", "--interval", "100ms", &id])
        .stdin(Stdio::null())
        .stdout(fs::File::create(&ev_out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(150));
    assert_success(&env.run(&["start", &id]));
    wait_for(
        || {
            state(&env, &id)["status"] == "stopped"
                || fs::read_to_string(&ev_out)
                    .unwrap_or_default()
                    .contains("\"oom\"")
        },
        "the OOM kill",
    );
    wait_for(
        || {
            fs::read_to_string(&ev_out)
                .unwrap_or_default()
                .contains("\"type\":\"oom\"")
        },
        "an oom event",
    );
    let _ = events.kill();
    let _ = events.wait();
    let text = fs::read_to_string(&ev_out).unwrap();
    assert!(
        text.lines().any(|l| l.contains("\"type\":\"stats\"")),
        "{text}"
    );
    let oom = fs::read_to_string(format!(
        "/sys/fs/cgroup/memory/learnrt/{id}/memory.oom_control"
    ))
    .unwrap_or_default();
    assert!(
        oom.lines()
            .any(|l| l.starts_with("oom_kill ") && l != "oom_kill 0"),
        "{oom}"
    );
    // The OOM killer may pick pid 1 or one of its children (tr, head):
    // either way the program ends.
    wait_for(
        || state(&env, &id)["status"] == "stopped",
        "the container to stop",
    );
}

#[test]
fn pids_limit_stops_a_fork_bomb() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    let (_, out, err) = run_container(&env, "pids", &sh("read m < /sys/fs/cgroup/pids/pids.max; echo max=$m; n=0; while [ $n -lt 40 ]; do sleep 5 & n=$((n+1)); done; echo all-forked"), |c| {
        c["linux"]["resources"]["pids"] = json!({"limit": 10});
    });
    assert!(out.contains("max=10"), "{out}");
    assert!(
        !out.contains("all-forked"),
        "40 forks should not all succeed: {out}"
    );
    assert!(
        err.contains("can't fork") || err.contains("Resource temporarily unavailable"),
        "{err}"
    );
}

#[test]
fn bad_cgroup_config_is_refused_and_leaves_nothing() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    let e = failed_create(&env, "cgdots", |b| {
        edit_config(b, |c| {
            c["linux"]["cgroupsPath"] = json!("/learnrt/../../escape")
        })
    });
    assert!(e.contains(".."), "{e}");
    let e = failed_create(&env, "cgneg", |b| {
        edit_config(b, |c| {
            c["linux"]["resources"]["memory"] = json!({"limit": -5})
        })
    });
    assert!(e.contains("memory"), "{e}");
    let e = failed_create(&env, "badsc", |b| {
        edit_config(
            b,
            |c| c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_BOGUS"}]}),
        )
    });
    assert!(e.contains("seccomp"), "{e}");
    // A cgroup another container already uses.
    let b = env.bundle("owner", &["sleep", "100"]);
    edit_config(&b, |c| {
        c["linux"]["cgroupsPath"] = json!("/learnrt-test-shared")
    });
    let a = env.id("owner");
    create(&env, &b, &a);
    let e = failed_create(&env, "thief", |b| {
        edit_config(b, |c| {
            c["linux"]["cgroupsPath"] = json!("/learnrt-test-shared")
        })
    });
    assert!(e.contains("cgroup"), "{e}");
    assert_success(&env.run(&["delete", "-f", &a]));
    assert!(!Path::new("/sys/fs/cgroup/memory/learnrt-test-shared").exists());
}

#[test]
fn run_in_the_foreground_with_a_terminal() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    let b = env.bundle("tty", &["sh"]);
    edit_config(&b, |c| c["process"]["terminal"] = json!(true));
    let id = env.id("tty");
    let mut cmd = env.cmd(&["run", "-b", b.to_str().unwrap(), &id]);
    let (mut child, mut master) = common::pty::spawn_in_pty(&mut cmd);
    common::pty::expect(&mut master, "# ", Duration::from_secs(10)).expect("a prompt");
    common::pty::send(&mut master, "test -t 0 && echo tty-$((6*7)); exit 3\n");
    common::pty::expect(&mut master, "tty-42", Duration::from_secs(10))
        .expect("stdin is a terminal");
    assert_eq!(child.wait().unwrap().code(), Some(3));
    // Detached, a terminal needs a console socket.
    let id2 = env.id("ttyd");
    let (st, _, err) = run_to_files(&env, &["create", "-b", b.to_str().unwrap(), &id2], "ttyd");
    assert!(!st.success() && err.contains("console-socket"), "{err}");
}

#[test]
fn ps_table_and_list_json() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    let b = env.bundle("ps", &["sleep", "100"]);
    let id = env.id("ps");
    create(&env, &b, &id);
    assert_success(&env.run(&["start", &id]));
    let pid = state(&env, &id)["pid"].as_i64().unwrap();
    let out = stdout(&env.run(&["ps", &id]));
    let mut lines = out.lines();
    assert!(lines.next().unwrap().contains("PID"));
    assert!(
        lines.any(|l| l.split_whitespace().nth(1) == Some(&pid.to_string())),
        "{out}"
    );
    let list: serde_json::Value =
        serde_json::from_slice(&env.run(&["list", "--format", "json"]).stdout).unwrap();
    let me = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == json!(id))
        .expect("listed");
    assert_eq!(me["status"], "running");
    assert_eq!(me["pid"], json!(pid));
    assert_eq!(stdout(&env.run(&["list", "-q"])).trim(), id);
}

#[test]
fn scheduler_io_priority_and_personality() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    let (code, out, err) = run_container(
        &env,
        "sched",
        &sh("uname -m; grep -E '^policy' /proc/self/sched; ionice"),
        |c| {
            c["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 5});
            c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_IDLE", "priority": 0});
            c["linux"]["personality"] = json!({"domain": "LINUX32"});
        },
    );
    assert_eq!(code, 0, "{err}");
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[0], "i686", "a 32-bit personality: {out}");
    assert!(l[1].ends_with(" 3"), "SCHED_BATCH is policy 3: {out}");
    assert_eq!(l[2].trim(), "idle", "{out}");
}

#[test]
fn seccomp_notify_hands_the_listener_to_the_agent() {
    if !require_root() {
        return;
    }
    use std::os::fd::AsRawFd;
    let env = TestEnv::new();
    let sock = env.base.join("agent.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let agent = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let mut cbuf = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let r = nix::sys::socket::recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut cbuf),
            nix::sys::socket::MsgFlags::empty(),
        )
        .unwrap();
        let fds: Vec<i32> = r
            .cmsgs()
            .unwrap()
            .filter_map(|c| match c {
                nix::sys::socket::ControlMessageOwned::ScmRights(v) => Some(v),
                _ => None,
            })
            .flatten()
            .collect();
        let n = r.bytes;
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        // A seccomp listener fd is an anon inode "seccomp notify".
        let what = fds
            .first()
            .map(|fd| fs::read_link(format!("/proc/self/fd/{fd}")).unwrap_or_default());
        (text, what)
    });
    let b = env.bundle("notify", &["true"]);
    edit_config(&b, |c| {
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": sock,
            "listenerMetadata": "from-the-test",
            "syscalls": [{"names": ["mkdirat", "mkdir"], "action": "SCMP_ACT_NOTIFY"}]
        });
    });
    let id = env.id("notify");
    let out = env
        .cmd(&["run", "-b", b.to_str().unwrap(), &id])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_success(&out);
    let (text, what) = agent.join().unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["fds"], json!(["seccompFd"]));
    assert_eq!(v["metadata"], "from-the-test");
    assert_eq!(v["state"]["id"], json!(id));
    assert!(v["pid"].as_i64().unwrap() > 0);
    let what = what
        .expect("an fd came with the message")
        .to_string_lossy()
        .into_owned();
    assert!(what.contains("seccomp"), "{what}");
}

#[test]
fn container_hooks_and_hook_timeout() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    let log = env.base.join("cc.log");
    // createContainer: in the container's namespaces before pivot_root, so
    // a host path still resolves; startContainer: inside the container.
    let (code, out, err) = run_container(&env, "cchooks", &sh("cat /tmp/started"), |c| {
        c["root"]["readonly"] = json!(false);
        c["hooks"] = json!({
            "createContainer": [{"path": "/bin/sh", "args": ["sh", "-c", format!("readlink /proc/self/ns/mnt > {}", log.display())]}],
            "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "echo start-hook-ran > /tmp/started"]}]
        });
    });
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "start-hook-ran\n");
    let ns = fs::read_to_string(&log).unwrap();
    assert_ne!(
        ns.trim(),
        fs::read_link("/proc/self/ns/mnt")
            .unwrap()
            .to_string_lossy(),
        "createContainer runs in the container's mount namespace"
    );
    // A hook that overruns its timeout fails create, and nothing is left.
    let e = failed_create(&env, "slowhook", |b| {
        edit_config(
            b,
            |c| {
                c["hooks"] = json!({"prestart": [{"path": "/bin/sleep", "args": ["sleep", "5"], "timeout": 1}]})
            },
        )
    });
    assert!(e.contains("timed out"), "{e}");
}

#[test]
fn exec_cpu_affinity_pins_the_process() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    let (code, out, err) = run_container(
        &env,
        "aff",
        &sh("grep Cpus_allowed_list /proc/self/status"),
        |c| {
            c["process"]["execCPUAffinity"] = json!({"initial": "0-1", "final": "0"});
        },
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.split_whitespace().last(), Some("0"), "{out}");
    let (code, _, err) = run_container(&env, "badaff", &["true"], |c| {
        c["process"]["execCPUAffinity"] = json!({"final": "0-zz"});
    });
    assert_ne!(code, 0);
    assert!(err.contains("execCPUAffinity"), "{err}");
}

#[test]
fn time_namespace_with_clock_offsets() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    let host: f64 = fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let (code, out, err) = run_container(&env, "timens", &sh("cat /proc/uptime"), |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "time"}));
        c["linux"]["timeOffsets"] = json!({"boottime": {"secs": 100000, "nanosecs": 0}});
    });
    assert_eq!(code, 0, "{err}");
    let inside: f64 = out.split_whitespace().next().unwrap().parse().unwrap();
    assert!(
        inside > host + 99_990.0 && inside < host + 100_100.0,
        "host {host}, inside {inside}"
    );
}

#[test]
fn the_program_starts_with_default_signal_dispositions() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    // Rust ignores SIGPIPE in learnrt itself; an ignored signal would
    // survive execve into the container's program.
    let (code, out, err) = run_container(
        &env,
        "sig",
        &sh("grep -E '^Sig(Ign|Blk)' /proc/self/status; yes | head -1"),
        |_| {},
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("SigIgn:\t0000000000000000"), "{out}");
    assert!(out.contains("SigBlk:\t0000000000000000"), "{out}");
    assert!(out.ends_with("y\n"), "{out}");
    // The same for a process started with exec.
    let b = env.bundle("sigx", &["sleep", "100"]);
    let id = env.id("sigx");
    create(&env, &b, &id);
    let out = stdout(&env.run(&["exec", &id, "grep", "SigIgn", "/proc/self/status"]));
    assert_eq!(out.trim(), "SigIgn:\t0000000000000000");
}

#[test]
fn umask_is_the_configured_one_or_0022() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    // Whatever the caller's umask (here 0077), the default is 0022.
    let run = |name: &str, umask: Option<u32>| {
        let b = env.bundle(name, &sh("umask"));
        if let Some(m) = umask {
            edit_config(&b, |c| c["process"]["user"]["umask"] = json!(m));
        }
        let id = env.id(name);
        let out = Command::new("sh")
            .arg("-c")
            .arg("umask 077; exec \"$@\"")
            .arg("sh")
            .arg(common::learnrt())
            .arg("--root")
            .arg(&env.root)
            .args(["run", "-b", b.to_str().unwrap(), &id])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_success(&out);
        stdout(&out).trim().to_string()
    };
    assert_eq!(run("um", None), "0022");
    assert_eq!(run("um2", Some(0o027)), "0027");
}

//! Snapshot tests of what learnrt explains, and the transcripts the book shows.
//!
//! Every test runs the real commands (as root) on a busybox bundle from
//! `learnrt mkbundle`, in a temp dir, with a temp `--root`. The output is
//! normalised (pids, times, temp paths, unique ids, fds, durations, the
//! machine's cpus) by one list of regex filters, which both the insta
//! snapshots (`tests/snapshots/`) and the book transcripts
//! (`book/transcripts/*.txt`) go through, so the book shows exactly what the
//! snapshots hold.
//!
//! Re-bless:
//!   snapshots: `INSTA_UPDATE=always cargo test --test explain` (or `cargo insta review`)
//!   book:      `LEARNRT_BLESS=1 cargo test --test explain`
//! Without LEARNRT_BLESS a transcript that differs from what the test would
//! write fails the test, so the book cannot drift from the runtime.
//!
//! What the cgroup stages print depends on the host's cgroup layout (v1,
//! hybrid, v2): the snapshots of container runs carry the layout as a suffix,
//! and when the book was blessed on another layout the cgroup lines are left
//! out of the comparison (everything else must still match).

mod common;

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File};
use std::io::Read;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::*;
use regex::Regex;

// ---------------------------------------------------------------------------
// Running commands
// ---------------------------------------------------------------------------

/// Container runs in this file go one at a time: their cgroup parent
/// (`/learnrt`) and pids are then less entangled, and the output easier to read
/// when a test fails. (Other processes on the machine may still make
/// containers; the filters cope with that.)
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

struct Ran {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Run `cmd` with NO_COLOR=1, stdin from /dev/null and stdout/stderr into
/// files (not pipes: a container init made by `create` inherits them and
/// would keep a pipe open until it exits).
fn run_files(env: &TestEnv, mut cmd: Command, tag: &str) -> Ran {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = env.base.join(format!("{tag}-{n}.stdout"));
    let err = env.base.join(format!("{tag}-{n}.stderr"));
    cmd.env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(File::create(&out).expect("create stdout file"))
        .stderr(File::create(&err).expect("create stderr file"));
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    Ran {
        status,
        stdout: fs::read_to_string(&out).unwrap_or_default(),
        stderr: fs::read_to_string(&err).unwrap_or_default(),
    }
}

fn ok(r: &Ran, what: &str) {
    assert!(
        r.status.success(),
        "{what}: {}\n--- stdout\n{}\n--- stderr\n{}",
        r.status,
        r.stdout,
        r.stderr
    );
}

/// `learnrt --root R <args>` in `dir`.
fn lrt(env: &TestEnv, dir: &Path, args: &[&str], tag: &str) -> Ran {
    let mut cmd = env.cmd(args);
    cmd.current_dir(dir);
    run_files(env, cmd, tag)
}

/// `learnrt <args>` without --root (explain, features, spec).
fn lrt_plain(env: &TestEnv, dir: &Path, args: &[&str], tag: &str) -> Ran {
    let mut cmd = Command::new(learnrt());
    cmd.args(args).current_dir(dir);
    run_files(env, cmd, tag)
}

fn wait_stopped(env: &TestEnv, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = run_files(env, env.cmd(&["state", id]), "state-poll");
        if r.stdout.contains("\"stopped\"") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{id} did not stop within 10s: {}{}",
            r.stdout,
            r.stderr
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------
// Normalising
// ---------------------------------------------------------------------------

/// Generic filters, applied after the per-test literal ones.
const FILTERS: &[(&str, &str)] = &[
    // The parent cgroup `/learnrt` (and its cpuset files) is made by the first
    // container and removed by the last: whether these lines appear depends
    // on other containers on the machine, so they are left out.
    (
        r#"(?m)^[ \t]*(?:mkdir|rmdir|write)\("/sys/fs/cgroup/(?:[^"/]+/)?learnrt(?:/[A-Za-z_]+\.[A-Za-z_.]+)?"[^\n]*\n"#,
        "",
    ),
    (
        r#"(?m)^\{[^\n]*"args":"\\"/sys/fs/cgroup/(?:[^"/\\]+/)?learnrt(?:/[A-Za-z_]+\.[A-Za-z_.]+)?\\"[^\n]*\n"#,
        "",
    ),
    // The machine's cpus and memory nodes.
    (r#"(cpuset\.cpus\\?" <- \\?")[^"\\]*"#, "${1}[CPUS]"),
    (r#"(cpuset\.mems\\?" <- \\?")[^"\\]*"#, "${1}[MEMS]"),
    // Pids.
    (r"\bpid (?:[2-9]|[1-9]\d+)\b", "pid [PID]"),
    (r"(?m)(^|\s)(-[ptN]|--pid|--target) \d+\b", "${1}${2} [PID]"),
    (r"/proc/\d+/", "/proc/[PID]/"),
    (r"(clone3\([^\n]*\) = )\d+", "${1}[PID]"),
    (r#"(cgroup\.procs\\?" <- \\?")\d+"#, "${1}[PID]"),
    (r#""pid": [1-9]\d*"#, r#""pid": [PID]"#),
    (r#""pid":\d+"#, r#""pid":[PID]"#),
    (r#"("syscall":"clone3"[^\n]*"ret":")\d+"#, "${1}[PID]"),
    (
        r"(?m)^(\S+ +)[1-9]\d* +(created|running|stopped|paused)",
        "${1}[PID]       ${2}",
    ),
    // File descriptors (their numbers depend on what the caller left open).
    (r"((?:open|openat)\([^\n]*\) = )\d+", "${1}[FD]"),
    (r"(?m)^( {4}(?:fchdir|close|setns))\(\d+", "${1}([FD]"),
    (
        r#"("syscall":"(?:open|openat)"[^\n]*"ret":")\d+"#,
        "${1}[FD]",
    ),
    (
        r#"("syscall":"(?:fchdir|close|setns)","args":")\d+"#,
        "${1}[FD]",
    ),
    // Times and durations.
    (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z", "[TIME]"),
    (r#""dur_us":\d+"#, r#""dur_us":[DUR]"#),
    // Sizes of things built from the host's busybox.
    (r"\(\d+ KiB\)", "([SIZE] KiB)"),
    (r"/tmp/learnrt-tutorial-\d+", "/tmp/learnrt-tutorial-[PID]"),
    // Trailing blanks (the --step prompt ends in one).
    (r"(?m)[ \t]+$", ""),
];

/// `learnrt list` pads its columns to the longest value (as runc's
/// tabwriter: at least 12 wide, 3 spaces after the longest). Once ids, pids
/// and paths are normalised the padding must follow, or the table depends on
/// the length of the temp path and of the unique id.
fn realign_list(text: &str) -> String {
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut width = vec![12usize; cols];
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            width[i] = width[i].max(c.chars().count() + 3);
        }
    }
    let mut out = String::new();
    for r in &rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            line.push_str(c);
            if i + 1 < r.len() {
                line.push_str(&" ".repeat(width[i] - c.chars().count()));
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[derive(Clone)]
struct Norm {
    filters: Vec<(String, String)>,
}

impl Norm {
    /// Literal filters for this test's temp dirs: the state dir becomes
    /// learnrt's default `/run/learnrt`, the rest `/tmp/[TMP]`.
    fn new(env: &TestEnv) -> Norm {
        Norm { filters: vec![] }
            .literal(&env.base.to_string_lossy(), "/tmp/[TMP]")
            .literal(&env.root.to_string_lossy(), "/run/learnrt")
    }

    /// Replace `from` (literally) by `to`, before every filter added so far
    /// (add the most specific ones last).
    fn literal(mut self, from: &str, to: &str) -> Norm {
        self.filters
            .insert(0, (regex::escape(from), to.replace('$', "$$")));
        self
    }

    /// A bundle path shown as `to` (the book's `/c1`).
    fn path(self, p: &Path, to: &str) -> Norm {
        self.literal(&p.to_string_lossy(), to)
    }

    fn all(&self) -> Vec<(String, String)> {
        let mut v = self.filters.clone();
        v.extend(FILTERS.iter().map(|(a, b)| (a.to_string(), b.to_string())));
        v
    }

    fn with(mut self, re: &str, to: &str) -> Norm {
        // Extra generic filters go after the literal ones but before FILTERS.
        self.filters.push((re.to_string(), to.to_string()));
        self
    }

    fn apply(&self, text: &str) -> String {
        let mut s = text.replace("\r\n", "\n");
        for (re, to) in self.all() {
            let re = Regex::new(&re).unwrap_or_else(|e| panic!("filter {re}: {e}"));
            s = re.replace_all(&s, to.as_str()).into_owned();
        }
        s
    }

    /// Snapshot `text` through insta's filters (the same list `apply` uses).
    /// Returns the normalised text for the book.
    fn snap(&self, name: &str, text: &str, layout_dependent: bool) -> String {
        let text = text.replace("\r\n", "\n");
        let all = self.all();
        let filters: Vec<(&str, &str)> =
            all.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let mut settings = insta::Settings::clone_current();
        settings.set_prepend_module_to_snapshot(false);
        if layout_dependent {
            settings.set_snapshot_suffix(cgroup_layout());
        }
        settings.set_filters(filters);
        settings.bind(|| insta::assert_snapshot!(name, text));
        self.apply(&text)
    }
}

/// The host's cgroup layout, as learnrt names it.
fn cgroup_layout() -> &'static str {
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "v2"
    } else if Path::new("/sys/fs/cgroup/unified").exists() {
        "hybrid"
    } else {
        "v1"
    }
}

// ---------------------------------------------------------------------------
// The book
// ---------------------------------------------------------------------------

fn book_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("book")
}

/// The layout the committed transcripts were blessed on, from the cgroups
/// stage's note (`· hybrid layout; cgroup /learnrt/c1`).
fn book_layout() -> Option<String> {
    let text = fs::read_to_string(book_dir().join("transcripts/stage-cgroups.txt")).ok()?;
    let re = Regex::new(r"· (\S+) layout;").unwrap();
    re.captures(&text).map(|c| c[1].to_string())
}

/// Drop what depends on the cgroup layout.
fn mask_layout(text: &str) -> String {
    text.lines()
        .filter(|l| !(l.contains("/sys/fs/cgroup") || l.contains(" layout; cgroup ")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Write (LEARNRT_BLESS=1) or check `book/transcripts/<name>.txt`.
fn book(name: &str, text: &str) {
    let path = book_dir().join("transcripts").join(format!("{name}.txt"));
    let mut want = text.trim_end().to_string();
    want.push('\n');
    if std::env::var("LEARNRT_BLESS").as_deref() == Ok("1") {
        fs::write(&path, &want).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        return;
    }
    let have = fs::read_to_string(&path).unwrap_or_default();
    if have == want {
        return;
    }
    if book_layout()
        .as_deref()
        .is_some_and(|l| l != cgroup_layout())
        && mask_layout(&have) == mask_layout(&want)
    {
        eprintln!(
            "note: {name}.txt was blessed on another cgroup layout; compared without cgroup lines"
        );
        return;
    }
    let diff: Vec<String> = diff_lines(&have, &want);
    panic!(
        "book/transcripts/{name}.txt is not what learnrt prints now \
         (re-bless with LEARNRT_BLESS=1 cargo test --test explain):\n{}",
        diff.join("\n")
    );
}

/// A short line diff: the first lines that differ.
fn diff_lines(have: &str, want: &str) -> Vec<String> {
    let h: Vec<&str> = have.lines().collect();
    let w: Vec<&str> = want.lines().collect();
    let mut out = vec![];
    for i in 0..h.len().max(w.len()) {
        let (a, b) = (h.get(i), w.get(i));
        if a != b {
            out.push(format!("line {}:\n  book: {:?}\n  now:  {:?}", i + 1, a, b));
            if out.len() >= 8 {
                break;
            }
        }
    }
    out
}

/// The `{{#include ../transcripts/NAME.txt}}` names in book/src.
fn book_includes() -> BTreeSet<String> {
    let re = Regex::new(r"\{\{#include \.\./transcripts/([^}]+)\.txt\}\}").unwrap();
    let mut names = BTreeSet::new();
    for e in fs::read_dir(book_dir().join("src")).unwrap().flatten() {
        let text = fs::read_to_string(e.path()).unwrap_or_default();
        for c in re.captures_iter(&text) {
            names.insert(c[1].to_string());
        }
    }
    names
}

/// Every transcript these tests write.
const WRITTEN: &[&str] = &[
    "config-default",
    "create-explain",
    "create-fail-explain",
    "delete-explain",
    "exec-explain",
    "explain-list",
    "features",
    "list-created",
    "list-empty",
    "spec-explain",
    "start-explain",
    "state-created",
    "step-create",
    "trace-create",
    "tutorial-steps-1-3",
    "tutorial-steps-4-5",
    "stage-namespaces",
    "stage-idmap",
    "stage-cgroups",
    "stage-rootfs",
    "stage-devices",
    "stage-pivot_root",
    "stage-finish",
    "stage-process",
    "stage-seccomp",
];

/// `stage-<name>.txt`: which stage ids' blocks it shows.
const STAGE_FILES: &[(&str, &[&str])] = &[
    ("stage-namespaces", &["namespaces"]),
    ("stage-cgroups", &["cgroups"]),
    (
        "stage-rootfs",
        &["rootfs.propagation", "rootfs.bind", "rootfs.mounts"],
    ),
    ("stage-devices", &["devices"]),
    ("stage-pivot_root", &["pivot_root"]),
    ("stage-finish", &["sysctl", "hostname", "rootfs.finish"]),
    (
        "stage-process",
        &["console", "rlimits", "user", "caps", "cwd"],
    ),
];

/// The blocks of `--explain` output (after normalising) whose header names
/// one of `ids`, in order, separated by a blank line.
fn stage_blocks(text: &str, ids: &[&str]) -> String {
    let head = Regex::new(r"^\[\d+/\d+\] (\S+) — ").unwrap();
    let mut out: Vec<String> = vec![];
    let mut cur: Option<Vec<&str>> = None;
    let mut keep = false;
    let flush = |cur: &mut Option<Vec<&str>>, keep: bool, out: &mut Vec<String>| {
        if let Some(lines) = cur.take() {
            if keep {
                out.push(lines.join("\n").trim_end().to_string());
            }
        }
    };
    for line in text.lines() {
        if let Some(c) = head.captures(line) {
            flush(&mut cur, keep, &mut out);
            keep = ids.contains(&c.get(1).unwrap().as_str());
            cur = Some(vec![line]);
        } else if line.starts_with("learnrt: ") || line.starts_with("$ ") {
            flush(&mut cur, keep, &mut out);
        } else if let Some(lines) = cur.as_mut() {
            lines.push(line);
        }
    }
    flush(&mut cur, keep, &mut out);
    out.join("\n\n")
}

/// The transcript of one command: `$ learnrt ARGS`, then what it printed.
fn transcript(cmdline: &str, parts: &[&str]) -> String {
    let mut s = format!("$ {cmdline}\n");
    for p in parts {
        s.push_str(p);
    }
    s
}

// ---------------------------------------------------------------------------
// The catalog
// ---------------------------------------------------------------------------

/// Stage ids in catalog order, from `learnrt explain`.
fn catalog_ids(text: &str) -> Vec<String> {
    let re = Regex::new(r"(?m)^ *(?:\d+\. +)?([a-z_][a-z_.]*) +(?:runtime|init) +\S").unwrap();
    re.captures_iter(text).map(|c| c[1].to_string()).collect()
}

fn learnrt_explain(args: &[&str]) -> (bool, String) {
    let out = Command::new(learnrt())
        .arg("explain")
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("spawn learnrt explain");
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), s)
}

/// Ids the book shows with `learnrt explain ID` (`explain-ID.txt`).
fn book_explain_ids() -> Vec<String> {
    book_includes()
        .into_iter()
        .filter_map(|n| n.strip_prefix("explain-").map(str::to_string))
        .filter(|n| n != "list")
        .collect()
}

// ---------------------------------------------------------------------------
// Tests that need no container
// ---------------------------------------------------------------------------

#[test]
fn explain_list_and_every_stage_the_book_shows() {
    let (okay, list) = learnrt_explain(&[]);
    assert!(okay, "learnrt explain failed:\n{list}");
    let norm = Norm { filters: vec![] };
    let list = norm.snap(
        "explain_list",
        &transcript("learnrt explain", &[&list]),
        false,
    );
    book("explain-list", &list);
    let ids = catalog_ids(&list);
    assert!(
        ids.len() >= 11,
        "too few stages parsed from `learnrt explain`: {ids:?}"
    );
    for id in book_explain_ids() {
        assert!(
            ids.contains(&id),
            "the book includes explain-{id}.txt, but `learnrt explain` has no stage {id:?} (stages: {ids:?})"
        );
        let (okay, text) = learnrt_explain(&[&id]);
        assert!(okay, "learnrt explain {id} failed:\n{text}");
        let text = norm.snap(
            &format!("explain_{}", id.replace('.', "_")),
            &transcript(&format!("learnrt explain {id}"), &[&text]),
            false,
        );
        book(&format!("explain-{id}"), &text);
    }
}

#[test]
fn every_catalog_entry_is_complete() {
    let (_, list) = learnrt_explain(&[]);
    for id in catalog_ids(&list) {
        let (okay, text) = learnrt_explain(&[&id]);
        assert!(okay, "learnrt explain {id} failed:\n{text}");
        for field in ["why:", "man:", "shell:"] {
            let line = text
                .lines()
                .find(|l| l.trim_start().starts_with(field))
                .unwrap_or_else(|| panic!("learnrt explain {id} has no {field:?} line:\n{text}"));
            assert!(
                line.trim_start()[field.len()..].trim().len() > 3,
                "learnrt explain {id}: {field} is empty:\n{text}"
            );
        }
    }
    let (okay, text) = learnrt_explain(&["no.such.stage"]);
    assert!(!okay, "learnrt explain of an unknown id must fail:\n{text}");
}

#[test]
fn features_json() {
    let env = TestEnv::new();
    let r = lrt_plain(&env, &env.dir, &["features"], "features");
    ok(&r, "learnrt features");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("features is JSON");
    assert!(v["ociVersionMax"].is_string(), "{v}");
    let text = Norm::new(&env).snap("features", &r.stdout, false);
    book("features", &text);
}

#[test]
fn spec_explain_and_default_config() {
    let env = TestEnv::new();
    let dir = env.dir.join("spec");
    fs::create_dir(&dir).unwrap();
    let r = lrt_plain(&env, &dir, &["--explain", "spec"], "spec");
    ok(&r, "learnrt --explain spec");
    let norm = Norm::new(&env).path(&dir, "/c1");
    let config = fs::read_to_string(dir.join("config.json")).expect("spec wrote config.json");
    serde_json::from_str::<serde_json::Value>(&config).expect("config.json is JSON");
    let config = norm.snap("config_default", &config, false);
    book("config-default", &config);
    let text = norm.snap(
        "spec_explain",
        &transcript("learnrt --explain spec", &[&r.stdout, &r.stderr]),
        false,
    );
    book("spec-explain", &text);
    // Without --explain, spec says nothing and writes the same file.
    let dir2 = env.dir.join("spec2");
    fs::create_dir(&dir2).unwrap();
    let r = lrt_plain(&env, &dir2, &["spec"], "spec2");
    ok(&r, "learnrt spec");
    assert_eq!(r.stderr, "", "spec without --explain printed on stderr");
    assert_eq!(
        fs::read_to_string(dir2.join("config.json")).unwrap(),
        fs::read_to_string(dir.join("config.json")).unwrap()
    );
}

#[test]
fn book_includes_are_all_written() {
    let includes = book_includes();
    let mut written: BTreeSet<String> = WRITTEN.iter().map(|s| s.to_string()).collect();
    written.extend(
        book_explain_ids()
            .into_iter()
            .map(|i| format!("explain-{i}")),
    );
    let missing: Vec<_> = includes.difference(&written).collect();
    assert!(
        missing.is_empty(),
        "book/src includes transcripts no test writes: {missing:?}"
    );
    let on_disk: BTreeSet<String> = fs::read_dir(book_dir().join("transcripts"))
        .unwrap()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".txt"))
                .map(str::to_string)
        })
        .collect();
    let stale: Vec<_> = on_disk.difference(&includes).collect();
    assert!(
        stale.is_empty(),
        "book/transcripts has files no chapter includes (remove them): {stale:?}"
    );
    for name in &includes {
        let text = fs::read_to_string(book_dir().join(format!("transcripts/{name}.txt")))
            .unwrap_or_default();
        let blessing = std::env::var("LEARNRT_BLESS").as_deref() == Ok("1");
        assert!(
            blessing
                || (!text.contains("(transcript generated by the tests)")
                    && !text.trim().is_empty()),
            "book/transcripts/{name}.txt is still a placeholder (bless with LEARNRT_BLESS=1)"
        );
    }
}

// ---------------------------------------------------------------------------
// The life of a container, explained
// ---------------------------------------------------------------------------

#[test]
fn lifecycle_explained() {
    if !require_root() {
        return;
    }
    let _g = serial();
    let env = TestEnv::new();
    let bundle = env.bundle("c1", &["sh"]);
    let id = env.id("c1");
    let norm = Norm::new(&env).path(&bundle, "/c1").literal(&id, "c1");

    let r = lrt(&env, &bundle, &["--explain", "create", &id], "create");
    ok(&r, "--explain create");
    assert_eq!(r.stdout, "", "create must print nothing on stdout");
    let create = norm.snap(
        "create_explain",
        &transcript("learnrt --explain create c1", &[&r.stderr]),
        true,
    );
    book("create-explain", &create);
    for (file, ids) in STAGE_FILES {
        let blocks = stage_blocks(&create, ids);
        assert!(
            !blocks.is_empty() || file == &"stage-idmap",
            "--explain create shows none of {ids:?}:\n{create}"
        );
        book(file, &blocks);
    }

    let r = lrt(&env, &bundle, &["list"], "list");
    ok(&r, "list");
    let list = realign_list(&norm.apply(&r.stdout));
    let text = norm.snap("list_created", &transcript("learnrt list", &[&list]), false);
    assert!(text.contains("created"), "{text}");
    book("list-created", &text);

    let r = lrt(&env, &bundle, &["state", &id], "state");
    ok(&r, "state");
    let state: serde_json::Value = serde_json::from_str(&r.stdout).expect("state is JSON");
    assert_eq!(state["status"], "created");
    let init_pid = state["pid"].as_i64().unwrap();
    assert!(Path::new(&format!("/proc/{init_pid}")).exists());
    let text = norm.snap(
        "state_created",
        &transcript("learnrt state c1", &[&r.stdout]),
        false,
    );
    book("state-created", &text);

    let r = lrt(
        &env,
        &bundle,
        &["--explain", "exec", &id, "ls", "/"],
        "exec",
    );
    ok(&r, "--explain exec");
    assert!(
        r.stdout.contains("bin\n"),
        "ls / in the container: {}",
        r.stdout
    );
    let text = norm.snap(
        "exec_explain",
        &transcript("learnrt --explain exec c1 ls /", &[&r.stderr, &r.stdout]),
        true,
    );
    book("exec-explain", &text);

    let r = lrt(&env, &bundle, &["--explain", "start", &id], "start");
    ok(&r, "--explain start");
    let text = norm.snap(
        "start_explain",
        &transcript("learnrt --explain start c1", &[&r.stderr, &r.stdout]),
        false,
    );
    book("start-explain", &text);

    // sh reads /dev/null and exits.
    wait_stopped(&env, &id);
    let r = lrt(&env, &bundle, &["--explain", "delete", &id], "delete");
    ok(&r, "--explain delete");
    let text = norm.snap(
        "delete_explain",
        &transcript("learnrt --explain delete c1", &[&r.stderr, &r.stdout]),
        true,
    );
    book("delete-explain", &text);
    assert!(!env.root.join(&id).exists(), "delete left the state dir");

    let r = lrt(&env, &bundle, &["list"], "list");
    ok(&r, "list");
    let list = realign_list(&norm.apply(&r.stdout));
    let text = norm.snap("list_empty", &transcript("learnrt list", &[&list]), false);
    book("list-empty", &text);
}

#[test]
fn run_explained() {
    if !require_root() {
        return;
    }
    let _g = serial();
    let env = TestEnv::new();
    let bundle = env.bundle("c1", &["/bin/true"]);
    let id = env.id("c1");
    let norm = Norm::new(&env).path(&bundle, "/c1").literal(&id, "c1");
    let r = lrt(&env, &bundle, &["--explain", "run", &id], "run");
    ok(&r, "--explain run");
    let text = norm.snap(
        "run_explain",
        &transcript("learnrt --explain run c1", &[&r.stderr, &r.stdout]),
        true,
    );
    for id in [
        "bundle",
        "namespaces",
        "pivot_root",
        "start.wait",
        "exec",
        "delete",
    ] {
        assert!(
            text.contains(&format!("] {id} — ")),
            "--explain run does not show stage {id}:\n{text}"
        );
    }
    assert!(!env.root.join(&id).exists(), "run left its state dir");
}

#[test]
fn failing_create_explained() {
    if !require_root() {
        return;
    }
    let _g = serial();
    let env = TestEnv::new();
    let bundle = env.bundle("c1", &["sh"]);
    edit_config(&bundle, |c| {
        c["root"]["path"] = serde_json::json!("missing")
    });
    let id = env.id("c1");
    let norm = Norm::new(&env).path(&bundle, "/c1").literal(&id, "c1");
    let r = lrt(&env, &bundle, &["--explain", "create", &id], "create-fail");
    assert!(
        !r.status.success(),
        "create with a missing rootfs succeeded"
    );
    let text = norm.snap(
        "create_fail_explain",
        &transcript("learnrt --explain create c1", &[&r.stderr, &r.stdout]),
        false,
    );
    assert!(
        text.contains("root.path"),
        "the error names the field:\n{text}"
    );
    book("create-fail-explain", &text);
    assert!(
        !env.root.join(&id).exists(),
        "a failed create left its state dir"
    );
    assert!(
        common::cgroup_dirs(&id).is_empty(),
        "{:?}",
        common::cgroup_dirs(&id)
    );
}

#[test]
fn idmap_and_seccomp_stages() {
    if !require_root() {
        return;
    }
    let _g = serial();
    let env = TestEnv::new();

    // idmap: a bundle whose config.json comes from `learnrt spec --rootless`.
    let bundle = env.bundle("rootless", &["sh"]);
    fs::remove_file(bundle.join("config.json")).unwrap();
    let r = lrt_plain(&env, &bundle, &["spec", "--rootless"], "spec-rootless");
    ok(&r, "spec --rootless");
    edit_config(&bundle, |c| {
        c["process"]["terminal"] = serde_json::Value::Bool(false);
    });
    let id = env.id("c1");
    let norm = Norm::new(&env).path(&bundle, "/c1").literal(&id, "c1");
    let r = lrt(
        &env,
        &bundle,
        &["--explain", "create", &id],
        "create-rootless",
    );
    ok(&r, "--explain create (rootless spec)");
    let text = norm.snap(
        "create_rootless_explain",
        &transcript("learnrt --explain create c1", &[&r.stderr]),
        true,
    );
    let blocks = stage_blocks(&text, &["idmap"]);
    assert!(!blocks.is_empty(), "no idmap stage in:\n{text}");
    book("stage-idmap", &blocks);
    let r = lrt(&env, &bundle, &["delete", "-f", &id], "delete-rootless");
    ok(&r, "delete -f");

    // seccomp: the filter from the seccomp chapter's "Try" section.
    let bundle = env.bundle("seccomp", &["/bin/true"]);
    edit_config(&bundle, |c| {
        c["linux"]["seccomp"] = serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
        });
    });
    let id = env.id("c1");
    let norm = Norm::new(&env).path(&bundle, "/c1").literal(&id, "c1");
    let r = lrt(&env, &bundle, &["--explain", "run", &id], "run-seccomp");
    ok(&r, "--explain run (seccomp)");
    let text = norm.snap(
        "run_seccomp_explain",
        &transcript("learnrt --explain run c1", &[&r.stderr]),
        true,
    );
    let blocks = stage_blocks(&text, &["seccomp"]);
    assert!(!blocks.is_empty(), "no seccomp stage in:\n{text}");
    book("stage-seccomp", &blocks);
}

// ---------------------------------------------------------------------------
// --trace json
// ---------------------------------------------------------------------------

/// Check a `--trace json` stream field by field; returns the events.
fn check_trace(
    what: &str,
    text: &str,
    catalog: &[String],
    in_catalog_order: bool,
) -> Vec<serde_json::Value> {
    let mut events = vec![];
    let mut last_seq = 0u64;
    let mut open: HashMap<(i64, String), usize> = HashMap::new();
    let mut order: Vec<usize> = vec![];
    for (i, line) in text.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{what}: line {} is not JSON ({e}): {line}", i + 1));
        let kind = v["kind"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: no kind: {line}"));
        let seq = v["seq"]
            .as_u64()
            .unwrap_or_else(|| panic!("{what}: no seq: {line}"));
        assert!(
            seq > last_seq,
            "{what}: seq not strictly increasing ({last_seq} then {seq}): {line}"
        );
        last_seq = seq;
        let pid = v["pid"]
            .as_i64()
            .unwrap_or_else(|| panic!("{what}: no pid: {line}"));
        assert!(pid > 1, "{what}: pid must be a host pid, got {pid}: {line}");
        let stage = v["stage"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: no stage: {line}"));
        match kind {
            "stage_start" => {
                assert!(
                    catalog.iter().any(|c| c == stage),
                    "{what}: stage {stage:?} is not in the catalog: {line}"
                );
                assert!(v["title"].is_string() && v["n"].is_u64(), "{what}: {line}");
                *open.entry((pid, stage.to_string())).or_default() += 1;
                order.push(catalog.iter().position(|c| c == stage).unwrap());
            }
            "stage_end" => {
                let n = open.entry((pid, stage.to_string())).or_default();
                assert!(
                    *n > 0,
                    "{what}: stage_end without a stage_start (pid {pid}, {stage}): {line}"
                );
                *n -= 1;
                assert!(v["ok"].is_boolean(), "{what}: no ok: {line}");
                assert!(v["dur_us"].is_u64(), "{what}: no dur_us: {line}");
            }
            "syscall" => {
                assert!(
                    !stage.is_empty(),
                    "{what}: syscall outside any stage: {line}"
                );
                for f in ["syscall", "args", "ret"] {
                    assert!(v[f].is_string(), "{what}: syscall without {f}: {line}");
                }
                assert!(!v["syscall"].as_str().unwrap().is_empty(), "{what}: {line}");
                assert!(
                    !v["ret"].as_str().unwrap().is_empty(),
                    "{what}: syscall without a result: {line}"
                );
                assert!(v.get("errno").is_some(), "{what}: no errno field: {line}");
                if v["ret"] == "-1" {
                    assert!(
                        v["errno"].is_string(),
                        "{what}: failed syscall without errno: {line}"
                    );
                } else {
                    assert!(v["errno"].is_null(), "{what}: errno on success: {line}");
                }
                assert!(v["dur_us"].is_u64(), "{what}: no dur_us: {line}");
            }
            "note" => assert!(v["text"].is_string(), "{what}: {line}"),
            other => panic!("{what}: unknown kind {other:?}: {line}"),
        }
        events.push(v);
    }
    let unclosed: Vec<_> = open.iter().filter(|(_, n)| **n > 0).collect();
    // The last stage of create (the init's) may still be open: it waits.
    assert!(
        unclosed.len() <= 1,
        "{what}: stages started but never ended: {unclosed:?}"
    );
    if in_catalog_order {
        assert!(
            order.windows(2).all(|w| w[0] <= w[1]),
            "{what}: stages not in catalog order: {:?}",
            order.iter().map(|&i| &catalog[i]).collect::<Vec<_>>()
        );
    }
    events
}

fn stages_of(events: &[serde_json::Value]) -> Vec<String> {
    events
        .iter()
        .filter(|v| v["kind"] == "stage_start")
        .map(|v| v["stage"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn trace_json_create() {
    if !require_root() {
        return;
    }
    let _g = serial();
    let (_, list) = learnrt_explain(&[]);
    let catalog = catalog_ids(&list);
    let env = TestEnv::new();
    let bundle = env.bundle("c1", &["sh"]);
    let id = env.id("c1");
    let norm = Norm::new(&env).path(&bundle, "/c1").literal(&id, "c1");
    let r = lrt(&env, &bundle, &["--trace", "json", "create", &id], "trace");
    ok(&r, "--trace json create");
    assert_eq!(r.stdout, "");
    let full = norm
        .clone()
        .with(r#""seq":\d+"#, r#""seq":[SEQ]"#)
        // The stray stage_end of the cloned init (pid 1; see trace-create
        // below) comes at a random place: check_trace reports it, the
        // snapshot leaves it out.
        .with(r#"(?m)^\{[^\n]*"pid":1,"ns_pid":null[^\n]*\n"#, "")
        .snap("trace_create", &r.stderr, true);
    assert!(!full.is_empty());
    // The book shows the first two stages: every kind of event, no cgroups.
    let first: Vec<&str> = r
        .stderr
        .lines()
        .take_while(|l| !l.contains(r#""kind":"stage_start","stage":"cgroups""#))
        // A stray stage_end the cloned init writes with pid 1 lands here or
        // later, at random (a runtime bug check_trace reports): not in the book.
        .filter(|l| !l.contains(r#""pid":1,"ns_pid":null"#))
        .collect();
    let text = norm.snap(
        "trace_create_head",
        &transcript("learnrt --trace json create c1", &[&first.join("\n")]),
        false,
    );
    book("trace-create", &text);
    let events = check_trace("--trace json create", &r.stderr, &catalog, true);
    let stages = stages_of(&events);
    for want in [
        "bundle",
        "namespaces",
        "cgroups",
        "rootfs.propagation",
        "rootfs.bind",
        "rootfs.mounts",
        "devices",
        "pivot_root",
        "rootfs.finish",
        "user",
        "caps",
        "cwd",
    ] {
        assert!(
            stages.iter().any(|s| s == want),
            "no stage {want} in the trace: {stages:?}"
        );
    }
    // Syscalls are reported by the process that made them: clone3 by the
    // runtime, pivot_root by the init (with its pid inside its namespace).
    let runtime_pid = events[0]["pid"].as_i64().unwrap();
    let pivot = events
        .iter()
        .find(|v| v["syscall"] == "pivot_root")
        .expect("a pivot_root syscall");
    assert_ne!(
        pivot["pid"].as_i64().unwrap(),
        runtime_pid,
        "pivot_root is the init's"
    );
    assert_eq!(pivot["ns_pid"], 1);
    let clone = events
        .iter()
        .find(|v| v["syscall"] == "clone3")
        .expect("clone3");
    assert_eq!(clone["pid"].as_i64().unwrap(), runtime_pid);
    assert_eq!(
        clone["ret"].as_str().unwrap(),
        pivot["pid"].as_i64().unwrap().to_string()
    );
}

#[test]
fn every_emitted_stage_is_in_the_catalog() {
    if !require_root() {
        return;
    }
    let _g = serial();
    let (_, list) = learnrt_explain(&[]);
    let catalog = catalog_ids(&list);
    let env = TestEnv::new();
    let bundle = env.bundle("c1", &["sh"]);
    let id = env.id("c1");
    let mut seen = BTreeSet::new();
    let mut traces = vec![];
    let steps: [(&str, Vec<&str>); 4] = [
        ("create", vec!["create", &id]),
        ("exec", vec!["exec", &id, "/bin/true"]),
        ("start", vec!["start", &id]),
        ("delete", vec!["delete", "-f", &id]),
    ];
    for (what, args) in steps {
        let mut a = vec!["--trace", "json"];
        a.extend(args);
        let r = lrt(&env, &bundle, &a, what);
        ok(&r, what);
        let events: Vec<serde_json::Value> = r
            .stderr
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let s = stages_of(&events);
        assert!(!s.is_empty(), "{what} traced no stage:\n{}", r.stderr);
        seen.extend(s);
        traces.push((what, r.stderr));
    }
    for id in &seen {
        let (okay, text) = learnrt_explain(&[id]);
        assert!(
            okay,
            "stage {id} ran but `learnrt explain {id}` fails:\n{text}"
        );
        for field in ["why:", "man:", "shell:"] {
            assert!(
                text.lines()
                    .any(|l| l.trim_start().starts_with(field) && l.trim().len() > field.len() + 3),
                "stage {id} ran but its explanation has no {field}:\n{text}"
            );
        }
    }
    // And each trace holds together (create's stages in catalog order; exec
    // joins the cgroup before the namespaces, so not there).
    for (what, text) in &traces {
        check_trace(
            &format!("--trace json {what}"),
            text,
            &catalog,
            *what == "create",
        );
    }
}

// ---------------------------------------------------------------------------
// --step through a terminal
// ---------------------------------------------------------------------------

const PROMPT_END: &str = "q then Enter: abort (nothing is left behind) ";

/// Read what is there until `needle` is seen, or the child exits and the
/// terminal has nothing more within a moment. Returns (text, found).
fn read_until(
    master: &mut File,
    child: &mut Child,
    needle: &str,
    timeout: Duration,
) -> (String, bool) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    let mut exited_at: Option<Instant> = None;
    loop {
        if String::from_utf8_lossy(&seen).ends_with(needle) {
            return (String::from_utf8_lossy(&seen).into_owned(), true);
        }
        if exited_at.is_none() && child.try_wait().ok().flatten().is_some() {
            exited_at = Some(Instant::now());
        }
        if exited_at.is_some_and(|t| t.elapsed() > Duration::from_millis(300))
            || Instant::now() > deadline
        {
            return (String::from_utf8_lossy(&seen).into_owned(), false);
        }
        let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(50u16)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => panic!("poll: {e}"),
        }
        let mut b = [0u8; 1];
        match master.read(&mut b) {
            Ok(0) => return (String::from_utf8_lossy(&seen).into_owned(), false),
            Ok(_) => seen.push(b[0]),
            Err(e) if e.raw_os_error() == Some(libc::EIO) => {
                return (String::from_utf8_lossy(&seen).into_owned(), false)
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!("read pty: {e}"),
        }
    }
}

struct Pause {
    n: u32,
    id: String,
    pids: Vec<i32>,
}

fn parse_pause(text: &str) -> Option<Pause> {
    let head = Regex::new(r"── paused before \[(\d+)/11\] (\S+)").unwrap();
    let c = head.captures_iter(text).last()?;
    let start = c.get(0).unwrap().start();
    let pids = Regex::new(r"/proc/(\d+)/|\s-[ptN] (\d+)\b")
        .unwrap()
        .captures_iter(&text[start..])
        .map(|c| c.get(1).or(c.get(2)).unwrap().as_str().parse().unwrap())
        .collect();
    Some(Pause {
        n: c[1].parse().unwrap(),
        id: c[2].to_string(),
        pids,
    })
}

/// Drive `--step create` in a pty; answer Enter, or `q` at pause `quit_at`.
/// Returns the whole screen, the pauses seen and the exit status.
fn step_create(
    env: &TestEnv,
    bundle: &Path,
    id: &str,
    quit_at: Option<usize>,
) -> (String, Vec<Pause>, ExitStatus) {
    let mut cmd = env.cmd(&["--step", "create", id]);
    cmd.current_dir(bundle).env("NO_COLOR", "1");
    let (mut child, mut master) = spawn_in_pty(&mut cmd);
    let mut screen = String::new();
    let mut pauses = vec![];
    loop {
        let (text, found) =
            read_until(&mut master, &mut child, PROMPT_END, Duration::from_secs(30));
        screen.push_str(&text);
        if !found {
            break;
        }
        let p = parse_pause(&text)
            .unwrap_or_else(|| panic!("a prompt without a pause header:\n{text}"));
        for pid in &p.pids {
            assert!(
                Path::new(&format!("/proc/{pid}")).exists(),
                "paused before {}: the hint names pid {pid}, which is not a live process",
                p.id
            );
        }
        pauses.push(p);
        if quit_at == Some(pauses.len()) {
            send(&mut master, "q\n");
        } else {
            send(&mut master, "\n");
        }
    }
    let status = child.wait().expect("wait for learnrt --step create");
    (screen, pauses, status)
}

#[test]
fn step_pauses_at_every_stage() {
    if !require_root() {
        return;
    }
    let _g = serial();
    let env = TestEnv::new();
    let bundle = env.bundle("c1", &["sh"]);
    let id = env.id("c1");
    let norm = Norm::new(&env).path(&bundle, "/c1").literal(&id, "c1");
    let (screen, pauses, status) = step_create(&env, &bundle, &id, None);
    assert!(status.success(), "--step create: {status}\n{screen}");
    let ids: Vec<&str> = pauses.iter().map(|p| p.id.as_str()).collect();
    for want in [
        "bundle",
        "namespaces",
        "cgroups",
        "rootfs.bind",
        "pivot_root",
        "caps",
    ] {
        assert!(
            ids.contains(&want),
            "--step did not pause before {want}: {ids:?}\n{screen}"
        );
    }
    assert!(
        pauses.windows(2).all(|w| w[0].n <= w[1].n),
        "pauses out of order: {ids:?}"
    );
    assert!(
        pauses.iter().any(|p| !p.pids.is_empty()),
        "no pause names a pid to look at:\n{screen}"
    );
    let r = lrt(&env, &bundle, &["state", &id], "state");
    assert!(
        r.stdout.contains("\"created\""),
        "after --step create: {}",
        r.stdout
    );
    let text = norm.snap(
        "step_create",
        &transcript("learnrt --step create c1", &[&screen]),
        true,
    );
    book("step-create", &text);
}

#[test]
fn step_q_leaves_nothing_behind() {
    if !require_root() {
        return;
    }
    let _g = serial();
    let env = TestEnv::new();
    let bundle = env.bundle("c1", &["sh"]);
    let id = env.id("c1");
    let (screen, pauses, status) = step_create(&env, &bundle, &id, Some(4));
    assert_eq!(
        pauses.len(),
        4,
        "expected to quit at the 4th pause:\n{screen}"
    );
    assert!(!status.success(), "q must make create fail:\n{screen}");
    assert!(screen.contains("abort"), "q is not reported:\n{screen}");
    // Nothing left: state, cgroups, processes, mounts.
    assert!(
        !env.root.join(&id).exists(),
        "q left the state dir {}",
        env.root.join(&id).display()
    );
    assert!(
        common::cgroup_dirs(&id).is_empty(),
        "q left cgroups: {:?}",
        common::cgroup_dirs(&id)
    );
    let pids: BTreeSet<i32> = pauses.iter().flat_map(|p| p.pids.clone()).collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    for pid in pids {
        // The runtime's own pid is gone with it; the init must be too.
        while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "pid {pid} still alive after q"
        );
    }
    assert!(
        mounts_under(&bundle).is_empty(),
        "mounts left: {:?}",
        mounts_under(&bundle)
    );
}

#[test]
fn step_needs_a_terminal() {
    if !require_root() {
        return;
    }
    let env = TestEnv::new();
    let bundle = env.bundle("c1", &["sh"]);
    let id = env.id("c1");
    let r = lrt(&env, &bundle, &["--step", "create", &id], "step-notty");
    assert!(!r.status.success(), "--step without a terminal succeeded");
    assert!(
        r.stderr.contains("terminal"),
        "the error must say why: {}",
        r.stderr
    );
    assert!(!env.root.join(&id).exists());
}

// ---------------------------------------------------------------------------
// The tutorial's first steps
// ---------------------------------------------------------------------------

#[test]
fn tutorial_steps_1_to_5() {
    if !require_root() {
        return;
    }
    let _g = serial();
    let env = TestEnv::new();
    let dir = env.dir.join("c1");
    let mut cmd = Command::new(learnrt());
    cmd.arg("tutorial")
        .arg("--dir")
        .arg(&dir)
        .arg("--root")
        .arg(&env.root)
        .env("NO_COLOR", "1")
        // Steps 1-3 without docker/podman: what the book shows, on any machine.
        .env("LEARNRT_TUTORIAL_NO_ENGINE", "1");
    let (mut child, mut master) = spawn_in_pty(&mut cmd);
    let mut screen = String::new();
    loop {
        let (text, found) = read_until(
            &mut master,
            &mut child,
            "q to stop: ",
            Duration::from_secs(60),
        );
        screen.push_str(&text);
        if !found {
            break;
        }
        // Stop before step 6: steps 6-9 are other transcripts.
        if screen.contains("== Step 5") {
            send(&mut master, "q\n");
        } else {
            send(&mut master, "\n");
        }
    }
    let _ = child.wait();
    let norm = Norm::new(&env).path(&dir, "/c1");
    let screen = norm.apply(&screen);
    let lines: Vec<&str> = screen
        .lines()
        .filter(|l| {
            !l.contains("q to stop:") && !l.starts_with("  Stopped. Run `learnrt tutorial`")
        })
        .collect();
    let find = |pre: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(pre))
            .unwrap_or_else(|| panic!("no line starting {pre:?} in the tutorial:\n{screen}"))
    };
    let (s1, s4) = (find("== Steps 1-3"), find("== Step 4"));
    let s6 = lines
        .iter()
        .position(|l| l.starts_with("== Step 6"))
        .unwrap_or(lines.len());
    let steps_1_3 = lines[s1..s4].join("\n");
    let steps_4_5 = lines[s4..s6].join("\n");
    let a = norm.snap("tutorial_steps_1_3", steps_1_3.trim_end(), false);
    let b = norm.snap("tutorial_steps_4_5", steps_4_5.trim_end(), false);
    assert!(b.contains("aa.txt"), "{b}");
    book("tutorial-steps-1-3", &a);
    book("tutorial-steps-4-5", &b);
}

//! The init-side stage sequence on the recording double: what each stage
//! asks of the kernel, in order, for runc's default config — no root
//! needed.

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use oci_spec::runtime::Spec;

use super::*;
use crate::sys::Recording;

fn default_spec() -> Spec {
    let mut v = crate::spec_default::default_spec(false);
    v["process"]["terminal"] = serde_json::json!(false);
    serde_json::from_value(v).unwrap()
}

fn temp_rootfs(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("learnrt-stages-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("rootfs")).unwrap();
    d.join("rootfs")
}

fn ctx<'a>(sys: &'a Recording, spec: &'a Spec, rootfs: &Path) -> Ctx<'a> {
    Ctx {
        sys,
        spec,
        rootfs: rootfs.to_path_buf(),
        no_pivot: false,
        host_pid: 4242,
        id: "c1".into(),
        bundle: rootfs.parent().unwrap().to_path_buf(),
        chan_fd: -1,
        preserve_fds: 0,
    }
}

#[test]
fn rootfs_stage_makes_slave_binds_then_mounts_in_config_order() {
    let spec = default_spec();
    let r = temp_rootfs("rootfs");
    let rec = Recording::new();
    rootfs::run(&ctx(&rec, &spec, &r)).unwrap();
    let l = rec.lines();
    let rs = r.display().to_string();
    assert_eq!(l[0], r#"mount(NULL, "/", NULL, MS_REC|MS_SLAVE, NULL)"#);
    assert_eq!(
        l[1],
        format!(r#"mount("{rs}", "{rs}", NULL, MS_BIND|MS_REC, NULL)"#)
    );
    let mounts: Vec<&String> = l.iter().filter(|c| c.starts_with("mount(\"")).collect();
    // proc, then /dev tmpfs, devpts, shm, mqueue, sysfs: the config's order.
    let order: Vec<&str> = [
        "\"proc\"",
        "\"tmpfs\"",
        "\"devpts\"",
        "\"shm\"",
        "\"mqueue\"",
        "\"sysfs\"",
    ]
    .to_vec();
    let mut at = 0;
    for want in order {
        let pos = mounts[at..]
            .iter()
            .position(|m| m.starts_with(&format!("mount({want}")))
            .unwrap_or_else(|| panic!("{want} mounted after the previous one: {mounts:#?}"));
        at += pos + 1;
    }
    assert!(
        l.iter()
            .any(|c| c == &format!(r#"mkdir("{rs}/proc", 0o755)"#)),
        "missing dirs are made: {l:#?}"
    );
    assert!(l.iter().any(|c| c.contains(
        r#"/dev/pts", "devpts", MS_NOSUID|MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5")"#
    )));
    std::fs::remove_dir_all(r.parent().unwrap()).unwrap();
}

#[test]
fn devices_stage_makes_the_default_nodes_and_links() {
    let spec = default_spec();
    let r = temp_rootfs("devices");
    let rec = Recording::new();
    devices::run(&ctx(&rec, &spec, &r)).unwrap();
    let l = rec.lines().join("\n");
    let rs = r.display();
    for (name, maj, min) in devices::DEFAULT {
        assert!(
            l.contains(&format!(
                r#"mknod("{rs}/dev/{name}", 0o20000|0o666, makedev({maj}, {min}))"#
            )),
            "{name}:\n{l}"
        );
    }
    assert!(l.contains(&format!(r#"symlink("/proc/self/fd", "{rs}/dev/fd")"#)));
    assert!(l.contains(&format!(r#"symlink("pts/ptmx", "{rs}/dev/ptmx")"#)));
    assert!(l.starts_with("mkdir") || l.starts_with("umask"), "{l}");
    std::fs::remove_dir_all(r.parent().unwrap()).unwrap();
}

#[test]
fn pivot_root_pivots_dot_dot_and_detaches_the_old_root() {
    let spec = default_spec();
    let r = PathBuf::from("/c1/rootfs");
    let rec = Recording::new();
    pivot_root::run(&ctx(&rec, &spec, &r)).unwrap();
    assert_eq!(
        rec.lines(),
        [
            r#"open("/", O_DIRECTORY|O_RDONLY|O_CLOEXEC)"#,
            r#"open("/c1/rootfs", O_DIRECTORY|O_RDONLY|O_CLOEXEC)"#,
            "fchdir(/* /c1/rootfs */)",
            r#"pivot_root(".", ".")"#,
            "fchdir(/* / (old root) */)",
            r#"mount(NULL, ".", NULL, MS_REC|MS_SLAVE, NULL)"#,
            r#"umount2(".", 2)"#,
            r#"chdir("/")"#,
            "close(100)",
            "close(100)",
        ]
    );
}

#[test]
fn no_pivot_moves_the_mount_and_chroots() {
    let spec = default_spec();
    let r = PathBuf::from("/c1/rootfs");
    let rec = Recording::new();
    let mut c = ctx(&rec, &spec, &r);
    c.no_pivot = true;
    pivot_root::run(&c).unwrap();
    assert_eq!(
        rec.lines(),
        [
            r#"chdir("/c1/rootfs")"#,
            r#"mount("/c1/rootfs", "/", NULL, MS_MOVE, NULL)"#,
            r#"chroot(".")"#,
            r#"chdir("/")"#,
        ]
    );
}

#[test]
fn a_failing_pivot_root_names_stage_syscall_errno_and_hint() {
    let spec = default_spec();
    let r = PathBuf::from("/c1/rootfs");
    let rec = Recording::failing("pivot_root", Errno::EINVAL);
    let e = pivot_root::run(&ctx(&rec, &spec, &r)).unwrap_err();
    assert_eq!(e.stage, "pivot_root");
    assert_eq!(e.errno.as_deref(), Some("EINVAL"));
    assert!(e.hint.as_deref().unwrap().contains("mount point"));
    // The directory handles are closed on the way out.
    assert_eq!(
        rec.lines()
            .iter()
            .filter(|l| l.starts_with("close"))
            .count(),
        2
    );
}

#[test]
fn finish_sets_hostname_then_readonly_and_masked_paths_then_readonly_root() {
    let spec = default_spec();
    let r = PathBuf::from("/c1/rootfs");
    let rec = Recording::new();
    finish::run(&ctx(&rec, &spec, &r)).unwrap();
    let l = rec.lines();
    assert_eq!(l[0], r#"sethostname("learnrt", 7)"#);
    // /proc/sys exists on any Linux host: bound, then remounted read-only.
    let bind = l
        .iter()
        .position(|c| c == r#"mount("/proc/sys", "/proc/sys", NULL, MS_BIND|MS_REC, NULL)"#)
        .unwrap();
    assert!(
        l[bind + 1].starts_with(r#"mount(NULL, "/proc/sys", NULL, MS_RDONLY"#),
        "{}",
        l[bind + 1]
    );
    // The whole root last.
    assert!(
        l.last()
            .unwrap()
            .starts_with(r#"mount(NULL, "/", NULL, MS_RDONLY"#),
        "{l:#?}"
    );
}

#[test]
fn process_stage_drops_bounding_then_switches_user_then_sets_caps() {
    let mut spec = default_spec();
    let mut p = spec.process().clone().unwrap();
    let mut user = p.user().clone();
    user.set_uid(1000);
    user.set_gid(1000);
    user.set_additional_gids(Some(vec![10]));
    p.set_user(user);
    spec.set_process(Some(p));
    let rec = Recording::new();
    let mut warnings = vec![];
    let prepared = process::run(&rec, spec.process().as_ref().unwrap(), 0, &mut warnings).unwrap();
    let l = rec.lines();
    let idx = |prefix: &str| {
        l.iter()
            .position(|c| c.starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix} in {l:#?}"))
    };
    // rlimits first, then the bounding set, keepcaps, groups, gid, uid, caps.
    assert!(idx("prlimit64(0, RLIMIT_NOFILE") < idx("prctl(PR_CAPBSET_DROP"));
    assert!(idx("prctl(PR_CAPBSET_DROP") < idx("prctl(PR_SET_KEEPCAPS, 1"));
    assert!(idx("prctl(PR_SET_KEEPCAPS, 1") < idx("setgroups(1, [10])"));
    assert!(idx("setgroups") < idx("setresgid(1000"));
    assert!(idx("setresgid") < idx("setresuid(1000"));
    assert!(idx("setresuid") < idx("capset"));
    assert!(l.contains(
        &"capset({effective=0x20000420, permitted=0x20000420, inheritable=0x0})".to_string()
    ));
    // Every capability outside the three kept ones leaves the bounding set.
    let drops = l
        .iter()
        .filter(|c| c.starts_with("prctl(PR_CAPBSET_DROP"))
        .count();
    assert_eq!(drops as u32, process::last_cap() + 1 - 3);
    assert!(l.iter().any(|c| c.starts_with("close_range(3, 0xffffffff")));
    assert_eq!(prepared.argv[0].to_str().unwrap(), "sh");
}

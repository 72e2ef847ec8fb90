//! What `learnrt spec` writes, what `learnrt --explain spec` says about it,
//! and what `learnrt features` reports.
//!
//! The default config.json is runc 1.1's, field for field and in the same key
//! order (serde_json's `preserve_order` keeps the order we build), so that a
//! tutorial written for runc works unchanged. Only the hostname differs.
//! [`render_spec`] writes it exactly as `runc spec` does (tabs, no final
//! newline).

use serde_json::{json, Value};

/// The `ociVersion` runc 1.1.5 writes, and the highest we claim.
pub const OCI_VERSION: &str = "1.0.2-dev";

/// The default `hostname` (runc writes "runc").
pub const HOSTNAME: &str = "learnrt";

/// runc 1.1's `runc spec` (`rootless == false`) or `runc spec --rootless`.
///
/// The rootless variant is the same transformation runc applies: no network
/// namespace, a user namespace mapping container root to the caller's
/// effective uid/gid (size 1), `/sys` bind-mounted instead of a new sysfs
/// (an unprivileged user cannot mount sysfs), no `gid=`/`uid=` mount options
/// (no such ids inside), and no `linux.resources` (no cgroup to write to).
pub fn default_spec(rootless: bool) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let devpts_opts = if rootless {
        json!([
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620"
        ])
    } else {
        json!([
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
            "gid=5"
        ])
    };
    let sys = if rootless {
        json!({
            "destination": "/sys",
            "type": "none",
            "source": "/sys",
            "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]
        })
    } else {
        json!({
            "destination": "/sys",
            "type": "sysfs",
            "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", "ro"]
        })
    };
    let mounts = json!([
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]
        },
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": devpts_opts},
        {
            "destination": "/dev/shm",
            "type": "tmpfs",
            "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]
        },
        {
            "destination": "/dev/mqueue",
            "type": "mqueue",
            "source": "mqueue",
            "options": ["nosuid", "noexec", "nodev"]
        },
        sys,
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]
        }
    ]);
    let masked = json!([
        "/proc/acpi",
        "/proc/asound",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/sys/firmware",
        "/proc/scsi"
    ]);
    let readonly = json!([
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sys",
        "/proc/sysrq-trigger"
    ]);
    let linux = if rootless {
        // As runc: the caller's effective ids, whatever namespace we are in.
        let uid = nix::unistd::geteuid().as_raw();
        let gid = nix::unistd::getegid().as_raw();
        json!({
            "uidMappings": [{"containerID": 0, "hostID": uid, "size": 1}],
            "gidMappings": [{"containerID": 0, "hostID": gid, "size": 1}],
            "namespaces": [
                {"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "user"}
            ],
            "maskedPaths": masked,
            "readonlyPaths": readonly
        })
    } else {
        json!({
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}
            ],
            "maskedPaths": masked,
            "readonlyPaths": readonly
        })
    };
    json!({
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": caps,
                "effective": caps,
                "permitted": caps,
                "ambient": caps
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": HOSTNAME,
        "mounts": mounts,
        "linux": linux
    })
}

/// JSON text the way `runc spec` writes config.json: tab-indented, no
/// newline at the end.
pub fn render_spec(spec: &Value) -> String {
    render(spec, b"\t")
}

/// JSON text the way `runc features` prints: four spaces, final newline.
pub fn render_features(features: &Value) -> String {
    let mut s = render(features, b"    ");
    s.push('\n');
    s
}

fn render(v: &Value, indent: &[u8]) -> String {
    use serde::Serialize;
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(indent);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    v.serialize(&mut ser).expect("a Value always serializes");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// What each default in [`default_spec`] means, for `learnrt --explain spec`.
///
/// The first item is a JSON path; array items are picked by their key
/// (`mounts[/proc]`, `linux.namespaces[pid]`). In order of the file.
pub fn explain_defaults() -> Vec<(&'static str, &'static str)> {
    vec![
        ("ociVersion", "The version of the OCI runtime spec this file follows (the one runc 1.1 writes)."),
        ("process.terminal", "true gives the container a pseudo-terminal, so it needs a real terminal (or --console-socket) when it starts. The tutorial sets it to false before `learnrt create`, because create returns at once and leaves no terminal for the container."),
        ("process.user", "uid 0 and gid 0: the program runs as root inside the container. With a user namespace that root can be an ordinary user on the host."),
        ("process.args", "The program to run and its arguments: `sh`, found through PATH inside the rootfs."),
        ("process.env", "The environment the program starts with: a PATH to find commands and TERM for the terminal. Nothing is inherited from your shell."),
        ("process.cwd", "The working directory the program starts in, inside the container: /."),
        ("process.capabilities.bounding", "The capabilities the process can ever get back. Only CAP_AUDIT_WRITE, CAP_KILL and CAP_NET_BIND_SERVICE: root in this container cannot mount, load modules or change the clock."),
        ("process.capabilities.effective", "The capabilities the kernel actually checks right now: the same three."),
        ("process.capabilities.permitted", "The capabilities the process may make effective: the same three."),
        ("process.capabilities.ambient", "Capabilities kept across execve even by a program that is not setuid and has no file capabilities, but the kernel raises an ambient capability only if it is also permitted *and inheritable*: with the empty inheritable set runc's default writes, none is raised (learnrt's caps stage says so), exactly as with runc."),
        ("process.rlimits", "RLIMIT_NOFILE 1024/1024: the program can have at most 1024 open files (soft and hard limit, see setrlimit(2))."),
        ("process.noNewPrivileges", "Sets no_new_privs: setuid binaries and file capabilities can no longer raise privileges inside the container, and a seccomp filter may be loaded without CAP_SYS_ADMIN."),
        ("root.path", "The container's root filesystem is the directory `rootfs` next to config.json. That is why the tutorial makes bundle/rootfs and unpacks busybox into it."),
        ("root.readonly", "The root filesystem is mounted read-only: the container cannot change its own files (tmpfs mounts like /dev/shm stay writable)."),
        ("hostname", "The hostname inside the container's own UTS namespace: `learnrt`. Changing it does not touch the host's name."),
        ("mounts[/proc]", "A fresh proc filesystem, so ps and /proc show only the container's processes (it has its own pid namespace)."),
        ("mounts[/dev]", "A small tmpfs (64 MiB) for /dev instead of the host's /dev: the runtime creates only the few safe device nodes (null, zero, tty, random, ...)."),
        ("mounts[/dev/pts]", "A new, private devpts instance for pseudo-terminals, so the container sees its own ttys, not the host's. (gid=5 is the tty group; --rootless drops it.)"),
        ("mounts[/dev/shm]", "A tmpfs for POSIX shared memory, writable by everyone (mode 1777), limited to 64 MiB, no devices or programs on it."),
        ("mounts[/dev/mqueue]", "The POSIX message-queue filesystem of the container's own IPC namespace."),
        ("mounts[/sys]", "sysfs, read-only: programs can read hardware information but not change kernel settings. With --rootless it is a read-only bind of the host's /sys, because an unprivileged user may not mount sysfs."),
        ("mounts[/sys/fs/cgroup]", "The cgroup filesystem, read-only, so the container can read its resource limits and usage but not change them."),
        ("linux.resources.devices", "Deny read, write and mknod (\"rwm\") on every device by default, through the cgroup device controller; the runtime then allows only the default devices. Not in --rootless (no cgroup to write to)."),
        ("linux.uidMappings", "--rootless only: container uid 0 is your own uid on the host (one id), through a user namespace."),
        ("linux.gidMappings", "--rootless only: container gid 0 is your own gid on the host (one id)."),
        ("linux.namespaces[pid]", "A new pid namespace: the program is pid 1 in the container and cannot see or signal host processes."),
        ("linux.namespaces[network]", "A new network namespace with only a loopback interface (down): the container has no network until someone adds one. Not in --rootless."),
        ("linux.namespaces[ipc]", "A new IPC namespace: System V IPC objects and POSIX message queues are not shared with the host."),
        ("linux.namespaces[uts]", "A new UTS namespace, so the container can have its own hostname."),
        ("linux.namespaces[mount]", "A new mount namespace: mounts made for the container (and by it) are invisible to the host."),
        ("linux.namespaces[user]", "--rootless only: a new user namespace, where your ordinary user is root, so an unprivileged user can make the other namespaces."),
        ("linux.maskedPaths", "Files and directories under /proc and /sys hidden from the container (a /dev/null or empty tmpfs mounted over them): they leak host information such as kernel memory (/proc/kcore) or keys."),
        ("linux.readonlyPaths", "Parts of /proc made read-only (/proc/sys, /proc/sysrq-trigger, ...): readable, but writing them would change the whole host kernel."),
    ]
}

/// Every capability the kernel knows, with its number (linux/capability.h).
pub const KNOWN_CAPS: &[(&str, u32)] = &[
    ("CAP_CHOWN", 0),
    ("CAP_DAC_OVERRIDE", 1),
    ("CAP_DAC_READ_SEARCH", 2),
    ("CAP_FOWNER", 3),
    ("CAP_FSETID", 4),
    ("CAP_KILL", 5),
    ("CAP_SETGID", 6),
    ("CAP_SETUID", 7),
    ("CAP_SETPCAP", 8),
    ("CAP_LINUX_IMMUTABLE", 9),
    ("CAP_NET_BIND_SERVICE", 10),
    ("CAP_NET_BROADCAST", 11),
    ("CAP_NET_ADMIN", 12),
    ("CAP_NET_RAW", 13),
    ("CAP_IPC_LOCK", 14),
    ("CAP_IPC_OWNER", 15),
    ("CAP_SYS_MODULE", 16),
    ("CAP_SYS_RAWIO", 17),
    ("CAP_SYS_CHROOT", 18),
    ("CAP_SYS_PTRACE", 19),
    ("CAP_SYS_PACCT", 20),
    ("CAP_SYS_ADMIN", 21),
    ("CAP_SYS_BOOT", 22),
    ("CAP_SYS_NICE", 23),
    ("CAP_SYS_RESOURCE", 24),
    ("CAP_SYS_TIME", 25),
    ("CAP_SYS_TTY_CONFIG", 26),
    ("CAP_MKNOD", 27),
    ("CAP_LEASE", 28),
    ("CAP_AUDIT_WRITE", 29),
    ("CAP_AUDIT_CONTROL", 30),
    ("CAP_SETFCAP", 31),
    ("CAP_MAC_OVERRIDE", 32),
    ("CAP_MAC_ADMIN", 33),
    ("CAP_SYSLOG", 34),
    ("CAP_WAKE_ALARM", 35),
    ("CAP_BLOCK_SUSPEND", 36),
    ("CAP_AUDIT_READ", 37),
    ("CAP_PERFMON", 38),
    ("CAP_BPF", 39),
    ("CAP_CHECKPOINT_RESTORE", 40),
];

/// The number of a capability: `CAP_SYS_ADMIN`, `cap_sys_admin` and
/// `SYS_ADMIN` all give 21. `None` for a name the kernel does not know.
pub fn cap_number(name: &str) -> Option<u32> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    KNOWN_CAPS
        .iter()
        .find(|(n, _)| *n == full)
        .map(|&(_, nr)| nr)
}

/// Mount options `learnrt features` lists (runc 1.1's set). Keep it equal to
/// what the rootfs stage parses.
pub const MOUNT_OPTIONS: &[&str] = &[
    "acl",
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "iversion",
    "lazytime",
    "loud",
    "mand",
    "noacl",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "noiversion",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "nosymfollow",
    "private",
    "ratime",
    "rbind",
    "rdev",
    "rdiratime",
    "relatime",
    "remount",
    "rexec",
    "rnoatime",
    "rnodev",
    "rnodiratime",
    "rnoexec",
    "rnorelatime",
    "rnostrictatime",
    "rnosuid",
    "rnosymfollow",
    "ro",
    "rprivate",
    "rrelatime",
    "rro",
    "rrw",
    "rshared",
    "rslave",
    "rstrictatime",
    "rsuid",
    "rsymfollow",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "symfollow",
    "sync",
    "tmpcopyup",
    "unbindable",
];

/// Hooks `learnrt features` lists, in the order they run.
pub const HOOKS: &[&str] = &[
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// Namespace types learnrt can create or join.
pub const NAMESPACES: &[&str] = &["cgroup", "ipc", "mount", "network", "pid", "user", "uts"];

/// What `learnrt features` prints (the runtime spec's features.md document,
/// shaped like `runc features`). The seccomp part comes from
/// [`crate::seccomp`]'s constants, so it cannot drift from what compile()
/// accepts; `supportedFlags` is probed on this kernel.
pub fn features_json() -> Value {
    use crate::seccomp;
    let caps: Vec<&str> = KNOWN_CAPS.iter().map(|(n, _)| *n).collect();
    let known_flags: Vec<&str> = seccomp::KNOWN_FLAGS.iter().map(|(n, _)| *n).collect();
    let libseccomp = libseccomp::ScmpVersion::current()
        .map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro))
        .unwrap_or_else(|_| "unknown".into());
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": HOOKS,
        "mountOptions": MOUNT_OPTIONS,
        "linux": {
            "namespaces": NAMESPACES,
            "capabilities": caps,
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false},
            "seccomp": {
                "enabled": true,
                "actions": seccomp::ACTIONS,
                "operators": seccomp::OPERATORS,
                "archs": seccomp::ARCHS,
                "knownFlags": known_flags,
                "supportedFlags": seccomp::supported_flags()
            },
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false}
        },
        "annotations": {
            "io.github.learnrt.commit": option_env!("LEARNRT_COMMIT").unwrap_or("unknown"),
            "io.github.learnrt.version": env!("CARGO_PKG_VERSION"),
            "io.github.seccomp.libseccomp.version": libseccomp
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxNamespaceType, Spec};

    fn spec(rootless: bool) -> Spec {
        serde_json::from_value(default_spec(rootless)).expect("default spec is a valid Spec")
    }

    #[test]
    fn default_spec_is_runcs() {
        let s = spec(false);
        assert_eq!(s.version(), "1.0.2-dev");
        assert_eq!(s.hostname().as_deref(), Some("learnrt"));
        let p = s.process().as_ref().unwrap();
        assert_eq!(p.terminal(), Some(true));
        assert_eq!(p.args().as_ref().unwrap(), &vec!["sh".to_string()]);
        assert_eq!(p.no_new_privileges(), Some(true));
        let root = s.root().as_ref().unwrap();
        assert_eq!(root.path().to_str(), Some("rootfs"));
        assert_eq!(root.readonly(), Some(true));
        let m = s.mounts().as_ref().unwrap();
        let dests: Vec<_> = m
            .iter()
            .map(|m| m.destination().to_str().unwrap())
            .collect();
        assert_eq!(
            dests,
            [
                "/proc",
                "/dev",
                "/dev/pts",
                "/dev/shm",
                "/dev/mqueue",
                "/sys",
                "/sys/fs/cgroup"
            ]
        );
        let l = s.linux().as_ref().unwrap();
        let ns: Vec<_> = l
            .namespaces()
            .as_ref()
            .unwrap()
            .iter()
            .map(|n| n.typ())
            .collect();
        use LinuxNamespaceType as T;
        assert_eq!(ns, [T::Pid, T::Network, T::Ipc, T::Uts, T::Mount]);
        assert_eq!(l.masked_paths().as_ref().unwrap().len(), 10);
        assert_eq!(l.readonly_paths().as_ref().unwrap().len(), 5);
        assert!(l.resources().is_some());
        assert!(l.uid_mappings().is_none());
    }

    #[test]
    fn key_order_and_text_match_runc() {
        let text = render_spec(&default_spec(false));
        assert!(text.starts_with(
            "{\n\t\"ociVersion\": \"1.0.2-dev\",\n\t\"process\": {\n\t\t\"terminal\": true,"
        ));
        assert!(!text.ends_with('\n'));
        let keys: Vec<_> = default_spec(false)
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(
            keys,
            [
                "ociVersion",
                "process",
                "root",
                "hostname",
                "mounts",
                "linux"
            ]
        );
        assert!(text.contains(
            "\"type\": \"RLIMIT_NOFILE\",\n\t\t\t\t\"hard\": 1024,\n\t\t\t\t\"soft\": 1024"
        ));
    }

    #[test]
    fn rootless_spec_is_runcs() {
        let v = default_spec(true);
        let s = spec(true);
        let l = s.linux().as_ref().unwrap();
        let ns: Vec<_> = l
            .namespaces()
            .as_ref()
            .unwrap()
            .iter()
            .map(|n| n.typ())
            .collect();
        use LinuxNamespaceType as T;
        assert_eq!(ns, [T::Pid, T::Ipc, T::Uts, T::Mount, T::User]);
        assert!(l.resources().is_none());
        let uid = nix::unistd::geteuid().as_raw();
        assert_eq!(l.uid_mappings().as_ref().unwrap()[0].host_id(), uid);
        assert_eq!(v["linux"]["uidMappings"][0]["size"], 1);
        assert_eq!(v["mounts"][5]["type"], "none");
        assert_eq!(v["mounts"][5]["options"][0], "rbind");
        assert!(!v["mounts"][2]["options"]
            .as_array()
            .unwrap()
            .contains(&json!("gid=5")));
        let keys: Vec<_> = v["linux"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "uidMappings",
                "gidMappings",
                "namespaces",
                "maskedPaths",
                "readonlyPaths"
            ]
        );
    }

    #[test]
    fn every_default_is_explained() {
        let ex = explain_defaults();
        let paths: Vec<_> = ex.iter().map(|(p, _)| *p).collect();
        for want in [
            "process.terminal",
            "process.user",
            "process.args",
            "process.env",
            "process.cwd",
            "process.capabilities.bounding",
            "process.rlimits",
            "process.noNewPrivileges",
            "root.path",
            "root.readonly",
            "hostname",
            "linux.resources.devices",
            "linux.maskedPaths",
            "linux.readonlyPaths",
        ] {
            assert!(paths.contains(&want), "{want} not explained");
        }
        for rootless in [false, true] {
            let v = default_spec(rootless);
            for m in v["mounts"].as_array().unwrap() {
                let p = format!("mounts[{}]", m["destination"].as_str().unwrap());
                assert!(paths.contains(&p.as_str()), "{p} not explained");
            }
            for n in v["linux"]["namespaces"].as_array().unwrap() {
                let p = format!("linux.namespaces[{}]", n["type"].as_str().unwrap());
                assert!(paths.contains(&p.as_str()), "{p} not explained");
            }
        }
        let root = ex.iter().find(|(p, _)| *p == "root.path").unwrap().1;
        assert!(root.contains("bundle/rootfs"));
        for (p, text) in &ex {
            assert!(!text.is_empty() && text.len() < 400, "{p}");
        }
    }

    #[test]
    fn caps_and_numbers() {
        assert_eq!(KNOWN_CAPS.len(), 41);
        for (i, (_, nr)) in KNOWN_CAPS.iter().enumerate() {
            assert_eq!(*nr as usize, i);
        }
        assert_eq!(cap_number("CAP_CHOWN"), Some(0));
        assert_eq!(cap_number("cap_sys_admin"), Some(21));
        assert_eq!(cap_number("SYS_ADMIN"), Some(21));
        assert_eq!(cap_number("checkpoint_restore"), Some(40));
        assert_eq!(cap_number("CAP_NOPE"), None);
        assert_eq!(cap_number(""), None);
    }

    #[test]
    fn features_have_the_expected_keys() {
        let f = features_json();
        let keys: Vec<_> = f.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "ociVersionMin",
                "ociVersionMax",
                "hooks",
                "mountOptions",
                "linux",
                "annotations"
            ]
        );
        let l = &f["linux"];
        assert_eq!(l["capabilities"].as_array().unwrap().len(), 41);
        assert_eq!(l["cgroup"]["systemd"], false);
        assert_eq!(l["apparmor"]["enabled"], false);
        let sc = &l["seccomp"];
        assert_eq!(sc["enabled"], true);
        assert_eq!(
            sc["actions"].as_array().unwrap().len(),
            crate::seccomp::ACTIONS.len()
        );
        assert!(sc["operators"]
            .as_array()
            .unwrap()
            .contains(&json!("SCMP_CMP_MASKED_EQ")));
        assert!(sc["archs"]
            .as_array()
            .unwrap()
            .contains(&json!("SCMP_ARCH_X86_64")));
        assert!(sc["knownFlags"]
            .as_array()
            .unwrap()
            .contains(&json!("SECCOMP_FILTER_FLAG_TSYNC")));
        assert!(sc["supportedFlags"].is_array());
        assert_eq!(
            f["annotations"]["io.github.learnrt.version"],
            env!("CARGO_PKG_VERSION")
        );
        assert!(render_features(&f).starts_with("{\n    \"ociVersionMin\": \"1.0.0\",\n"));
    }
}

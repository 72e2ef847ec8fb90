//! Stage 5 — rootfs: a private mount table, the rootfs as a mount point,
//! and every mount config.json lists, in order.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Mount};

use super::Ctx;
use crate::error::{Error, Result};
use crate::explain::{self, Actor, Step};
use crate::sys::{secure_join, Sys};

pub const PROPAGATION: Step = Step {
    id: "rootfs.propagation",
    stage: 5,
    title: "stop mount events from leaking to and from the host",
    why: "The new mount namespace starts as a copy of the host's, and on most systems / is a shared mount: a mount made in the container would appear on the host too. Making every mount a slave (or private) first means the container's mounts stay in the container, while host mounts still flow in (slave) or not (private).",
    man: &["mount_namespaces(7)", "mount(2)"],
    shell: "mount --make-rslave /",
    config: &["linux.rootfsPropagation"],
    look: &["cat /proc/{pid}/mountinfo | head", "findmnt -o TARGET,PROPAGATION -N {pid} /"],
    actor: Actor::Init,
};

pub const BIND: Step = Step {
    id: "rootfs.bind",
    stage: 5,
    title: "make the rootfs a mount point",
    why: "pivot_root needs the new root to be a mount point, and an unpacked image is just a directory. Bind-mounting the directory onto itself turns it into a mount without copying anything.",
    man: &["mount(2)", "mount(8)"],
    shell: "mount --rbind rootfs rootfs",
    config: &["root.path"],
    look: &["grep rootfs /proc/{pid}/mountinfo"],
    actor: Actor::Init,
};

pub const MOUNTS: Step = Step {
    id: "rootfs.mounts",
    stage: 5,
    title: "mount what config.json lists (proc, dev, sys, binds…)",
    why: "A root filesystem from an image has empty /proc, /dev and /sys directories: the kernel's views have to be mounted. Each entry in `mounts` is one mount(2) call, in order, with the destination resolved inside the rootfs so a symlink in the image can never point a mount at the host.",
    man: &["mount(2)", "proc(5)", "tmpfs(5)", "sysfs(5)", "devpts"],
    shell: "mount -t proc proc rootfs/proc; mount -t tmpfs -o nosuid,mode=755 tmpfs rootfs/dev",
    config: &["mounts"],
    look: &["cat /proc/{pid}/mountinfo", "findmnt -N {pid}"],
    actor: Actor::Init,
};

/// Parsed mount options.
#[derive(Debug, Default, PartialEq)]
pub struct Opts {
    pub flags: u64,
    pub clear: u64,
    pub propagation: Vec<u64>,
    pub data: Vec<String>,
    pub bind: bool,
}

/// Split `options` into mount(2) flags, propagation changes and fs data.
pub fn parse_options(options: &[String]) -> Opts {
    let mut o = Opts::default();
    for opt in options {
        let (set, clear): (u64, u64) = match opt.as_str() {
            "defaults" => (0, 0),
            "ro" => (libc::MS_RDONLY, 0),
            "rw" => (0, libc::MS_RDONLY),
            "suid" => (0, libc::MS_NOSUID),
            "nosuid" => (libc::MS_NOSUID, 0),
            "dev" => (0, libc::MS_NODEV),
            "nodev" => (libc::MS_NODEV, 0),
            "exec" => (0, libc::MS_NOEXEC),
            "noexec" => (libc::MS_NOEXEC, 0),
            "sync" => (libc::MS_SYNCHRONOUS, 0),
            "async" => (0, libc::MS_SYNCHRONOUS),
            "dirsync" => (libc::MS_DIRSYNC, 0),
            "remount" => (libc::MS_REMOUNT, 0),
            "mand" => (libc::MS_MANDLOCK, 0),
            "nomand" => (0, libc::MS_MANDLOCK),
            "atime" => (0, libc::MS_NOATIME),
            "noatime" => (libc::MS_NOATIME, 0),
            "diratime" => (0, libc::MS_NODIRATIME),
            "nodiratime" => (libc::MS_NODIRATIME, 0),
            "relatime" => (libc::MS_RELATIME, 0),
            "norelatime" => (0, libc::MS_RELATIME),
            "strictatime" => (libc::MS_STRICTATIME, 0),
            "nostrictatime" => (0, libc::MS_STRICTATIME),
            "lazytime" => (libc::MS_LAZYTIME, 0),
            "nolazytime" => (0, libc::MS_LAZYTIME),
            "bind" => {
                o.bind = true;
                (libc::MS_BIND, 0)
            }
            "rbind" => {
                o.bind = true;
                (libc::MS_BIND | libc::MS_REC, 0)
            }
            "private" => {
                o.propagation.push(libc::MS_PRIVATE);
                (0, 0)
            }
            "rprivate" => {
                o.propagation.push(libc::MS_PRIVATE | libc::MS_REC);
                (0, 0)
            }
            "shared" => {
                o.propagation.push(libc::MS_SHARED);
                (0, 0)
            }
            "rshared" => {
                o.propagation.push(libc::MS_SHARED | libc::MS_REC);
                (0, 0)
            }
            "slave" => {
                o.propagation.push(libc::MS_SLAVE);
                (0, 0)
            }
            "rslave" => {
                o.propagation.push(libc::MS_SLAVE | libc::MS_REC);
                (0, 0)
            }
            "unbindable" => {
                o.propagation.push(libc::MS_UNBINDABLE);
                (0, 0)
            }
            "runbindable" => {
                o.propagation.push(libc::MS_UNBINDABLE | libc::MS_REC);
                (0, 0)
            }
            // Handled by container engines before us, or not applicable.
            "tmpcopyup" | "idmap" | "ridmap" | "nosymfollow" => (0, 0),
            other => {
                o.data.push(other.to_string());
                (0, 0)
            }
        };
        o.flags = (o.flags | set) & !clear;
        o.clear |= clear;
    }
    o
}

/// The propagation of `/` from linux.rootfsPropagation (runc's default:
/// rslave).
pub fn propagation_flags(p: Option<&str>) -> Result<u64> {
    Ok(match p.unwrap_or("") {
        "" | "rslave" => libc::MS_SLAVE | libc::MS_REC,
        "slave" => libc::MS_SLAVE,
        "private" => libc::MS_PRIVATE,
        "rprivate" => libc::MS_PRIVATE | libc::MS_REC,
        "shared" => libc::MS_SHARED,
        "rshared" => libc::MS_SHARED | libc::MS_REC,
        "unbindable" => libc::MS_UNBINDABLE,
        "runbindable" => libc::MS_UNBINDABLE | libc::MS_REC,
        other => return Err(Error::new(
            PROPAGATION.id,
            format!("linux.rootfsPropagation {other:?} is not a propagation type"),
        )
        .hint(
            "use one of private, rprivate, slave, rslave, shared, rshared, unbindable, runbindable",
        )),
    })
}

/// mkdir -p inside the rootfs, through `sys` so every directory made shows.
pub fn mkdir_all(sys: &dyn Sys, path: &Path) -> Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        mkdir_all(sys, parent)?;
    }
    match sys.mkdir(path, 0o755) {
        Ok(()) => Ok(()),
        Err(e) if e.errno == nix::errno::Errno::EEXIST => Ok(()),
        Err(e) => Err(Error::sys(
            MOUNTS.id,
            format!("create {}", path.display()),
            e,
        )),
    }
}

pub fn run(ctx: &Ctx) -> Result<()> {
    let sys = ctx.sys;
    let linux = ctx.spec.linux().as_ref();
    let prop = propagation_flags(linux.and_then(|l| l.rootfs_propagation().as_deref()))?;
    if ctx.has_ns(LinuxNamespaceType::Mount) {
        let from = vec!["linux.rootfsPropagation".to_string()];
        explain::run_stage(&PROPAGATION, &from, || {
            sys.mount(None, Path::new("/"), None, prop, None)
                .map_err(|e| Error::sys(PROPAGATION.id, "change the propagation of /", e))
        })?;
    }
    explain::run_stage(&BIND, &["root.path".to_string()], || {
        sys.mount(
            Some(&ctx.rootfs),
            &ctx.rootfs,
            None,
            libc::MS_BIND | libc::MS_REC,
            None,
        )
        .map_err(|e| Error::sys(BIND.id, "bind the rootfs onto itself", e))
    })?;
    let mounts = ctx.spec.mounts().clone().unwrap_or_default();
    if mounts.is_empty() {
        return Ok(());
    }
    explain::run_stage(&MOUNTS, &["mounts".to_string()], || {
        for (i, m) in mounts.iter().enumerate() {
            mount_one(ctx, i, m)?;
        }
        Ok(())
    })
}

fn mount_one(ctx: &Ctx, i: usize, m: &Mount) -> Result<()> {
    let sys = ctx.sys;
    let opts = parse_options(m.options().as_deref().unwrap_or(&[]));
    let typ = m
        .typ()
        .as_deref()
        .unwrap_or(if opts.bind { "bind" } else { "none" });
    let dest = secure_join(&ctx.rootfs, m.destination());
    let what = format!("mounts[{i}] ({} on {})", typ, m.destination().display());
    explain::note(|| what.to_string());
    let err = |e| Error::sys(MOUNTS.id, format!("mount {what}"), e);

    if typ == "cgroup" || typ == "cgroup2" {
        return mount_cgroup(ctx, &dest, &opts, &what);
    }

    let source: Option<PathBuf> = m.source().clone();
    let is_bind = opts.bind || typ == "bind";
    if is_bind {
        let src = source
            .clone()
            .ok_or_else(|| Error::new(MOUNTS.id, format!("{what}: a bind mount needs a source")))?;
        let meta = std::fs::metadata(&src).map_err(|e| {
            Error::new(MOUNTS.id, format!("{what}: source {}: {e}", src.display()))
                .hint("the source of a bind mount is a path on the host; it must exist")
        })?;
        if meta.is_dir() {
            mkdir_all(sys, &dest)?;
        } else if !dest.exists() {
            if let Some(p) = dest.parent() {
                mkdir_all(sys, p)?;
            }
            sys.create_file(&dest, 0o644).map_err(err)?;
        }
        let flags = libc::MS_BIND | (opts.flags & libc::MS_REC);
        sys.mount(Some(&src), &dest, None, flags, None)
            .map_err(err)?;
        // Bind mounts ignore other flags on the first call: remount to
        // apply ro, nosuid, nodev, noexec...
        let extra = opts.flags & !(libc::MS_BIND | libc::MS_REC | libc::MS_REMOUNT);
        if extra != 0 {
            let keep = locked_flags(&dest);
            sys.mount(
                None,
                &dest,
                None,
                libc::MS_BIND | libc::MS_REMOUNT | extra | keep,
                None,
            )
            .map_err(err)?;
        }
    } else {
        mkdir_all(sys, &dest)?;
        let data = opts.data.join(",");
        let data = (!data.is_empty()).then_some(data);
        let src = source.unwrap_or_else(|| PathBuf::from(typ));
        let r = sys.mount(Some(&src), &dest, Some(typ), opts.flags, data.as_deref());
        match r {
            Err(e) if typ == "sysfs" && e.errno == nix::errno::Errno::EPERM => {
                // In a user namespace without its own network namespace the
                // kernel refuses a new sysfs; runc then binds the host's.
                explain::note(|| {
                    "sysfs refused (EPERM): binding the host's /sys instead, as runc does".into()
                });
                sys.mount(
                    Some(Path::new("/sys")),
                    &dest,
                    None,
                    libc::MS_BIND | libc::MS_REC,
                    None,
                )
                .map_err(err)?;
                if opts.flags & libc::MS_RDONLY != 0 {
                    sys.mount(
                        None,
                        &dest,
                        None,
                        libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | locked_flags(&dest),
                        None,
                    )
                    .map_err(err)?;
                }
            }
            other => other.map_err(err)?,
        }
    }
    for p in &opts.propagation {
        sys.mount(None, &dest, None, *p, None).map_err(err)?;
    }
    Ok(())
}

/// Flags the kernel will not let a remount drop in a user namespace
/// (nosuid, nodev, noexec, atime flags of the existing mount): keep them.
pub fn locked_flags(path: &Path) -> u64 {
    use nix::sys::statvfs::{statvfs, FsFlags};
    let Ok(s) = statvfs(path) else { return 0 };
    let f = s.flags();
    let mut out = 0;
    for (ff, ms) in [
        (FsFlags::ST_NOSUID, libc::MS_NOSUID),
        (FsFlags::ST_NODEV, libc::MS_NODEV),
        (FsFlags::ST_NOEXEC, libc::MS_NOEXEC),
        (FsFlags::ST_NOATIME, libc::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, libc::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, libc::MS_RELATIME),
    ] {
        if f.contains(ff) {
            out |= ms;
        }
    }
    out
}

/// A `cgroup` mount: on a v2 host one cgroup2 mount; on v1 (and hybrid) a
/// tmpfs with one mount per hierarchy, like the host's /sys/fs/cgroup.
/// With a cgroup namespace each is a fresh mount showing the container's
/// cgroup as its root; without one, the container's own cgroup directory
/// is bind-mounted so the host's tree stays hidden.
fn mount_cgroup(ctx: &Ctx, dest: &Path, opts: &Opts, what: &str) -> Result<()> {
    let sys = ctx.sys;
    let err = |e| Error::sys(MOUNTS.id, format!("mount {what}"), e);
    let cgns = ctx.has_ns(LinuxNamespaceType::Cgroup);
    let flags = opts.flags & !libc::MS_RDONLY;
    let ro = opts.flags & libc::MS_RDONLY != 0;
    mkdir_all(sys, dest)?;
    let hier = host_hierarchies();
    let self_cg = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let v2_only = hier.len() == 1
        && hier[0].fstype == "cgroup2"
        && hier[0].mountpoint == Path::new("/sys/fs/cgroup");
    let one = |h: &Hierarchy, target: &Path| -> Result<()> {
        if cgns {
            let data = if h.fstype == "cgroup2" {
                None
            } else {
                Some(h.options.as_str())
            };
            sys.mount(
                Some(Path::new(&h.fstype)),
                target,
                Some(&h.fstype),
                flags | if ro { libc::MS_RDONLY } else { 0 },
                data,
            )
            .map_err(err)
        } else {
            let sub = cgroup_path_for(&self_cg, h);
            let src = h.mountpoint.join(sub.trim_start_matches('/'));
            sys.mount(Some(&src), target, None, libc::MS_BIND | libc::MS_REC, None)
                .map_err(err)?;
            sys.mount(
                None,
                target,
                None,
                libc::MS_BIND
                    | libc::MS_REMOUNT
                    | flags
                    | if ro { libc::MS_RDONLY } else { 0 }
                    | locked_flags(target),
                None,
            )
            .map_err(err)
        }
    };
    if v2_only {
        return one(&hier[0], dest);
    }
    sys.mount(
        Some(Path::new("tmpfs")),
        dest,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        Some("mode=755"),
    )
    .map_err(err)?;
    for h in &hier {
        let name = h
            .mountpoint
            .file_name()
            .map(PathBuf::from)
            .unwrap_or_default();
        let target = dest.join(&name);
        mkdir_all(sys, &target)?;
        if let Err(e) = one(h, &target) {
            explain::note(|| format!("skipped {}: {e}", name.display()));
        }
    }
    if ro {
        sys.mount(
            None,
            dest,
            None,
            libc::MS_BIND
                | libc::MS_REMOUNT
                | libc::MS_RDONLY
                | libc::MS_NOSUID
                | libc::MS_NODEV
                | libc::MS_NOEXEC,
            None,
        )
        .map_err(err)?;
    }
    Ok(())
}

#[derive(Debug, Clone)]
struct Hierarchy {
    mountpoint: PathBuf,
    fstype: String,
    /// Controllers / name= as mount data (`cpu`, `name=systemd`).
    options: String,
}

fn host_hierarchies() -> Vec<Hierarchy> {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut out = Vec::new();
    for line in mi.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        let (Some(mp), Some(fstype)) = (l.get(4), r.first()) else {
            continue;
        };
        if *fstype != "cgroup" && *fstype != "cgroup2" {
            continue;
        }
        if !mp.starts_with("/sys/fs/cgroup") {
            continue;
        }
        let opts = r.get(2).copied().unwrap_or("");
        let ctrl: Vec<&str> = opts
            .split(',')
            .filter(|o| {
                !matches!(
                    *o,
                    "rw" | "ro"
                        | "relatime"
                        | "nosuid"
                        | "nodev"
                        | "noexec"
                        | "seclabel"
                        | "nsdelegate"
                        | "memory_recursiveprot"
                ) && !o.starts_with("release_agent")
            })
            .collect();
        out.push(Hierarchy {
            mountpoint: PathBuf::from(mp),
            fstype: fstype.to_string(),
            options: ctrl.join(","),
        });
    }
    out
}

/// Our cgroup path in hierarchy `h`, from /proc/self/cgroup.
fn cgroup_path_for(self_cg: &str, h: &Hierarchy) -> String {
    for line in self_cg.lines() {
        let mut it = line.splitn(3, ':');
        let (_, ctrls, path) = (it.next(), it.next().unwrap_or(""), it.next().unwrap_or("/"));
        if h.fstype == "cgroup2" {
            if ctrls.is_empty() {
                return path.to_string();
            }
        } else if !ctrls.is_empty()
            && ctrls.split(',').collect::<Vec<_>>() == h.options.split(',').collect::<Vec<_>>()
        {
            return path.to_string();
        }
    }
    "/".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn options_become_flags_propagation_and_data() {
        let o = parse_options(&s(&["nosuid", "strictatime", "mode=755", "size=65536k"]));
        assert_eq!(o.flags, libc::MS_NOSUID | libc::MS_STRICTATIME);
        assert_eq!(o.data, s(&["mode=755", "size=65536k"]));
        let o = parse_options(&s(&["rbind", "ro", "rprivate"]));
        assert!(o.bind);
        assert_eq!(o.flags, libc::MS_BIND | libc::MS_REC | libc::MS_RDONLY);
        assert_eq!(o.propagation, vec![libc::MS_PRIVATE | libc::MS_REC]);
        let o = parse_options(&s(&["ro", "rw"]));
        assert_eq!(o.flags & libc::MS_RDONLY, 0);
    }

    #[test]
    fn propagation_default_is_rslave() {
        assert_eq!(
            propagation_flags(None).unwrap(),
            libc::MS_SLAVE | libc::MS_REC
        );
        assert!(propagation_flags(Some("sideways")).is_err());
    }

    #[test]
    fn cgroup_path_lookup() {
        let cg = "12:pids:/user.slice\n11:cpu:/a/b\n1:name=systemd:/init.scope\n0::/x\n";
        let h = |o: &str, t: &str| Hierarchy {
            mountpoint: "/sys/fs/cgroup/x".into(),
            fstype: t.into(),
            options: o.into(),
        };
        assert_eq!(cgroup_path_for(cg, &h("cpu", "cgroup")), "/a/b");
        assert_eq!(
            cgroup_path_for(cg, &h("name=systemd", "cgroup")),
            "/init.scope"
        );
        assert_eq!(cgroup_path_for(cg, &h("", "cgroup2")), "/x");
    }
}

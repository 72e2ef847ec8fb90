//! Stage 6 — devices: the few device files every program expects.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDeviceType, LinuxNamespaceType};

use super::Ctx;
use crate::error::{Error, Result};
use crate::explain::{self, Actor, Step};

pub const DEVICES: Step = Step {
    id: "devices",
    stage: 6,
    title: "create /dev/null, /dev/zero, … and the /dev symlinks",
    why: "/dev in the container is an empty tmpfs, but programs expect /dev/null, /dev/zero, /dev/urandom and /dev/tty to exist. The init creates just these (plus linux.devices) with mknod — not the host's disks — and links /dev/fd, /dev/stdin… to /proc/self/fd and /dev/ptmx to the container's own devpts.",
    man: &["mknod(2)", "null(4)", "pts(4)"],
    shell: "mknod -m 666 rootfs/dev/null c 1 3; ln -s /proc/self/fd rootfs/dev/fd",
    config: &["linux.devices"],
    look: &["ls -l /proc/{pid}/root/dev"],
    actor: Actor::Init,
};

/// runc's default devices: (name, major, minor).
pub const DEFAULT: &[(&str, u64, u64)] = &[
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// Is /dev a bind mount of the host's /dev (then we must not touch it)?
fn dev_is_bind(ctx: &Ctx) -> bool {
    ctx.spec.mounts().iter().flatten().any(|m| {
        m.destination() == Path::new("/dev")
            && m.options()
                .iter()
                .flatten()
                .any(|o| o == "bind" || o == "rbind")
    })
}

fn has_devpts(ctx: &Ctx) -> bool {
    ctx.spec
        .mounts()
        .iter()
        .flatten()
        .any(|m| m.destination() == Path::new("/dev/pts"))
}

pub fn run(ctx: &Ctx) -> Result<()> {
    if dev_is_bind(ctx) {
        return Ok(());
    }
    let sys = ctx.sys;
    let dev = ctx.rootfs.join("dev");
    explain::run_stage(&DEVICES, &["linux.devices".to_string()], || {
        let userns = ctx.has_ns(LinuxNamespaceType::User);
        super::rootfs::mkdir_all(sys, &dev)?;
        let old = sys
            .umask(0)
            .map_err(|e| Error::sys(DEVICES.id, "umask", e))?;
        for (name, major, minor) in DEFAULT {
            make_node(
                ctx,
                &dev.join(name),
                libc::S_IFCHR,
                0o666,
                *major,
                *minor,
                0,
                0,
                userns,
            )?;
        }
        for (i, d) in ctx
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.devices().clone())
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let kind = match d.typ() {
                LinuxDeviceType::C | LinuxDeviceType::U => libc::S_IFCHR,
                LinuxDeviceType::B => libc::S_IFBLK,
                LinuxDeviceType::P => libc::S_IFIFO,
                LinuxDeviceType::A => {
                    return Err(Error::new(
                        DEVICES.id,
                        format!("linux.devices[{i}]: type \"a\" is not a device file type"),
                    ))
                }
            };
            let path = crate::sys::secure_join(&ctx.rootfs, d.path());
            if let Some(p) = path.parent() {
                super::rootfs::mkdir_all(sys, p)?;
            }
            make_node(
                ctx,
                &path,
                kind,
                d.file_mode().unwrap_or(0o666) & 0o7777,
                d.major() as u64,
                d.minor() as u64,
                d.uid().unwrap_or(0),
                d.gid().unwrap_or(0),
                userns,
            )?;
        }
        sys.umask(old)
            .map_err(|e| Error::sys(DEVICES.id, "umask", e))?;
        let mut links: Vec<(&str, &str)> = vec![
            ("/proc/self/fd", "fd"),
            ("/proc/self/fd/0", "stdin"),
            ("/proc/self/fd/1", "stdout"),
            ("/proc/self/fd/2", "stderr"),
        ];
        if Path::new("/proc/kcore").exists() {
            links.push(("/proc/kcore", "core"));
        }
        if has_devpts(ctx) {
            let ptmx = dev.join("ptmx");
            if ptmx.symlink_metadata().is_ok() {
                sys.unlink(&ptmx)
                    .map_err(|e| Error::sys(DEVICES.id, "remove /dev/ptmx", e))?;
            }
            links.push(("pts/ptmx", "ptmx"));
        }
        for (target, name) in links {
            let l = dev.join(name);
            if l.symlink_metadata().is_ok() {
                continue;
            }
            sys.symlink(Path::new(target), &l)
                .map_err(|e| Error::sys(DEVICES.id, format!("link /dev/{name}"), e))?;
        }
        if ctx.process().terminal().unwrap_or(false) {
            let console = dev.join("console");
            if console.symlink_metadata().is_err() {
                sys.create_file(&console, 0o600)
                    .map_err(|e| Error::sys(DEVICES.id, "create /dev/console", e))?;
            }
        }
        Ok(())
    })
}

#[allow(clippy::too_many_arguments)]
fn make_node(
    ctx: &Ctx,
    path: &Path,
    kind: u32,
    mode: u32,
    major: u64,
    minor: u64,
    uid: u32,
    gid: u32,
    userns: bool,
) -> Result<()> {
    let sys = ctx.sys;
    if path.symlink_metadata().is_ok() {
        return Ok(());
    }
    if userns {
        // mknod is not allowed in a user namespace: bind the host's node.
        let host = PathBuf::from("/dev").join(path.file_name().unwrap_or_default());
        sys.create_file(path, 0o644)
            .map_err(|e| Error::sys(DEVICES.id, format!("create {}", path.display()), e))?;
        return sys
            .mount(Some(&host), path, None, libc::MS_BIND, None)
            .map_err(|e| Error::sys(DEVICES.id, format!("bind {}", host.display()), e));
    }
    sys.mknod(path, kind, mode, major, minor)
        .map_err(|e| Error::sys(DEVICES.id, format!("create {}", path.display()), e))?;
    if uid != 0 || gid != 0 {
        sys.chown(path, uid, gid)
            .map_err(|e| Error::sys(DEVICES.id, format!("chown {}", path.display()), e))?;
    }
    Ok(())
}

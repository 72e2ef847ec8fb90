//! Stage 9 — finish the root filesystem: kernel settings, names, and the
//! paths the container may read but not write, or not see at all.

use std::path::Path;

use oci_spec::runtime::LinuxNamespaceType;

use super::Ctx;
use crate::error::{Error, Result};
use crate::explain::{self, Actor, Step};

pub const SYSCTL: Step = Step {
    id: "sysctl",
    stage: 9,
    title: "set namespaced kernel parameters (sysctl)",
    why: "Some kernel settings belong to a namespace (net.*, kernel.shm*, fs.mqueue.*): the container may have its own values. They are written to /proc/sys before /proc/sys is made read-only.",
    man: &["sysctl(8)", "proc(5)"],
    shell: "nsenter -t $PID -n sysctl -w net.ipv4.ip_forward=1",
    config: &["linux.sysctl"],
    look: &["nsenter -t {pid} -n sysctl net.ipv4.ip_forward"],
    actor: Actor::Init,
};

pub const HOSTNAME: Step = Step {
    id: "hostname",
    stage: 9,
    title: "set the container's hostname and domain name",
    why: "With its own UTS namespace the container has its own hostname; changing it does not touch the host's. This is what `hostname` prints inside.",
    man: &["sethostname(2)", "uts_namespaces(7)"],
    shell: "unshare --uts sh -c 'hostname learnrt; hostname'",
    config: &["hostname", "domainname"],
    look: &["nsenter -t {pid} -u hostname"],
    actor: Actor::Init,
};

pub const PATHS: Step = Step {
    id: "rootfs.finish",
    stage: 9,
    title: "make paths read-only, mask others, and maybe the whole root read-only",
    why: "Parts of /proc and /sys let root change the host's kernel (/proc/sys, /proc/sysrq-trigger) or read its secrets (/proc/kcore, /proc/keys). Read-only paths are bind-mounted over themselves read-only; masked paths are hidden under /dev/null (files) or an empty read-only tmpfs (directories). With root.readonly the whole rootfs is remounted read-only last.",
    man: &["mount(2)", "proc(5)"],
    shell: "mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys; mount --bind /dev/null /proc/kcore",
    config: &["linux.readonlyPaths", "linux.maskedPaths", "root.readonly"],
    look: &["grep -E 'proc/(sys|kcore)' /proc/{pid}/mountinfo"],
    actor: Actor::Init,
};

pub fn run(ctx: &Ctx) -> Result<()> {
    let sys = ctx.sys;
    let linux = ctx.spec.linux().as_ref();
    // sysctl first, while /proc/sys is still writable.
    let sysctl = linux.and_then(|l| l.sysctl().clone()).unwrap_or_default();
    if !sysctl.is_empty() {
        explain::run_stage(&SYSCTL, &["linux.sysctl".to_string()], || {
            let mut keys: Vec<_> = sysctl.iter().collect();
            keys.sort();
            for (k, v) in keys {
                let p = Path::new("/proc/sys").join(k.replace('.', "/"));
                sys.write_file(&p, v)
                    .map_err(|e| Error::sys(SYSCTL.id, format!("set {k}"), e))?;
            }
            Ok(())
        })?;
    }
    let host = ctx.spec.hostname().clone().filter(|h| !h.is_empty());
    let domain = ctx.spec.domainname().clone().filter(|h| !h.is_empty());
    if host.is_some() || domain.is_some() {
        explain::run_stage(&HOSTNAME, &["hostname".to_string()], || {
            if !ctx.has_ns(LinuxNamespaceType::Uts) {
                return Err(Error::new(
                    HOSTNAME.id,
                    "cannot set the hostname without a private UTS namespace",
                )
                .hint("add {\"type\": \"uts\"} to linux.namespaces, or remove \"hostname\""));
            }
            if let Some(h) = &host {
                sys.sethostname(h)
                    .map_err(|e| Error::sys(HOSTNAME.id, "set the hostname", e))?;
            }
            if let Some(d) = &domain {
                sys.setdomainname(d)
                    .map_err(|e| Error::sys(HOSTNAME.id, "set the domain name", e))?;
            }
            Ok(())
        })?;
    }
    let ro_paths = linux
        .and_then(|l| l.readonly_paths().clone())
        .unwrap_or_default();
    let masked = linux
        .and_then(|l| l.masked_paths().clone())
        .unwrap_or_default();
    let ro_root = ctx
        .spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false);
    if ro_paths.is_empty() && masked.is_empty() && !ro_root {
        return Ok(());
    }
    let from = vec![
        "linux.readonlyPaths".to_string(),
        "linux.maskedPaths".to_string(),
        "root.readonly".to_string(),
    ];
    explain::run_stage(&PATHS, &from, || {
        for p in &ro_paths {
            let path = Path::new(p);
            if path.symlink_metadata().is_err() {
                continue;
            }
            let err = |e| Error::sys(PATHS.id, format!("make {p} read-only"), e);
            sys.mount(Some(path), path, None, libc::MS_BIND | libc::MS_REC, None)
                .map_err(err)?;
            let keep = super::rootfs::locked_flags(path);
            sys.mount(
                None,
                path,
                None,
                libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_REC | keep,
                None,
            )
            .map_err(err)?;
        }
        for p in &masked {
            let path = Path::new(p);
            let Ok(meta) = path.symlink_metadata() else {
                continue;
            };
            let err = |e| Error::sys(PATHS.id, format!("mask {p}"), e);
            if meta.is_dir() {
                sys.mount(
                    Some(Path::new("tmpfs")),
                    path,
                    Some("tmpfs"),
                    libc::MS_RDONLY,
                    None,
                )
                .map_err(err)?;
            } else {
                sys.mount(
                    Some(Path::new("/dev/null")),
                    path,
                    None,
                    libc::MS_BIND,
                    None,
                )
                .map_err(err)?;
            }
        }
        if ro_root {
            let keep = super::rootfs::locked_flags(Path::new("/"));
            sys.mount(
                None,
                Path::new("/"),
                None,
                libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | keep,
                None,
            )
            .map_err(|e| Error::sys(PATHS.id, "make / read-only", e))?;
        }
        Ok(())
    })
}

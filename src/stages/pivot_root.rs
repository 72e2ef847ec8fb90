//! Stage 8 — pivot_root: make the rootfs `/` and let go of the host's root.

use std::path::Path;

use super::Ctx;
use crate::error::{Error, Result};
use crate::explain::{self, Actor, Step};

pub const PIVOT_ROOT: Step = Step {
    id: "pivot_root",
    stage: 8,
    title: "make the rootfs the new / and detach the old root",
    why: "pivot_root swaps the root mount of this mount namespace: the rootfs becomes /, and the host's old root is stacked underneath, where we detach it (umount -l) so nothing in the container can reach the host's files. chroot only changes one process's idea of /, and a root process can climb out of it; pivot_root really replaces the mount. Calling it as pivot_root(\".\", \".\") needs no spare directory in a read-only image.",
    man: &["pivot_root(2)", "pivot_root(8)", "chroot(2)"],
    shell: "cd rootfs && mkdir -p .oldroot && pivot_root . .oldroot && umount -l /.oldroot",
    config: &["root.path", "--no-pivot"],
    look: &["cat /proc/{pid}/mountinfo", "ls -l /proc/{pid}/root/"],
    actor: Actor::Init,
};

pub fn run(ctx: &Ctx) -> Result<()> {
    let sys = ctx.sys;
    let err = |what: &'static str| move |e| Error::sys(PIVOT_ROOT.id, what, e);
    explain::run_stage(&PIVOT_ROOT, &["root.path".to_string()], || {
        if ctx.no_pivot {
            // runc's --no-pivot: move the rootfs mount over / and chroot.
            // Weaker (the old root is still reachable by a root process
            // that escapes the chroot); for ramfs roots where pivot_root
            // cannot work.
            explain::note(|| "--no-pivot: MS_MOVE + chroot instead of pivot_root".into());
            sys.chdir(&ctx.rootfs).map_err(err("enter the rootfs"))?;
            sys.mount(Some(&ctx.rootfs), Path::new("/"), None, libc::MS_MOVE, None)
                .map_err(err("move the rootfs over /"))?;
            sys.chroot(Path::new("."))
                .map_err(err("chroot into the rootfs"))?;
            return sys.chdir(Path::new("/")).map_err(err("chdir /"));
        }
        let old = sys
            .open_dir(Path::new("/"))
            .map_err(err("open the old root"))?;
        let new = sys
            .open_dir(&ctx.rootfs)
            .map_err(err("open the new root"))?;
        let r = (|| {
            sys.fchdir(new, &ctx.rootfs)
                .map_err(err("enter the new root"))?;
            sys.pivot_root(Path::new("."), Path::new("."))
                .map_err(err("pivot into the new root"))?;
            // The old root is now mounted on top of the new one, at ".":
            // step onto it, stop its unmount reaching the host, detach it.
            sys.fchdir(old, Path::new("/ (old root)"))
                .map_err(err("enter the old root"))?;
            sys.mount(
                None,
                Path::new("."),
                None,
                libc::MS_SLAVE | libc::MS_REC,
                None,
            )
            .map_err(err("make the old root a slave"))?;
            sys.umount2(Path::new("."), libc::MNT_DETACH)
                .map_err(err("detach the old root"))?;
            sys.chdir(Path::new("/")).map_err(err("chdir /"))
        })();
        let _ = sys.close(old);
        let _ = sys.close(new);
        r
    })
}

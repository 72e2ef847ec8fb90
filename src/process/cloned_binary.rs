//! Protection against the runc CVE-2019-5736 class of attack.
//!
//! Before it execs the user's program, the container init *is* the learnrt
//! binary, running inside the container. A hostile image can make the
//! kernel run `/proc/self/exe` again (a `#!/proc/self/exe` script), keep a
//! handle on it from another container process, and once it exits, open
//! the host's learnrt binary for writing through that handle.
//!
//! So the commands that make container processes (create, run, exec) first
//! make sure /proc/self/exe cannot be written through:
//!
//! 1. if the binary already lives on a read-only mount, nothing to do;
//! 2. otherwise re-execute from a *detached, read-only bind mount* of the
//!    binary (open_tree(OPEN_TREE_CLONE), mount_setattr(MOUNT_ATTR_RDONLY),
//!    then execveat): every write through /proc/<pid>/exe then fails with
//!    EROFS, and no container can remount a mount that is in no namespace.
//!    No copy: one execve (about 1 ms here);
//! 3. on kernels without the new mount API, fall back to a sealed memfd
//!    copy (F_SEAL_WRITE, as crun and youki do), which costs a copy of the
//!    whole binary (about 4 ms here).

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::error::{Error, Result};

const SEALS: i32 = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// Is this process running from a sealed copy already?
pub fn is_sealed() -> bool {
    let Ok(f) = std::fs::File::open("/proc/self/exe") else {
        return false;
    };
    // SAFETY: fcntl on an fd we own.
    let s = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GET_SEALS) };
    s >= 0 && s & libc::F_SEAL_WRITE != 0
}

/// Is /proc/self/exe on a read-only mount?
pub fn on_readonly_mount() -> bool {
    nix::sys::statvfs::statvfs("/proc/self/exe")
        .map(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
        .unwrap_or(false)
}

fn argv_envp() -> (Vec<CString>, Vec<CString>) {
    let args: Vec<CString> = std::env::args_os()
        .map(|a| {
            CString::new(std::os::unix::ffi::OsStrExt::as_bytes(a.as_os_str())).unwrap_or_default()
        })
        .collect();
    let env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut b = std::os::unix::ffi::OsStrExt::as_bytes(k.as_os_str()).to_vec();
            b.push(b'=');
            b.extend_from_slice(std::os::unix::ffi::OsStrExt::as_bytes(v.as_os_str()));
            CString::new(b).unwrap_or_default()
        })
        .collect();
    (args, env)
}

/// Re-exec through a detached read-only bind mount of our binary.
/// Returns only on failure.
fn reexec_readonly() -> std::io::Error {
    let path = CString::new("/proc/self/exe").expect("static");
    // SAFETY: open_tree with a valid path; returns a new fd or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC,
        )
    } as i32;
    if fd < 0 {
        return std::io::Error::last_os_error();
    }
    // SAFETY: fd was just returned by open_tree.
    let tree = unsafe { OwnedFd::from_raw_fd(fd) };
    let attr = libc::mount_attr {
        attr_set: libc::MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let empty = CString::new("").expect("static");
    // SAFETY: mount_setattr on our detached mount with a valid attr struct.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            empty.as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    if r < 0 {
        return std::io::Error::last_os_error();
    }
    let (args, env) = argv_envp();
    let mut argv: Vec<*mut libc::c_char> = args.iter().map(|a| a.as_ptr() as *mut _).collect();
    argv.push(std::ptr::null_mut());
    let mut envp: Vec<*mut libc::c_char> = env.iter().map(|a| a.as_ptr() as *mut _).collect();
    envp.push(std::ptr::null_mut());
    // SAFETY: NULL-terminated argv/envp of live CStrings; AT_EMPTY_PATH
    // executes the file the fd refers to.
    unsafe {
        libc::execveat(
            tree.as_raw_fd(),
            empty.as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    std::io::Error::last_os_error()
}

/// Make sure no container can write to our binary through /proc/<pid>/exe.
pub fn ensure() -> Result<()> {
    if on_readonly_mount() || is_sealed() {
        return Ok(());
    }
    let e = reexec_readonly();
    crate::logging::debug(|| {
        format!("read-only re-exec not possible ({e}); using a sealed memfd copy")
    });
    reexec_memfd()
}

/// Re-exec from a sealed memfd copy.
fn reexec_memfd() -> Result<()> {
    let err = |what: &str, e: std::io::Error| {
        Error::new("cloned_binary", format!("{what}: {e}"))
            .hint("learnrt copies itself into a sealed memfd so a container can never overwrite it (CVE-2019-5736)")
    };
    let exe = std::fs::File::open("/proc/self/exe").map_err(|e| err("open /proc/self/exe", e))?;
    let len = exe
        .metadata()
        .map_err(|e| err("stat /proc/self/exe", e))?
        .len();
    let name = CString::new("learnrt").expect("static");
    // SAFETY: memfd_create with a valid name.
    let fd =
        unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return Err(err("memfd_create", std::io::Error::last_os_error()));
    }
    // SAFETY: fd was just created.
    let mem = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut left = len as usize;
    while left > 0 {
        // SAFETY: sendfile between two fds we own.
        let n =
            unsafe { libc::sendfile(mem.as_raw_fd(), exe.as_raw_fd(), std::ptr::null_mut(), left) };
        if n <= 0 {
            return Err(err("copy the binary", std::io::Error::last_os_error()));
        }
        left -= n as usize;
    }
    // SAFETY: fcntl on the memfd.
    if unsafe { libc::fcntl(mem.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } < 0 {
        return Err(err("seal the copy", std::io::Error::last_os_error()));
    }
    let (args, env) = argv_envp();
    let e = nix::unistd::fexecve(&mem, &args, &env).unwrap_err();
    Err(err("re-exec from the sealed copy", std::io::Error::from(e)))
}

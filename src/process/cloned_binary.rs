//! Protection against the runc CVE-2019-5736 class of attack.
//!
//! Before it execs the user's program, the container init *is* the learnrt
//! binary, running inside the container. A hostile image can make the
//! kernel run `/proc/self/exe` again (a `#!/proc/self/exe` script), keep a
//! handle on it from another container process, and once it exits, open
//! the host's learnrt binary for writing through that handle.
//!
//! So the commands that make container processes (create, run, exec) first
//! re-execute themselves from a sealed in-memory copy (memfd with
//! F_SEAL_WRITE, as crun and youki do): /proc/self/exe is then that copy,
//! and the kernel refuses every write to it. The check costs one fcntl when
//! already sealed; the copy is one in-kernel sendfile plus one execve.

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

/// Re-exec from a sealed memfd copy unless already running from one.
pub fn ensure() -> Result<()> {
    if is_sealed() {
        return Ok(());
    }
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
    let e = nix::unistd::fexecve(&mem, &args, &env).unwrap_err();
    Err(err("re-exec from the sealed copy", std::io::Error::from(e)))
}

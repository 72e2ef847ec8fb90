//! A tiny pty driver for tests of `run` / `exec -t` with a terminal.
//!
//! ```ignore
//! let mut cmd = env.cmd(&["exec", "-t", &id, "/bin/sh"]);
//! let (mut child, mut master) = spawn_in_pty(&mut cmd);
//! send(&mut master, "ls /\n");
//! expect(&mut master, "aa.txt", Duration::from_secs(5)).unwrap();
//! send(&mut master, "exit 3\n");
//! assert_eq!(child.wait().unwrap().code(), Some(3));
//! ```
//!
//! The terminal echoes what is typed, so `expect(.., "hello")` after typing
//! `echo hello` matches the echo. Expect something only the output holds:
//! type `echo he''llo` and expect `hello`, or expect `"\r\nhello"`.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::pty::{openpty, Winsize};

fn set_cloexec(fd: &OwnedFd) {
    // openpty(3) does not set O_CLOEXEC: without it the master would leak
    // into the child (which then never sees a hangup) and into containers.
    fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).expect("fcntl(FD_CLOEXEC) on pty");
}

/// Spawn `cmd` with a new pty as its stdin, stdout, stderr and controlling
/// terminal (in a new session). Returns the child and the pty master: write
/// to it to type, read from it (or [`expect`]) to see the screen.
///
/// After spawning, `cmd`'s stdio is reset to null so that the test holds no
/// copy of the pty slave: reading the master then fails with EIO (seen as
/// end of file by [`expect`]) once every process using the terminal exits.
pub fn spawn_in_pty(cmd: &mut Command) -> (Child, File) {
    let size = Winsize {
        ws_row: 24,
        ws_col: 80,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = openpty(&size, None).expect("openpty");
    set_cloexec(&pty.master);
    set_cloexec(&pty.slave);
    let slave = File::from(pty.slave);
    let dup = || Stdio::from(slave.try_clone().expect("dup pty slave"));
    cmd.stdin(dup()).stdout(dup()).stderr(dup());
    // SAFETY: between fork and exec only async-signal-safe calls are made
    // (setsid, ioctl), and nothing is allocated.
    unsafe {
        cmd.pre_exec(|| {
            // A new session has no controlling terminal...
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            // ...so the slave (already on fd 0) can become it.
            if libc::ioctl(0, libc::TIOCSCTTY, 0) == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {:?} in a pty: {e}", cmd.get_program()));
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    drop(slave);
    (child, File::from(pty.master))
}

/// Type `text` on the terminal.
pub fn send(master: &mut File, text: &str) {
    master
        .write_all(text.as_bytes())
        .expect("write to pty master");
    master.flush().expect("flush pty master");
}

/// Read from the pty master until `needle` appears, the terminal hangs up,
/// or `timeout` passes. Ok: everything read, ending with `needle` (nothing
/// after it is consumed, so the next `expect` starts right there). Err: a
/// message with what was read, for the assertion.
pub fn expect(master: &mut File, needle: &str, timeout: Duration) -> Result<String, String> {
    let deadline = Instant::now() + timeout;
    let mut seen: Vec<u8> = Vec::new();
    let shown = |seen: &[u8]| format!("{:?}", String::from_utf8_lossy(seen));
    loop {
        if seen.ends_with(needle.as_bytes()) {
            return Ok(String::from_utf8_lossy(&seen).into_owned());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "timeout after {timeout:?} waiting for {needle:?}; read so far: {}",
                shown(&seen)
            ));
        }
        let ms = u16::try_from(left.as_millis().max(1)).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(format!("poll pty master: {e}")),
        }
        // One byte at a time: never consume past the needle.
        let mut byte = [0u8; 1];
        match master.read(&mut byte) {
            Ok(0) => {
                return Err(format!(
                    "end of output waiting for {needle:?}; read: {}",
                    shown(&seen)
                ))
            }
            Ok(_) => seen.push(byte[0]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // EIO: no process holds the slave any more (the child exited).
            Err(e) if e.raw_os_error() == Some(libc::EIO) => {
                return Err(format!(
                    "terminal hung up waiting for {needle:?}; read: {}",
                    shown(&seen)
                ))
            }
            Err(e) => return Err(format!("read pty master (fd {}): {e}", master.as_raw_fd())),
        }
    }
}

//! Foreground containers: forward signals to the container's process and,
//! with a terminal, copy bytes between the user's terminal and the pty.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{self, SetArg, Termios};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// Set a pty's window size.
pub fn set_size(fd: RawFd, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ with a valid winsize.
    unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) };
}

fn copy_size(from: RawFd, to: RawFd) {
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ fills the struct.
    if unsafe { libc::ioctl(from, libc::TIOCGWINSZ, &mut ws) } == 0 {
        // SAFETY: as above.
        unsafe { libc::ioctl(to, libc::TIOCSWINSZ, &ws) };
    }
}

/// Puts the user's terminal in raw mode and restores it on drop.
struct RawMode {
    saved: Option<Termios>,
}

impl RawMode {
    fn enter() -> RawMode {
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd()).ok();
        if let Some(t) = &saved {
            let mut raw = t.clone();
            termios::cfmakeraw(&mut raw);
            let _ = termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
        }
        RawMode { saved }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, t);
        }
    }
}

const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGCONT,
    Signal::SIGALRM,
];

fn code(ws: WaitStatus) -> Option<i32> {
    match ws {
        WaitStatus::Exited(_, c) => Some(c),
        WaitStatus::Signaled(_, s, _) => Some(128 + s as i32),
        _ => None,
    }
}

fn write_all(fd: RawFd, mut buf: &[u8]) {
    while !buf.is_empty() {
        // SAFETY: writing from a valid buffer.
        let n = unsafe { libc::write(fd, buf.as_ptr() as *const _, buf.len()) };
        if n <= 0 {
            if nix::errno::Errno::last() == nix::errno::Errno::EINTR {
                continue;
            }
            return;
        }
        buf = &buf[n as usize..];
    }
}

/// Block the signals a foreground container gets forwarded, early (before
/// create), so none is lost or acts on learnrt itself in between. The
/// container's processes start with an empty mask (clone_process).
pub fn block_forwarded() {
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    for s in FORWARDED {
        mask.add(*s);
    }
    let _ = mask.thread_block();
}

/// Forward signals (and the terminal) until `pid` exits; its exit code, or
/// 128+signal.
pub fn forward_until_exit(pid: i32, pty: Option<OwnedFd>) -> i32 {
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    for s in FORWARDED {
        mask.add(*s);
    }
    let _ = mask.thread_block();
    let sfd = match SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK) {
        Ok(s) => s,
        Err(_) => {
            return waitpid(Pid::from_raw(pid), None)
                .ok()
                .and_then(code)
                .unwrap_or(1);
        }
    };
    let stdin_tty = pty.is_some() && nix::unistd::isatty(std::io::stdin()).unwrap_or(false);
    let _raw = stdin_tty.then(RawMode::enter);
    if let Some(m) = &pty {
        if stdin_tty {
            copy_size(0, m.as_raw_fd());
        }
    }
    let mut stdin_open = pty.is_some();
    let mut buf = [0u8; 8192];
    // The child may have exited before SIGCHLD was blocked: ask once.
    let mut exit: Option<i32> = match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::StillAlive) => None,
        Ok(ws) => code(ws),
        Err(_) => Some(1),
    };
    loop {
        if let Some(c) = exit {
            // Drain what the program wrote before it exited.
            if let Some(m) = &pty {
                loop {
                    let mut fds = [PollFd::new(m.as_fd(), PollFlags::POLLIN)];
                    if poll(&mut fds, PollTimeout::from(50u16)).unwrap_or(0) <= 0 {
                        break;
                    }
                    // SAFETY: reading into our buffer.
                    let n =
                        unsafe { libc::read(m.as_raw_fd(), buf.as_mut_ptr() as *mut _, buf.len()) };
                    if n <= 0 {
                        break;
                    }
                    write_all(1, &buf[..n as usize]);
                }
            }
            return c;
        }
        // SAFETY: fd 0 stays open for the life of this process.
        let stdin_fd = unsafe { BorrowedFd::borrow_raw(0) };
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        if let Some(m) = &pty {
            fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
            if stdin_open {
                fds.push(PollFd::new(stdin_fd, PollFlags::POLLIN));
            }
        }
        if poll(&mut fds, PollTimeout::NONE).is_err() {
            continue;
        }
        let ready = |i: usize| {
            fds.get(i)
                .and_then(|f| f.revents())
                .is_some_and(|r| !r.is_empty())
        };
        let (sig_ready, pty_ready, in_ready) = (ready(0), ready(1), ready(2));
        if sig_ready {
            while let Ok(Some(si)) = sfd.read_signal() {
                let sig = si.ssi_signo as i32;
                if sig == libc::SIGCHLD {
                    loop {
                        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                            Ok(WaitStatus::StillAlive) | Err(_) => break,
                            Ok(ws) => {
                                if ws.pid() == Some(Pid::from_raw(pid)) {
                                    exit = code(ws);
                                }
                            }
                        }
                    }
                } else if sig == libc::SIGWINCH {
                    if let Some(m) = &pty {
                        copy_size(0, m.as_raw_fd());
                    }
                } else if let Ok(s) = Signal::try_from(sig) {
                    let _ = kill(Pid::from_raw(pid), s);
                }
            }
        }
        if let Some(m) = &pty {
            if pty_ready {
                // SAFETY: reading into our buffer.
                let n = unsafe { libc::read(m.as_raw_fd(), buf.as_mut_ptr() as *mut _, buf.len()) };
                if n > 0 {
                    write_all(1, &buf[..n as usize]);
                }
            }
            if in_ready {
                // SAFETY: reading into our buffer.
                let n = unsafe { libc::read(0, buf.as_mut_ptr() as *mut _, buf.len()) };
                if n > 0 {
                    write_all(m.as_raw_fd(), &buf[..n as usize]);
                } else {
                    stdin_open = false;
                    // EOF on a pipe: send the terminal's EOF character.
                    write_all(m.as_raw_fd(), &[4]);
                }
            }
        }
    }
}

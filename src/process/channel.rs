//! The parent <-> init channel: one SOCK_SEQPACKET socket pair, one JSON
//! message per packet, and file descriptors (the pty master) passed with
//! SCM_RIGHTS. Small, typed, and readable with `strace -e sendmsg`.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::explain::{Event, Settings};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "m", rename_all = "snake_case")]
pub enum Msg {
    /// init -> parent: a trace event to render.
    Event(Event),
    /// init -> parent: `--step` wants the user asked before `stage`.
    Prompt { stage: String },
    /// parent -> init: your pid on the host (for hook state and traces).
    Hello { host_pid: i32 },
    /// parent -> init: go on (after a prompt, id maps, cgroups, hooks).
    Continue,
    /// parent -> init: stop now and exit.
    Abort,
    /// init -> parent: run prestart/createRuntime hooks now.
    Hooks,
    /// init -> parent: here is the pty master (fd attached).
    Pty,
    /// init -> parent: every stage up to "wait for start" is done.
    Ready,
    /// init -> parent: a stage failed.
    Failed(Error),
    /// start -> init: go, with the start command's flags.
    Start(Settings),
    /// init -> start: execve is next.
    Exec { path: String },
}

pub struct Channel {
    fd: RawFd,
}

impl Channel {
    /// Use an fd we do not own (it outlives the channel).
    pub fn borrow(fd: RawFd) -> Channel {
        Channel { fd }
    }

    pub fn fd(&self) -> RawFd {
        self.fd
    }

    pub fn send(&self, m: &Msg) -> std::io::Result<()> {
        self.send_with_fd(m, None)
    }

    pub fn send_with_fd(&self, m: &Msg, fd: Option<RawFd>) -> std::io::Result<()> {
        let data = serde_json::to_vec(m).map_err(std::io::Error::other)?;
        let iov = [IoSlice::new(&data)];
        let fds;
        let cmsgs: Vec<ControlMessage> = match fd {
            Some(f) => {
                fds = [f];
                vec![ControlMessage::ScmRights(&fds)]
            }
            None => vec![],
        };
        sendmsg::<()>(self.fd, &iov, &cmsgs, MsgFlags::MSG_NOSIGNAL, None)
            .map_err(std::io::Error::from)?;
        Ok(())
    }

    pub fn recv(&self) -> std::io::Result<Msg> {
        self.recv_with_fd().map(|(m, _)| m)
    }

    /// Receive one message; EOF (the other side is gone) is an error of
    /// kind UnexpectedEof.
    pub fn recv_with_fd(&self) -> std::io::Result<(Msg, Option<OwnedFd>)> {
        let mut buf = vec![0u8; 256 * 1024];
        let mut cbuf = nix::cmsg_space!([RawFd; 1]);
        let (n, fd) = loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            match recvmsg::<()>(
                self.fd,
                &mut iov,
                Some(&mut cbuf),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(r) => {
                    let mut fd = None;
                    for c in r.cmsgs().map_err(std::io::Error::from)? {
                        if let ControlMessageOwned::ScmRights(v) = c {
                            // SAFETY: the kernel just gave us this fd.
                            fd = v.first().map(|f| unsafe { OwnedFd::from_raw_fd(*f) });
                        }
                    }
                    break (r.bytes, fd);
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let m = serde_json::from_slice(&buf[..n]).map_err(std::io::Error::other)?;
        Ok((m, fd))
    }
}

/// A connected pair: (parent end, init end). Both close on exec.
pub fn pair() -> Result<(OwnedFd, OwnedFd), Error> {
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| Error::new("channel", format!("socketpair: {e}")))
}

//! The container init: the cloned child, from its first instruction to
//! execve. Runs the init-side stages in order and reports every event and
//! failure to the learnrt command over the channel.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use oci_spec::runtime::Spec;

use super::channel::{Channel, Msg};
use crate::error::{Error, Result};
use crate::explain::{self, sink, Event, Settings};
use crate::stages::{self, hooks, namespaces::Plan, Ctx};
use crate::sys::{Linux, Sys};

pub struct InitArgs<'a> {
    pub spec: &'a Spec,
    pub rootfs: PathBuf,
    pub chan: RawFd,
    pub listener: RawFd,
    pub plan: &'a Plan,
    pub no_pivot: bool,
    pub id: String,
    pub bundle: PathBuf,
    pub preserve_fds: u32,
    pub settings: Settings,
    /// Connected to linux.seccomp.listenerPath (the seccomp agent).
    pub agent: Option<RawFd>,
    /// linux.seccomp, compiled by learnrt before the clone.
    pub filter: Option<&'a crate::seccomp::Filter>,
}

/// Entry point of the cloned child. Never returns.
pub fn main(a: InitArgs) -> ! {
    let chan = a.chan;
    let err = match run(a) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let _ = Channel::borrow(chan).send(&Msg::Failed(err));
    // SAFETY: leave at once, without running the parent's atexit handlers
    // or flushing its copied stdio buffers.
    unsafe { libc::_exit(1) }
}

fn recv_continue(ch: &Channel, stage: &str) -> Result<()> {
    match ch.recv() {
        Ok(Msg::Continue) => Ok(()),
        Ok(Msg::Abort) => Err(explain::aborted(stage)),
        Ok(other) => Err(Error::new(
            stage,
            format!("unexpected message from learnrt: {other:?}"),
        )),
        Err(e) => Err(Error::new(stage, format!("learnrt went away: {e}"))),
    }
}

enum Never {}

fn run(a: InitArgs) -> Result<Never> {
    let sys: &dyn Sys = &Linux;
    let ch = Channel::borrow(a.chan);
    // If learnrt dies before we are ready, so do we: nothing half-made
    // may outlive a failed create.
    // SAFETY: integer-only prctl.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    if a.settings.any() {
        sink::forward_to(a.chan, &a.settings);
    }
    let host_pid = match ch.recv() {
        Ok(Msg::Hello { host_pid }) => host_pid,
        _ => 0,
    };
    stages::process::initial_affinity(a.spec.process().as_ref().expect("checked"))?;
    // The parent writes our id maps and puts us in our cgroup, then says go.
    recv_continue(&ch, "namespaces")?;
    if a.plan.clone_flags & libc::CLONE_NEWUSER as u64 != 0 {
        // Born in a new user namespace we are "nobody" until the maps
        // exist; now that they do, become its root.
        stages::idmap::become_root(sys)?;
    }
    stages::namespaces::join(sys, a.plan)?;
    stages::namespaces::time_offsets(sys, a.plan)?;
    stages::cgroups::new_namespace(sys, a.plan.new_cgroup_ns, a.spec)?;

    let ctx = Ctx {
        sys,
        spec: a.spec,
        rootfs: a.rootfs.clone(),
        no_pivot: a.no_pivot,
        host_pid,
        id: a.id.clone(),
        bundle: a.bundle.clone(),
        chan_fd: a.chan,
        preserve_fds: a.preserve_fds,
    };
    let filter = a.filter;
    stages::rootfs::run(&ctx)?;
    stages::devices::run(&ctx)?;
    let h = a.spec.hooks().as_ref();
    let state = || {
        hooks::state_json(
            &a.id,
            "creating",
            host_pid,
            &a.bundle,
            a.spec.annotations().as_ref(),
        )
    };
    if h.is_some_and(|h| h.prestart().is_some() || h.create_runtime().is_some()) {
        ch.send(&Msg::Hooks)
            .map_err(|e| Error::new("hooks", e.to_string()))?;
        recv_continue(&ch, "hooks.create_runtime")?;
    }
    if let Some(cc) = h.and_then(|h| h.create_container().as_ref()) {
        hooks::run(
            &hooks::CREATE_CONTAINER,
            "hooks.createContainer",
            cc,
            &state(),
        )?;
    }
    stages::pivot_root::run(&ctx)?;
    stages::finish::run(&ctx)?;
    let process = ctx.process();
    if process.terminal().unwrap_or(false) {
        stages::process::console(a.chan)?;
    } else {
        stages::process::new_session(sys)?;
    }
    let nnp = process.no_new_privileges().unwrap_or(false);
    if let (Some(f), false) = (filter, nnp) {
        // Without no_new_privs the filter needs CAP_SYS_ADMIN to load:
        // load it before the capabilities are dropped (as runc does).
        let listener = load_seccomp(f)?;
        send_to_agent(&a, host_pid, listener)?;
    }
    let mut warnings = Vec::new();
    stages::process::scheduling(
        process,
        a.spec
            .linux()
            .as_ref()
            .and_then(|l| l.personality().as_ref()),
    )?;
    let prepared = stages::process::run(sys, process, a.preserve_fds, &mut warnings)?;
    for w in warnings {
        explain::note(|| format!("warning: {w}"));
    }
    // From now on we outlive `create`: clear the death signal *before*
    // saying Ready. Cleared after, `create` could read Ready, write its
    // state and exit before this prctl runs, and the kernel would SIGKILL a
    // ready container (seen under docker/containerd as `start` failing with
    // ECONNREFUSED on notify.sock). If `create` dies in between, the send
    // fails (EPIPE) and we exit; if it fails after reading Ready, it kills us.
    // SAFETY: integer-only prctl.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, 0) };
    ch.send(&Msg::Ready)
        .map_err(|e| Error::new("ready", e.to_string()))?;

    // Stage 11: wait for `learnrt start`.
    let conn = wait_for_start(a.listener)?;
    let cfd = conn.as_raw_fd();
    let conn_ch = Channel::borrow(cfd);
    if let Some(startc) = h.and_then(|h| h.start_container().as_ref()) {
        let st = hooks::state_json(
            &a.id,
            "created",
            host_pid,
            &a.bundle,
            a.spec.annotations().as_ref(),
        );
        hooks::run(&hooks::START_CONTAINER, "hooks.startContainer", startc, &st)
            .map_err(|e| report(&conn_ch, e))?;
    }
    stages::exec::no_new_privs(sys, nnp).map_err(|e| report(&conn_ch, e))?;
    if let (Some(f), true) = (filter, nnp) {
        let listener = load_seccomp(f).map_err(|e| report(&conn_ch, e))?;
        send_to_agent(&a, host_pid, listener).map_err(|e| report(&conn_ch, e))?;
    }
    let _ = conn_ch.send(&Msg::Exec {
        path: prepared.path.to_string_lossy().into_owned(),
    });
    let e = stages::exec::exec(&prepared);
    Err(report(&conn_ch, e))
}

/// Send an error to `start` (the create channel is gone by then).
fn report(ch: &Channel, e: Error) -> Error {
    let _ = ch.send(&Msg::Failed(e.clone()));
    e
}

/// SCMP_ACT_NOTIFY: hand the listener fd to the seccomp agent at
/// linux.seccomp.listenerPath, with the container process state
/// (runtime-spec config-linux.md), over the socket learnrt connected
/// before the clone.
fn send_to_agent(a: &InitArgs, host_pid: i32, listener: Option<OwnedFd>) -> Result<()> {
    let (Some(fd), Some(agent)) = (listener, a.agent) else {
        return Ok(());
    };
    let metadata = a
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .and_then(|s| s.listener_metadata().clone())
        .unwrap_or_default();
    let msg = serde_json::json!({
        "ociVersion": "1.0.2",
        "fds": ["seccompFd"],
        "pid": host_pid,
        "metadata": metadata,
        "state": {
            "ociVersion": a.spec.version(),
            "id": a.id,
            "status": "creating",
            "pid": host_pid,
            "bundle": a.bundle,
            "annotations": a.spec.annotations().clone().unwrap_or_default(),
        },
    })
    .to_string();
    let iov = [std::io::IoSlice::new(msg.as_bytes())];
    let fds = [fd.as_raw_fd()];
    crate::sys::call(
        "sendmsg",
        || {
            format!(
                "{agent} /* listenerPath */, {{containerProcessState, SCM_RIGHTS=[{}]}}",
                fds[0]
            )
        },
        || {
            nix::sys::socket::sendmsg::<()>(
                agent,
                &iov,
                &[nix::sys::socket::ControlMessage::ScmRights(&fds)],
                nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
                None,
            )
        },
    )
    .map_err(|e| Error::sys("seccomp", "send the listener fd to the seccomp agent", e))?;
    Ok(())
}

pub fn load_seccomp(f: &crate::seccomp::Filter) -> Result<Option<OwnedFd>> {
    explain::run_stage(
        &crate::seccomp::SECCOMP,
        &["linux.seccomp".to_string()],
        || {
            explain::note(|| f.summary().to_string());
            f.load().map_err(|e| Error::new("seccomp", e.to_string()))
        },
    )
}

/// Block until `learnrt start` connects; take its flags and, if it wants
/// to see, send our remaining stages to it.
fn wait_for_start(listener: RawFd) -> Result<OwnedFd> {
    let fd = loop {
        // SAFETY: accept4 on our listening socket.
        let r = unsafe {
            libc::accept4(
                listener,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_CLOEXEC,
            )
        };
        if r >= 0 {
            break r;
        }
        let e = nix::errno::Errno::last();
        if e != nix::errno::Errno::EINTR {
            return Err(Error::new("start.wait", format!("accept: {e}")));
        }
    };
    // SAFETY: the fd was just returned by accept4.
    let conn = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: closing our listening socket; start has connected.
    unsafe { libc::close(listener) };
    let settings = match Channel::borrow(fd).recv() {
        Ok(Msg::Start(s)) => s,
        other => {
            return Err(Error::new(
                "start.wait",
                format!("unexpected start message: {other:?}"),
            ))
        }
    };
    crate::sys::set_tracing(settings.any());
    if settings.any() {
        crate::explain::layer::install();
        sink::forward_to(fd, &settings);
        let pid = std::process::id() as i32;
        let step = &stages::exec::START_WAIT;
        sink::emit(Event::StageStart {
            stage: step.id.into(),
            n: step.stage,
            of: explain::STAGES,
            title: step.title.into(),
            pid,
            ns_pid: None,
            actor: "init".into(),
            from: vec![],
        });
        sink::emit(Event::Note {
            stage: step.id.into(),
            text: "learnrt start connected to notify.sock: go".into(),
            pid,
            ns_pid: None,
        });
        sink::emit(Event::StageEnd {
            stage: step.id.into(),
            ok: true,
            dur_us: 0,
            pid,
            ns_pid: None,
        });
    }
    Ok(conn)
}

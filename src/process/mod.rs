//! The process model: clone the container init (no re-exec), talk to it
//! over one socket pair, and release it at `start`.
//!
//! ```text
//!  learnrt create                      container init (clone3 child)
//!  ───────────────                     ─────────────────────────────
//!  bundle, plan namespaces
//!  clone3(CLONE_NEW*) ───────────────▶ born in new namespaces
//!  uid/gid maps, cgroup ── Continue ─▶ rootfs, devices
//!  prestart hooks      ◀──── Hooks ─── (createContainer hooks)
//!                      ── Continue ──▶ pivot_root, finish, process
//!  write state.json    ◀──── Ready ─── block in accept(notify.sock)
//!  exit 0
//!  learnrt start ──── connect(notify.sock) ──▶ no_new_privs, seccomp
//!                ◀──── Exec, then EOF ─────── execve(program)
//! ```
//! Every trace event the init makes travels the same way and is rendered
//! by the command that is waiting.

pub mod channel;
pub mod cloned_binary;
pub mod exec;
pub mod init;
pub mod tty;

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::sys::signal::{kill, Signal};
use nix::sys::socket::{
    bind, connect, listen, socket, AddressFamily, Backlog, SockFlag, SockType, UnixAddr,
};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

use channel::{Channel, Msg};

use crate::error::{Error, Result};
use crate::explain::{self, catalog, sink, Settings};
use crate::stages::{self, hooks};
use crate::state::{self, Root, State, Status};
use crate::sys::Linux;

pub struct CreateOpts {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub preserve_fds: u32,
    /// `run` in the foreground: keep the pty master instead of needing a
    /// console socket.
    pub foreground: bool,
}

pub struct Created {
    pub pid: i32,
    pub dir: PathBuf,
    pub state: State,
    pub pty: Option<OwnedFd>,
}

/// A socket path that fits in sun_path even for long state roots/ids.
fn sock_addr(dir: &Path, name: &str) -> Result<(UnixAddr, Option<std::fs::File>)> {
    let p = dir.join(name);
    if p.as_os_str().len() < 100 {
        return Ok((
            UnixAddr::new(&p).map_err(|e| Error::new("state", e.to_string()))?,
            None,
        ));
    }
    let d = std::fs::File::open(dir)?;
    let short = format!("/proc/self/fd/{}/{name}", d.as_raw_fd());
    Ok((
        UnixAddr::new(short.as_str()).map_err(|e| Error::new("state", e.to_string()))?,
        Some(d),
    ))
}

fn seqpacket() -> Result<OwnedFd> {
    socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| Error::new("state", format!("socket: {e}")))
}

/// `learnrt create`: every stage up to "wait for start".
pub fn create(root: &Root, o: &CreateOpts, settings: &Settings) -> Result<Created> {
    let bundle = stages::bundle::run(&o.bundle)?;
    for w in &bundle.warnings {
        crate::logging::warn(w);
    }
    let terminal = bundle
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if terminal && o.console_socket.is_none() && !o.foreground {
        return Err(Error::new(
            "create",
            "process.terminal is true, but there is no --console-socket to hand the terminal to",
        )
        .hint("set \"terminal\": false in config.json (as the tutorial does), pass --console-socket, or use `learnrt run` in the foreground"));
    }
    let dir = root.claim(&o.id)?;
    let mut pid = 0;
    let mut cgroup = None;
    let r = create_in(&root.dir, &dir, &bundle, o, settings, &mut pid, &mut cgroup);
    if r.is_err() {
        cleanup(pid, cgroup.as_ref(), &dir);
    }
    r
}

fn create_in(
    root_dir: &Path,
    dir: &Path,
    bundle: &crate::bundle::Bundle,
    o: &CreateOpts,
    settings: &Settings,
    pid_out: &mut i32,
    cg_out: &mut Option<stages::cgroups::Cgroup>,
) -> Result<Created> {
    let spec = &bundle.spec;
    let mut st = State {
        oci_version: spec.version().clone(),
        id: o.id.clone(),
        pid: 0,
        pid_start: 0,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created: state::now_rfc3339(),
        owner: state::owner_name(nix::unistd::geteuid().as_raw()),
        annotations: spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        namespaces: spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone())
            .unwrap_or_default()
            .iter()
            .filter(|n| n.path().is_none())
            .map(|n| stages::namespaces::proc_name(n.typ()).to_string())
            .collect(),
        cgroup: None,
        started: false,
    };
    state::write(dir, &st)?;
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_vec(spec).map_err(|e| Error::new("state", e.to_string()))?,
    )?;

    let console = match &o.console_socket {
        Some(p) => Some(connect_console(p)?),
        None => None,
    };
    let agent = match spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .and_then(|s| s.listener_path().as_ref())
    {
        Some(p) => Some(connect_console(p).map_err(|e| {
            Error::new("seccomp", format!("linux.seccomp.listenerPath: {}", e.msg))
                .hint("the seccomp agent must be listening on that unix socket before create")
        })?),
        None => None,
    };
    let filter = compile_seccomp(spec, root_dir)?;
    let plan = stages::namespaces::plan(spec)?;
    let (parent_end, init_end) = channel::pair()?;
    let listener = seqpacket()?;
    let (addr, _keep) = sock_addr(dir, "notify.sock")?;
    bind(listener.as_raw_fd(), &addr)
        .map_err(|e| Error::new("create", format!("bind notify.sock: {e}")))?;
    listen(&listener, Backlog::new(1).unwrap_or(Backlog::MAXCONN))
        .map_err(|e| Error::new("create", format!("listen notify.sock: {e}")))?;

    let pid = stages::namespaces::clone_init(&plan)?;
    if pid == 0 {
        drop(parent_end);
        init::main(init::InitArgs {
            spec,
            rootfs: bundle.rootfs.clone(),
            chan: init_end.as_raw_fd(),
            listener: listener.as_raw_fd(),
            plan: &plan,
            no_pivot: o.no_pivot,
            id: o.id.clone(),
            bundle: bundle.dir.clone(),
            preserve_fds: o.preserve_fds,
            settings: settings.clone(),
            agent: agent.as_ref().map(|f| f.as_raw_fd()),
            filter: filter.as_ref(),
        });
    }
    *pid_out = pid;
    drop(init_end);
    drop(listener);
    sink::set_init_pid(pid);
    let ch = Channel::borrow(parent_end.as_raw_fd());
    let send = |m: &Msg| ch.send(m).map_err(|e| init_gone(pid, e));
    send(&Msg::Hello { host_pid: pid })?;
    stages::idmap::run(
        &Linux,
        spec,
        pid,
        plan.clone_flags & libc::CLONE_NEWUSER as u64 != 0,
    )?;
    let cg = stages::cgroups::setup(&Linux, spec, &o.id, pid)?;
    st.cgroup = serde_json::to_value(&cg).ok();
    *cg_out = Some(cg);
    send(&Msg::Continue)?;

    let mut pty = None;
    loop {
        let (m, fd) = ch.recv_with_fd().map_err(|e| init_gone(pid, e))?;
        match m {
            Msg::Event(ev) => sink::emit(ev.with_host_pid(pid)),
            Msg::Prompt { stage } => {
                let go = catalog::find(&stage).is_none_or(sink::prompt_user);
                send(if go { &Msg::Continue } else { &Msg::Abort })?;
            }
            Msg::Hooks => {
                let h = spec.hooks().as_ref();
                let state = hooks::state_json(
                    &o.id,
                    "creating",
                    pid,
                    &bundle.dir,
                    spec.annotations().as_ref(),
                );
                let mut list = h.and_then(|h| h.prestart().clone()).unwrap_or_default();
                list.extend(
                    h.and_then(|h| h.create_runtime().clone())
                        .unwrap_or_default(),
                );
                hooks::run(
                    &hooks::CREATE_RUNTIME,
                    "hooks.prestart+createRuntime",
                    &list,
                    &state,
                )?;
                send(&Msg::Continue)?;
            }
            Msg::Pty => {
                let Some(master) = fd else {
                    return Err(Error::new("console", "the init sent no pty"));
                };
                if let Some(size) = spec.process().as_ref().and_then(|p| p.console_size()) {
                    tty::set_size(
                        master.as_raw_fd(),
                        size.height() as u16,
                        size.width() as u16,
                    );
                }
                match &console {
                    Some(sock) => send_console(sock, &master)?,
                    None => pty = Some(master),
                }
            }
            Msg::Ready => break,
            Msg::Failed(e) => {
                let _ = waitpid(Pid::from_raw(pid), None);
                return Err(e);
            }
            other => {
                return Err(Error::new(
                    "create",
                    format!("unexpected message from init: {other:?}"),
                ))
            }
        }
    }
    st.pid = pid;
    st.pid_start = state::proc_start(pid).map(|(t, _)| t).unwrap_or(0);
    state::write(dir, &st)?;
    crate::logging::debug(|| {
        format!(
            "container {} created: init pid {pid}, state in {}",
            o.id,
            dir.display()
        )
    });
    if let Some(f) = &o.pid_file {
        write_pid_file(f, pid)?;
    }
    Ok(Created {
        pid,
        dir: dir.to_path_buf(),
        state: st,
        pty,
    })
}

/// linux.seccomp compiled to BPF now, in the runtime (a bad profile fails
/// create before any process exists), with the state root's cache.
pub fn compile_seccomp(
    spec: &oci_spec::runtime::Spec,
    root_dir: &Path,
) -> Result<Option<crate::seccomp::Filter>> {
    let Some(s) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
        return Ok(None);
    };
    crate::seccomp::compile_cached(s, &root_dir.join(".seccomp-cache"))
        .map(Some)
        .map_err(|e| Error::new("seccomp", e.to_string()))
}

/// The init hung up: say how it ended.
fn init_gone(pid: i32, e: std::io::Error) -> Error {
    let how = match waitpid(
        Pid::from_raw(pid),
        Some(nix::sys::wait::WaitPidFlag::WNOHANG),
    ) {
        Ok(WaitStatus::Exited(_, c)) => format!("exited with status {c}"),
        Ok(WaitStatus::Signaled(_, s, _)) => format!("was killed by {s}"),
        _ => format!("stopped answering ({e})"),
    };
    Error::new("create", format!("the container init {how}"))
}

/// Undo a failed create: kill the init, remove its cgroup and state.
fn cleanup(pid: i32, cg: Option<&stages::cgroups::Cgroup>, dir: &Path) {
    if pid > 0 {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        let _ = waitpid(Pid::from_raw(pid), None);
    }
    if let Some(cg) = cg {
        let _ = cg.destroy(&Linux);
    }
    let _ = std::fs::remove_dir_all(dir);
}

pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let tmp = path.with_extension("learnrt-tmp");
    std::fs::write(&tmp, pid.to_string())
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| Error::new("create", format!("pid file {}: {e}", path.display())))
}

fn connect_console(p: &Path) -> Result<OwnedFd> {
    let s = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| Error::new("console", e.to_string()))?;
    let addr = UnixAddr::new(p).map_err(|e| Error::new("console", e.to_string()))?;
    connect(s.as_raw_fd(), &addr).map_err(|e| {
        Error::new(
            "console",
            format!("connect to --console-socket {}: {e}", p.display()),
        )
    })?;
    Ok(s)
}

/// Hand the pty master to the console socket (SCM_RIGHTS), as runc does.
fn send_console(sock: &OwnedFd, master: &OwnedFd) -> Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let name = b"/dev/ptmx";
    let iov = [std::io::IoSlice::new(name)];
    let fds = [master.as_raw_fd()];
    sendmsg::<()>(
        sock.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| Error::new("console", format!("send the pty to --console-socket: {e}")))?;
    Ok(())
}

/// `learnrt start`: release the init; show its last stages.
pub fn start(root: &Root, id: &str, settings: &Settings) -> Result<()> {
    let (_lock, mut st) = root.open(id)?;
    let dir = root.container_dir(id);
    match st.status(&dir) {
        Status::Created => {}
        s => {
            return Err(Error::new(
                "start",
                format!("cannot start a container that is {}", s.as_str()),
            )
            .hint(
                "only a created container can be started; `learnrt run` makes and starts a new one",
            ))
        }
    }
    let conn = seqpacket()?;
    let (addr, _keep) = sock_addr(&dir, "notify.sock")?;
    connect(conn.as_raw_fd(), &addr)
        .map_err(|e| Error::new("start", format!("connect to the init: {e}")))?;
    let _ = std::fs::remove_file(dir.join("notify.sock"));
    sink::set_init_pid(st.pid);
    let ch = Channel::borrow(conn.as_raw_fd());
    ch.send(&Msg::Start(settings.clone()))
        .map_err(|e| Error::new("start", format!("release the init: {e}")))?;
    let mut exec_seen = false;
    loop {
        match ch.recv() {
            Ok(Msg::Event(ev)) => sink::emit(ev.with_host_pid(st.pid)),
            Ok(Msg::Prompt { stage }) => {
                let go = catalog::find(&stage).is_none_or(sink::prompt_user);
                let _ = ch.send(if go { &Msg::Continue } else { &Msg::Abort });
            }
            Ok(Msg::Exec { .. }) => exec_seen = true,
            Ok(Msg::Failed(e)) => return Err(e),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    if !exec_seen {
        return Err(Error::new(
            "start",
            "the container init exited before it could run the program",
        ));
    }
    st.started = true;
    state::write(&dir, &st)?;
    crate::logging::debug(|| format!("container {id} started: pid {} runs the program", st.pid));
    poststart(&dir, &st);
    Ok(())
}

fn saved_spec(dir: &Path) -> Option<oci_spec::runtime::Spec> {
    let t = std::fs::read(dir.join("config.json")).ok()?;
    serde_json::from_slice(&t).ok()
}

fn poststart(dir: &Path, st: &State) {
    let Some(spec) = saved_spec(dir) else { return };
    if let Some(h) = spec.hooks().as_ref().and_then(|h| h.poststart().clone()) {
        let s = hooks::state_json(
            &st.id,
            "running",
            st.pid,
            &st.bundle,
            spec.annotations().as_ref(),
        );
        if let Err(e) = hooks::run(&hooks::POSTSTART, "hooks.poststart", &h, &s) {
            crate::logging::warn(&format!("poststart hook failed: {e}"));
        }
    }
}

/// Wait for our child `pid` (foreground run/exec), forwarding signals and
/// the terminal. Returns the shell-style exit code.
pub fn wait_foreground(pid: i32, pty: Option<OwnedFd>) -> i32 {
    tty::forward_until_exit(pid, pty)
}

/// `learnrt delete`: stop what is left, run poststop hooks, remove state.
pub fn delete(root: &Root, id: &str, force: bool) -> Result<()> {
    let (lock, st) = match root.open(id) {
        Ok(x) => x,
        Err(e) if force && !root.container_dir(id).join("state.json").exists() => {
            // runc: delete --force of a missing container succeeds quietly.
            let _ = e;
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let dir = root.container_dir(id);
    let _g = explain::stage(&stages::teardown::DELETE, &[])?;
    let status = st.status(&dir);
    let cg = stages::cgroups::of(&st);
    match status {
        Status::Stopped => {}
        Status::Created | Status::Creating => {
            explain::note(|| format!("killing the waiting init (pid {}) with SIGKILL", st.pid));
            kill_all(&st, cg.as_ref(), Signal::SIGKILL);
        }
        Status::Running | Status::Paused if force => {
            explain::note(|| format!("--force: killing every process of {id} with SIGKILL"));
            kill_all(&st, cg.as_ref(), Signal::SIGKILL);
        }
        s => {
            return Err(Error::new(
                "delete",
                format!(
                    "cannot delete container {id} that is not stopped: {}",
                    s.as_str()
                ),
            )
            .hint("stop it first (`learnrt kill`), or use `delete --force`"))
        }
    }
    wait_gone(&st);
    if let Some(cg) = &cg {
        if let Err(e) = cg.destroy(&Linux) {
            crate::logging::warn(&format!("remove cgroup: {e}"));
        }
    }
    if let Some(spec) = saved_spec(&dir) {
        if let Some(h) = spec.hooks().as_ref().and_then(|h| h.poststop().clone()) {
            let s = hooks::state_json(id, "stopped", 0, &st.bundle, spec.annotations().as_ref());
            if let Err(e) = hooks::run(&hooks::POSTSTOP, "hooks.poststop", &h, &s) {
                crate::logging::warn(&format!("poststop hook failed: {e}"));
            }
        }
    }
    explain::note(|| format!("removing {}", dir.display()));
    crate::logging::debug(|| format!("container {id} deleted (was {})", status.as_str()));
    std::fs::remove_dir_all(&dir)
        .map_err(|e| Error::new("delete", format!("remove {}: {e}", dir.display())))?;
    drop(lock);
    Ok(())
}

/// Signal the init, or with a cgroup every process in it (thawing a frozen
/// cgroup so SIGKILL can be delivered).
pub fn kill_all(st: &State, cg: Option<&stages::cgroups::Cgroup>, sig: Signal) {
    if let Some(cg) = cg {
        if let Ok(pids) = cg.pids() {
            for p in pids {
                let _ = kill(Pid::from_raw(p), sig);
            }
            if cg.is_frozen() {
                let _ = cg.thaw(&Linux);
            }
        }
    }
    if st.alive() {
        let _ = kill(Pid::from_raw(st.pid), sig);
    }
}

/// Wait (up to ~5 s) for the init to be gone (or a zombie we cannot reap).
fn wait_gone(st: &State) {
    for _ in 0..2500 {
        if !st.alive() {
            // Reap it if it is our child (run --keep / foreground cases).
            let _ = waitpid(
                Pid::from_raw(st.pid),
                Some(nix::sys::wait::WaitPidFlag::WNOHANG),
            );
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

//! `learnrt exec`: a new process inside an existing container. It is born
//! in our pid namespace's view of the container (setns on the pid
//! namespace, then clone), joins the container's other namespaces and its
//! cgroup, and runs stage 10 and 11 like the init did.

use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::{Process, Spec};

use super::channel::{self, Channel, Msg};
use crate::error::{Error, Result};
use crate::explain::{self, catalog, sink, Settings};
use crate::stages::{self, namespaces::Plan};
use crate::state::{Root, Status};
use crate::sys::{Linux, Sys};

pub struct ExecOpts {
    pub process: Process,
    pub detach: bool,
    pub pid_file: Option<std::path::PathBuf>,
    pub console_socket: Option<std::path::PathBuf>,
    pub preserve_fds: u32,
}

/// The namespaces of `pid` we are not already in: (type, path, fd).
fn container_namespaces(pid: i32, names: &[String]) -> Result<Plan> {
    let mut join = vec![];
    for name in names {
        let flag = match name.as_str() {
            "mnt" => libc::CLONE_NEWNS,
            "uts" => libc::CLONE_NEWUTS,
            "ipc" => libc::CLONE_NEWIPC,
            "user" => libc::CLONE_NEWUSER,
            "pid" => libc::CLONE_NEWPID,
            "net" => libc::CLONE_NEWNET,
            "cgroup" => libc::CLONE_NEWCGROUP,
            "time" => 0x80,
            _ => continue,
        };
        let path = std::path::PathBuf::from(format!("/proc/{pid}/ns/{name}"));
        let f = std::fs::File::open(&path)
            .map_err(|e| Error::new("namespaces.join", format!("{}: {e}", path.display())))?;
        join.push((flag, path, OwnedFd::from(f)));
    }
    // The mount namespace last: after it, host paths are gone.
    join.sort_by_key(|(t, _, _)| *t == libc::CLONE_NEWNS);
    Ok(Plan {
        clone_flags: 0,
        join,
        new_cgroup_ns: false,
        userns: names.iter().any(|n| n == "user"),
        from: vec![],
        time_offsets: None,
    })
}

pub fn exec(root: &Root, id: &str, o: ExecOpts, settings: &Settings) -> Result<i32> {
    let (lock, st) = root.open(id)?;
    let dir = root.container_dir(id);
    match st.status(&dir) {
        Status::Created | Status::Running => {}
        s => {
            return Err(Error::new(
                "exec",
                format!("cannot exec in a container that is {}", s.as_str()),
            ))
        }
    }
    let spec: Option<Spec> = std::fs::read(dir.join("config.json"))
        .ok()
        .and_then(|t| serde_json::from_slice(&t).ok());
    let terminal = o.process.terminal().unwrap_or(false);
    if terminal && o.detach && o.console_socket.is_none() {
        return Err(Error::new(
            "exec",
            "a detached exec with a terminal needs --console-socket",
        ));
    }
    let plan = container_namespaces(st.pid, &st.namespaces)?;
    let cg = stages::cgroups::of(&st);
    drop(lock);
    let console = match &o.console_socket {
        Some(p) => Some(super::connect_console(p)?),
        None => None,
    };
    let filter = match &spec {
        Some(s) => super::compile_seccomp(s, &root.dir)?,
        None => None,
    };
    if !o.detach {
        super::tty::block_forwarded();
    }
    let (parent_end, child_end) = channel::pair()?;
    // Under a stage header, so --explain does not show these two calls
    // loose before the first stage (as create does for clone_init).
    let join = explain::stage(&stages::namespaces::JOIN, &[])?;
    // setns on the pid namespace moves only our future children.
    for (t, path, fd) in &plan.join {
        if *t == libc::CLONE_NEWPID {
            Linux
                .setns(fd.as_raw_fd(), *t, &path.display().to_string())
                .map_err(|e| {
                    Error::sys("namespaces.join", "join the container's pid namespace", e)
                })?;
        }
    }
    let pid = stages::namespaces::clone_process(0)?;
    drop(join);
    if pid == 0 {
        drop(parent_end);
        let chan = child_end.as_raw_fd();
        let err = match child(chan, &plan, &o, filter.as_ref(), settings) {
            Ok(e) | Err(e) => e,
        };
        let _ = Channel::borrow(chan).send(&Msg::Failed(err));
        // SAFETY: leave without running the parent's atexit handlers.
        unsafe { libc::_exit(127) }
    }
    drop(child_end);
    sink::set_init_pid(pid);
    let ch = Channel::borrow(parent_end.as_raw_fd());
    let fail = |e: Error| {
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        let _ = waitpid(Pid::from_raw(pid), None);
        e
    };
    // Wait until the child has joined the namespaces (showing what it
    // says meanwhile), then put it in the container's cgroup.
    loop {
        match ch.recv() {
            Ok(Msg::Event(ev)) => sink::emit(ev.with_host_pid(pid)),
            Ok(Msg::Prompt { stage }) => {
                let go = catalog::find(&stage).is_none_or(sink::prompt_user);
                let _ = ch.send(if go { &Msg::Continue } else { &Msg::Abort });
            }
            Ok(Msg::Ready) => break,
            Ok(Msg::Failed(e)) => return Err(fail(e)),
            Ok(_) => {}
            Err(e) => {
                return Err(fail(Error::new(
                    "exec",
                    format!("the exec process went away: {e}"),
                )))
            }
        }
    }
    if let Some(cg) = &cg {
        explain::run_stage(&stages::cgroups::CGROUPS, &[], || {
            cg.add_pid(&Linux, pid)
                .map_err(|e| Error::new("cgroups", e.to_string()))
        })
        .map_err(fail)?;
    }
    ch.send(&Msg::Continue)
        .map_err(|e| fail(Error::new("exec", e.to_string())))?;
    let mut pty = None;
    let mut exec_seen = false;
    loop {
        match ch.recv_with_fd() {
            Ok((Msg::Event(ev), _)) => sink::emit(ev.with_host_pid(pid)),
            Ok((Msg::Prompt { stage }, _)) => {
                let go = catalog::find(&stage).is_none_or(sink::prompt_user);
                let _ = ch.send(if go { &Msg::Continue } else { &Msg::Abort });
            }
            Ok((Msg::Pty, Some(master))) => match &console {
                Some(s) => super::send_console(s, &master).map_err(fail)?,
                None => pty = Some(master),
            },
            Ok((Msg::Exec { .. }, _)) => exec_seen = true,
            Ok((Msg::Failed(e), _)) => return Err(fail(e)),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    if !exec_seen {
        return Err(fail(Error::new(
            "exec",
            "the exec process died before it could run the program",
        )));
    }
    if let Some(f) = &o.pid_file {
        super::write_pid_file(f, pid)?;
    }
    if o.detach {
        return Ok(0);
    }
    Ok(super::wait_foreground(pid, pty))
}

/// The exec'd process until execve: returns only with an error.
fn child(
    chan: i32,
    plan: &Plan,
    o: &ExecOpts,
    filter: Option<&crate::seccomp::Filter>,
    settings: &Settings,
) -> Result<Error> {
    let sys: &dyn Sys = &Linux;
    if settings.any() {
        sink::forward_to(chan, settings);
    }
    let ch = Channel::borrow(chan);
    // Join the container's namespaces, then let learnrt put us in its
    // cgroup (stage 2, then stage 4, as for the container's init).
    stages::namespaces::join(sys, plan)?;
    stages::process::initial_affinity(&o.process)?;
    ch.send(&Msg::Ready)
        .map_err(|e| Error::new("exec", format!("learnrt went away: {e}")))?;
    match ch.recv() {
        Ok(Msg::Continue) => {}
        _ => return Err(Error::new("exec", "learnrt went away")),
    }
    if o.process.terminal().unwrap_or(false) {
        stages::process::console(chan)?;
    } else {
        stages::process::new_session(sys)?;
    }
    let nnp = o.process.no_new_privileges().unwrap_or(false);
    if let (Some(f), false) = (filter, nnp) {
        let _ = super::init::load_seccomp(f)?;
    }
    let mut warnings = vec![];
    stages::process::scheduling(&o.process, None)?;
    let prepared = stages::process::run(sys, &o.process, o.preserve_fds, &mut warnings)?;
    stages::exec::no_new_privs(sys, nnp)?;
    if let (Some(f), true) = (filter, nnp) {
        let _ = super::init::load_seccomp(f)?;
    }
    let _ = ch.send(&Msg::Exec {
        path: prepared.path.to_string_lossy().into_owned(),
    });
    Ok(stages::exec::exec(&prepared))
}

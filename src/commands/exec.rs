//! `learnrt exec`: run a new process in a container. The process is the
//! container's own `process` from config.json with the flags applied on
//! top (as runc does), or a whole process.json given with --process.

use serde_json::{json, Value};

use crate::cli::ExecArgs;
use crate::error::{Error, Result};
use crate::explain::Settings;
use crate::process::exec::{exec, ExecOpts};
use crate::state::Root;

fn process_json(root: &Root, a: &ExecArgs) -> Result<Value> {
    if let Some(p) = &a.process {
        let t = std::fs::read_to_string(p)
            .map_err(|e| Error::new("exec", format!("--process {}: {e}", p.display())))?;
        return serde_json::from_str(&t)
            .map_err(|e| Error::new("exec", format!("--process {}: {e}", p.display())));
    }
    if a.command.is_empty() {
        return Err(Error::new("exec", "no command given").hint("e.g. learnrt exec -t c1 /bin/sh"));
    }
    let saved = std::fs::read(root.container_dir(&a.id).join("config.json")).unwrap_or_default();
    let spec: Value = serde_json::from_slice(&saved).unwrap_or(json!({}));
    let mut p = spec
        .get("process")
        .cloned()
        .unwrap_or(json!({"cwd": "/", "user": {"uid": 0, "gid": 0}}));
    p["args"] = json!(a.command);
    p["terminal"] = json!(a.tty);
    if let Some(c) = &a.cwd {
        p["cwd"] = json!(c);
    }
    if !a.env.is_empty() {
        let mut env: Vec<String> = serde_json::from_value(p["env"].clone()).unwrap_or_default();
        for kv in &a.env {
            let key = kv.split('=').next().unwrap_or("");
            env.retain(|e| e.split('=').next() != Some(key));
            env.push(kv.clone());
        }
        p["env"] = json!(env);
    }
    if let Some(u) = &a.user {
        let (uid, gid) = u.split_once(':').unwrap_or((u, "0"));
        let uid: u32 = uid
            .parse()
            .map_err(|_| Error::new("exec", format!("--user {u:?}: use UID[:GID] numbers")))?;
        let gid: u32 = gid
            .parse()
            .map_err(|_| Error::new("exec", format!("--user {u:?}: use UID[:GID] numbers")))?;
        p["user"]["uid"] = json!(uid);
        p["user"]["gid"] = json!(gid);
    }
    if !a.additional_gids.is_empty() {
        p["user"]["additionalGids"] = json!(a.additional_gids);
    }
    for c in &a.cap {
        let name = if c.to_ascii_uppercase().starts_with("CAP_") {
            c.to_ascii_uppercase()
        } else {
            format!("CAP_{}", c.to_ascii_uppercase())
        };
        for set in ["bounding", "effective", "permitted", "ambient"] {
            let mut v: Vec<String> =
                serde_json::from_value(p["capabilities"][set].clone()).unwrap_or_default();
            if !v.contains(&name) {
                v.push(name.clone());
            }
            if !p["capabilities"].is_object() {
                p["capabilities"] = json!({});
            }
            p["capabilities"][set] = json!(v);
        }
    }
    if a.no_new_privs {
        p["noNewPrivileges"] = json!(true);
    }
    Ok(p)
}

pub fn run(root: &Root, a: ExecArgs, settings: &Settings) -> Result<i32> {
    let v = process_json(root, &a)?;
    let process = serde_path_to_error::deserialize(v).map_err(|e| {
        Error::new(
            "exec",
            format!("process field `{}`: {}", e.path(), e.inner()),
        )
    })?;
    exec(
        root,
        &a.id,
        ExecOpts {
            process,
            detach: a.detach,
            pid_file: a.pid_file,
            console_socket: a.console_socket,
            preserve_fds: a.preserve_fds,
        },
        settings,
    )
}

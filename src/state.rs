//! Container state on disk: `<root>/<id>/state.json`, written atomically
//! (write a temporary file, then rename) under a per-container lock.
//!
//! Layout of `<root>/<id>/`:
//! * `state.json` – what `state`/`list` print, plus what later commands need
//!   (the init's pid and start time, cgroup paths, hooks, namespaces);
//! * `notify.sock` – exists while the container is *created*: the init
//!   waits on it, `start` connects to release it;
//! * `config.json` – the bundle's config as it was at create time.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const DEFAULT_ROOT: &str = "/run/learnrt";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    /// Start time of the init (field 22 of /proc/<pid>/stat): tells our
    /// process from a later one that got the same pid.
    pub pid_start: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
    /// Namespaces the container has (`pid`, `network`, ...), for exec.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// The cgroup manager's serialised form, when cgroups are in use.
    #[serde(default)]
    pub cgroup: Option<serde_json::Value>,
    /// Set once `start` has released the init.
    #[serde(default)]
    pub started: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// Container ids: `[A-Za-z0-9][A-Za-z0-9_.+-]*`, at most 1024 bytes.
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id.as_bytes()[0].is_ascii_alphanumeric()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.+-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::new("id", format!("invalid container id {id:?}")).hint(
            "ids start with a letter or digit and use only letters, digits and _ . + - (at most 1024 bytes)",
        ))
    }
}

pub struct Root {
    pub dir: PathBuf,
}

impl Root {
    pub fn new(dir: &Path) -> Result<Root> {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::new(
                "state",
                format!("cannot create state root {}: {e}", dir.display()),
            )
        })?;
        Ok(Root {
            dir: dir.to_path_buf(),
        })
    }

    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// Make `<root>/<id>` for a new container. `mkdir` is atomic: of two
    /// `create`s of one id exactly one gets here.
    pub fn claim(&self, id: &str) -> Result<PathBuf> {
        validate_id(id)?;
        let d = self.container_dir(id);
        match std::fs::create_dir(&d) {
            Ok(()) => {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o711));
                Ok(d)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Error::new(
                "create",
                format!("container with id {id:?} already exists"),
            )
            .hint("pick another id, or `learnrt delete` the old one")),
            Err(e) => Err(Error::new(
                "create",
                format!("cannot create {}: {e}", d.display()),
            )),
        }
    }

    /// Lock a container's directory (flock) and read its state.
    pub fn open(&self, id: &str) -> Result<(Lock, State)> {
        validate_id(id)?;
        let d = self.container_dir(id);
        let lock = Lock::take(&d).map_err(|_| not_found(id))?;
        let st = read(&d).map_err(|e| {
            if e.msg.contains("No such file") {
                not_found(id)
            } else {
                e
            }
        })?;
        Ok((lock, st))
    }

    pub fn ids(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().join("state.json").exists())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        v.sort();
        v
    }
}

pub fn not_found(id: &str) -> Error {
    Error::new("state", format!("container {id:?} does not exist"))
        .hint("`learnrt list` shows the containers under this --root")
}

/// An exclusive flock on the container directory, released on drop.
pub struct Lock {
    _f: File,
}

impl Lock {
    pub fn take(dir: &Path) -> std::io::Result<Lock> {
        let f = File::open(dir)?;
        // SAFETY: flock on an fd we own.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Lock { _f: f })
    }
}

pub fn read(dir: &Path) -> Result<State> {
    let p = dir.join("state.json");
    let t = std::fs::read_to_string(&p)
        .map_err(|e| Error::new("state", format!("{}: {e}", p.display())))?;
    serde_json::from_str(&t).map_err(|e| Error::new("state", format!("{}: {e}", p.display())))
}

/// Write `state.json` atomically: a reader sees the old or the new file,
/// never half of one.
pub fn write(dir: &Path, st: &State) -> Result<()> {
    let tmp = dir.join(".state.json.tmp");
    let data = serde_json::to_vec(st).map_err(|e| Error::new("state", e.to_string()))?;
    let mut f =
        File::create(&tmp).map_err(|e| Error::new("state", format!("{}: {e}", tmp.display())))?;
    f.write_all(&data)?;
    std::fs::rename(&tmp, dir.join("state.json"))?;
    Ok(())
}

/// Field 22 of /proc/<pid>/stat (start time), and whether it is a zombie.
pub fn proc_start(pid: i32) -> Option<(u64, bool)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    let zombie = f.first() == Some(&"Z") || f.first() == Some(&"X");
    Some((f.get(19)?.parse().ok()?, zombie))
}

impl State {
    /// Is our init still alive (same pid *and* same start time)?
    pub fn alive(&self) -> bool {
        self.pid > 0 && matches!(proc_start(self.pid), Some((t, false)) if t == self.pid_start)
    }

    pub fn status(&self, dir: &Path) -> Status {
        if !self.alive() {
            return Status::Stopped;
        }
        if dir.join("notify.sock").exists() {
            return Status::Created;
        }
        if self.paused() {
            return Status::Paused;
        }
        if self.pid_start == 0 {
            return Status::Creating;
        }
        Status::Running
    }

    pub fn paused(&self) -> bool {
        crate::stages::cgroups::is_paused(self)
    }

    /// The OCI state document (runtime.md "State"), as `learnrt state`
    /// prints it.
    pub fn oci_json(&self, status: Status) -> serde_json::Value {
        let mut v = serde_json::json!({
            "ociVersion": self.oci_version,
            "id": self.id,
            "pid": if status == Status::Stopped { 0 } else { self.pid },
            "status": status.as_str(),
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": self.owner,
        });
        if !self.annotations.is_empty() {
            v["annotations"] = serde_json::json!(self.annotations);
        }
        v
    }
}

/// Now as RFC 3339 with nanoseconds, UTC (`2021-02-13T03:13:32.724746332Z`).
pub fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(d.as_secs() as i64, d.subsec_nanos())
}

pub fn rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// The user name of a uid, from /etc/passwd (runc's OWNER column).
pub fn owner_name(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.get(2) == Some(&uid.to_string().as_str())).then(|| f[0].to_string())
            })
        })
        .unwrap_or_else(|| uid.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for ok in ["c1", "a", "A_b.c+d-e", "0abc"] {
            assert!(validate_id(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "../x",
            "a/b",
            "..",
            ".hidden",
            "-x",
            "a b",
            "a\nb",
            &"x".repeat(1025),
        ] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn time_format() {
        assert_eq!(
            rfc3339(1_613_186_012, 724_746_332),
            "2021-02-13T03:13:32.724746332Z"
        );
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
    }
}

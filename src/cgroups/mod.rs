//! Stage 4 — cgroups: create the container's cgroup, apply `linux.resources`,
//! and move the container's processes into it.
//!
//! A cgroup is a directory in a special filesystem. Creating the directory
//! creates the group; writing a number into one of its files sets a limit;
//! writing a pid into `cgroup.procs` moves a process in. That is all a
//! runtime does here, and every one of those writes goes through
//! [`crate::sys::Sys`] so `--explain` shows it.
//!
//! Three layouts exist (see [`Layout`]): cgroup v1 (one directory tree per
//! controller), cgroup v2 (one tree for everything) and "hybrid" (v1 for the
//! controllers plus an empty v2 tree). [`detect`] reads which one this
//! machine has; the roots are parameters so tests run on fake trees.
//!
//! Files: `layout.rs` (detection), `v1.rs` / `v2.rs` (writing resources),
//! `stats.rs` (reading usage for `events --stats`), `error.rs`.

pub mod devices_bpf;
mod error;
mod layout;
pub mod stats;
mod v1;
mod v2;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

use crate::explain::step::{Actor, Step};
use crate::sys::Sys;

pub use error::CgroupError;
pub use layout::{detect, detect_from, self_path, Layout, V1_CONTROLLERS};

// ---------------------------------------------------------------------------
// Explain steps
// ---------------------------------------------------------------------------

/// Stage 4: create the cgroup, write the limits, move init in.
pub const CGROUPS: Step = Step {
    id: "cgroups",
    stage: 4,
    title: "create the container's cgroup, write its resource limits, move init into it",
    why: "A cgroup is a kernel-managed group of processes whose total memory, CPU time, number of \
          processes and device access the kernel counts and limits. The runtime makes a new group \
          for the container, writes the limits from config.json into its files, and moves the \
          container's first process into it; every child it forks later stays inside.",
    man: &["cgroups(7)", "cgroup_namespaces(7)"],
    shell: "mkdir -p /sys/fs/cgroup/memory/learnrt/c1 && \
            echo 104857600 > /sys/fs/cgroup/memory/learnrt/c1/memory.limit_in_bytes && \
            echo $PID > /sys/fs/cgroup/memory/learnrt/c1/cgroup.procs",
    config: &["linux.cgroupsPath", "linux.resources"],
    look: &[
        "cat /proc/{pid}/cgroup",
        "ls /sys/fs/cgroup/memory/learnrt/",
        "cat /sys/fs/cgroup/memory/learnrt/*/memory.limit_in_bytes /sys/fs/cgroup/pids/learnrt/*/pids.max",
    ],
    actor: Actor::Runtime,
};

/// `pause`: freeze every process of the container at once.
pub const FREEZE: Step = Step {
    id: "cgroups.freeze",
    stage: 4,
    title: "freeze the container's cgroup (pause)",
    why: "Sending SIGSTOP to each process would race with processes that fork, and the program \
          could notice it. The freezer asks the kernel to stop every task of the cgroup at once, \
          invisibly, until it is thawed; the runtime waits until the kernel reports the whole \
          group as frozen.",
    man: &["cgroups(7)"],
    shell: "echo FROZEN > /sys/fs/cgroup/freezer/learnrt/c1/freezer.state   # v2: echo 1 > /sys/fs/cgroup/learnrt/c1/cgroup.freeze",
    config: &["linux.cgroupsPath"],
    look: &["grep State /proc/{pid}/status", "cat /sys/fs/cgroup/freezer/learnrt/*/freezer.state"],
    actor: Actor::Runtime,
};

/// `resume`: thaw the frozen cgroup.
pub const THAW: Step = Step {
    id: "cgroups.thaw",
    stage: 4,
    title: "thaw the container's cgroup (resume)",
    why: "Thawing lets the kernel schedule the container's processes again, exactly where they \
          stopped. They never saw a signal, so they cannot tell they were paused except by the \
          clock.",
    man: &["cgroups(7)"],
    shell: "echo THAWED > /sys/fs/cgroup/freezer/learnrt/c1/freezer.state   # v2: echo 0 > /sys/fs/cgroup/learnrt/c1/cgroup.freeze",
    config: &["linux.cgroupsPath"],
    look: &["grep State /proc/{pid}/status"],
    actor: Actor::Runtime,
};

// ---------------------------------------------------------------------------
// Small file helpers (reads may use std::fs; writes go through Sys)
// ---------------------------------------------------------------------------

pub(crate) fn write(sys: &dyn Sys, path: &Path, value: &str) -> Result<(), CgroupError> {
    sys.write_file(path, value)
        .map_err(|e| CgroupError::from_write(path, value, e))
}

pub(crate) fn read(path: &Path) -> Result<String, CgroupError> {
    std::fs::read_to_string(path).map_err(|e| CgroupError::from_read(path, e))
}

/// Read a file, `None` when it is missing or unreadable.
pub(crate) fn read_opt(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// The value of `key` in a flat-keyed file (`key value` per line).
pub(crate) fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next() == Some(key)).then(|| it.next()?.parse().ok())?
    })
}

fn parse_pids(text: &str) -> Vec<i32> {
    text.lines().filter_map(|l| l.trim().parse().ok()).collect()
}

/// How long `freeze` waits for the kernel to report FROZEN.
const FREEZE_TIMEOUT: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------
// The container's cgroup
// ---------------------------------------------------------------------------

/// The container's cgroup(s): where it lives in each hierarchy, and which
/// directories learnrt made (only those are removed by [`Cgroup::destroy`]).
/// Serializable: it is stored in the container's state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cgroup {
    /// The hierarchies of the host when the container was created.
    pub layout: Layout,
    /// The cgroup path as given (or defaulted), normalized: `/learnrt/c1`.
    pub path: String,
    /// v1 / hybrid: controller -> the container's directory in it.
    #[serde(default)]
    pub v1: BTreeMap<String, PathBuf>,
    /// v2: the container's directory; hybrid: its directory in the
    /// (controller-less) unified tree.
    #[serde(default)]
    pub unified: Option<PathBuf>,
    /// Directories learnrt created, parents before children.
    #[serde(default)]
    pub created: Vec<PathBuf>,
}

/// Is this `slice:prefix:name`, the systemd cgroup driver's form?
fn is_systemd_form(p: &str) -> bool {
    !p.starts_with('/') && p.split(':').count() == 3
}

impl Cgroup {
    /// Work out the container's cgroup directories from `linux.cgroupsPath`.
    ///
    /// * absolute (`/a/b`): under the root of every hierarchy;
    /// * relative (`a/b`): under the caller's own cgroup, per hierarchy,
    ///   as listed in `self_cgroup` (the text of /proc/self/cgroup);
    /// * absent or empty: `/learnrt/<id>`;
    /// * `slice:prefix:name` (systemd driver): an error, learnrt has only
    ///   the cgroupfs driver.
    ///
    /// `..` is refused so a config cannot escape into another cgroup.
    pub fn resolve(
        layout: &Layout,
        cgroups_path: Option<&str>,
        id: &str,
        self_cgroup: &str,
    ) -> Result<Cgroup, CgroupError> {
        let raw = match cgroups_path {
            Some(p) if !p.is_empty() => p.to_string(),
            _ => format!("/learnrt/{id}"),
        };
        let bad = |reason: &str| CgroupError::InvalidPath {
            path: raw.clone(),
            reason: reason.to_string(),
        };
        if is_systemd_form(&raw) {
            return Err(bad("this is the systemd driver's \"slice:prefix:name\" form, but learnrt only drives cgroupfs directly; use a path such as \"/learnrt/c1\""));
        }
        let mut parts: Vec<&str> = Vec::new();
        for c in Path::new(&raw).components() {
            match c {
                Component::Normal(s) => parts.push(s.to_str().ok_or_else(|| bad("not UTF-8"))?),
                Component::ParentDir => {
                    return Err(bad(
                        "\"..\" is not allowed: it could climb out into another cgroup",
                    ))
                }
                Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            }
        }
        if parts.is_empty() {
            return Err(bad(
                "this is the root cgroup; a container needs a cgroup of its own",
            ));
        }
        let absolute = raw.starts_with('/');
        let rel: PathBuf = parts.iter().collect();
        let path = if absolute {
            format!("/{}", rel.display())
        } else {
            rel.display().to_string()
        };
        let place = |mount: &Path, controller: Option<&str>| -> Result<PathBuf, CgroupError> {
            if absolute {
                return Ok(mount.join(&rel));
            }
            let own = self_path(self_cgroup, controller).ok_or_else(|| {
                bad(&format!(
                    "relative path, but /proc/self/cgroup has no line for {}",
                    controller.unwrap_or("cgroup v2 (\"0::\")")
                ))
            })?;
            if own.split('/').any(|c| c == "..") {
                return Err(bad("/proc/self/cgroup contains \"..\""));
            }
            Ok(mount.join(own.trim_start_matches('/')).join(&rel))
        };
        let mut v1 = BTreeMap::new();
        if let Some(mounts) = layout.v1_mounts() {
            for (ctrl, mnt) in mounts {
                v1.insert(ctrl.clone(), place(mnt, Some(ctrl))?);
            }
        }
        let unified = match layout.unified() {
            Some(root) => Some(place(root, None)?),
            None => None,
        };
        Ok(Cgroup {
            layout: layout.clone(),
            path,
            v1,
            unified,
            created: Vec::new(),
        })
    }

    /// Pure cgroup v2?
    pub fn is_v2(&self) -> bool {
        matches!(self.layout, Layout::V2 { .. })
    }

    /// Every distinct directory of the container, with the mount it lives
    /// under (co-mounted v1 controllers share one directory).
    fn dirs_with_mounts(&self) -> Vec<(PathBuf, PathBuf)> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        if let Some(mounts) = self.layout.v1_mounts() {
            for (ctrl, dir) in &self.v1 {
                if let Some(m) = mounts.get(ctrl) {
                    if seen.insert(dir.clone()) {
                        out.push((dir.clone(), m.clone()));
                    }
                }
            }
        }
        if let (Some(dir), Some(m)) = (&self.unified, self.layout.unified()) {
            if seen.insert(dir.clone()) {
                out.push((dir.clone(), m.clone()));
            }
        }
        out
    }

    /// Every distinct directory of the container.
    pub fn dirs(&self) -> Vec<PathBuf> {
        self.dirs_with_mounts()
            .into_iter()
            .map(|(d, _)| d)
            .collect()
    }

    /// The container's directory for one controller (`memory`, `pids`...);
    /// on pure v2 every controller lives in the one directory.
    pub fn controller_dir(&self, controller: &str) -> Option<&Path> {
        match self.layout {
            Layout::V2 { .. } => self.unified.as_deref(),
            _ => self.v1.get(controller).map(PathBuf::as_path),
        }
    }

    /// Controller -> directory, for `state` output and for the book.
    pub fn paths(&self) -> BTreeMap<String, PathBuf> {
        let mut m = self.v1.clone();
        if let Some(u) = &self.unified {
            m.insert(String::new(), u.clone());
        }
        m
    }

    /// `mkdir -p` the container's directory in every hierarchy, remembering
    /// which directories we made. Refuses a cgroup that already holds
    /// processes. On pure v2, enables the available controllers in each
    /// ancestor's `cgroup.subtree_control` so the limit files appear.
    /// On error, removes what it created.
    pub fn create(&mut self, sys: &dyn Sys) -> Result<(), CgroupError> {
        let r = self.create_inner(sys);
        if r.is_err() {
            let _ = self.destroy(sys);
            self.created.clear();
        }
        r
    }

    fn create_inner(&mut self, sys: &dyn Sys) -> Result<(), CgroupError> {
        for (dir, mount) in self.dirs_with_mounts() {
            let made_leaf = self.mkdir_p(sys, &mount, &dir)?;
            if !made_leaf {
                let pids = read_opt(&dir.join("cgroup.procs"))
                    .map(|t| parse_pids(&t))
                    .unwrap_or_default();
                if !pids.is_empty() {
                    return Err(CgroupError::Busy { path: dir, pids });
                }
            }
            if self.is_v2() {
                enable_controllers(sys, &mount, &dir);
            }
        }
        if let (Some(dir), Some(mount)) = (
            self.v1.get("cpuset").cloned(),
            self.layout
                .v1_mounts()
                .and_then(|m| m.get("cpuset"))
                .cloned(),
        ) {
            v1::fill_cpuset(sys, &mount, &dir)?;
        }
        Ok(())
    }

    /// Create `dir` and its missing parents below `mount`; true if we made
    /// `dir` itself.
    fn mkdir_p(&mut self, sys: &dyn Sys, mount: &Path, dir: &Path) -> Result<bool, CgroupError> {
        let rest = dir.strip_prefix(mount).unwrap_or(Path::new(""));
        let mut cur = mount.to_path_buf();
        let mut made = false;
        for c in rest.components() {
            cur.push(c);
            made = false;
            if cur.is_dir() {
                continue;
            }
            match sys.mkdir(&cur, 0o755) {
                Ok(()) => {
                    self.created.push(cur.clone());
                    made = true;
                }
                Err(e) if e.errno == Errno::EEXIST => {}
                Err(e) => {
                    return Err(CgroupError::Mkdir {
                        path: cur.clone(),
                        errno: e.errno,
                        hint: error::mkdir_hint(e.errno),
                    })
                }
            }
        }
        Ok(made)
    }

    /// Write `linux.resources` into the cgroup files. Returns warnings for
    /// settings this host cannot apply but that are safe to skip; errors for
    /// bad values and for limits that cannot be enforced.
    pub fn apply(&self, sys: &dyn Sys, res: &LinuxResources) -> Result<Vec<String>, CgroupError> {
        self.apply_mode(sys, res, false)
    }

    /// `learnrt update`: like [`Cgroup::apply`], but honours
    /// `memory.checkBeforeUpdate`. Device rules: v1 leaves them alone
    /// (rewriting them would briefly deny every device to a running
    /// container); v2 swaps the eBPF program atomically (`BPF_F_REPLACE`).
    pub fn update(&self, sys: &dyn Sys, res: &LinuxResources) -> Result<Vec<String>, CgroupError> {
        self.apply_mode(sys, res, true)
    }

    fn apply_mode(
        &self,
        sys: &dyn Sys,
        res: &LinuxResources,
        update: bool,
    ) -> Result<Vec<String>, CgroupError> {
        // Prepare everything (check every value), then commit (write).
        validate(&self.layout, res)?;
        let mut warnings = Vec::new();
        if self.is_v2() {
            v2::apply(self, sys, res, update, &mut warnings)?;
        } else {
            v1::apply(self, sys, res, update, &mut warnings)?;
        }
        Ok(warnings)
    }

    /// Move process `pid` (and its threads) into the container's cgroup in
    /// every hierarchy. `exec` uses this for the new process too.
    pub fn add_pid(&self, sys: &dyn Sys, pid: i32) -> Result<(), CgroupError> {
        for dir in self.dirs() {
            write(sys, &dir.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// Every process in the container's cgroup and its sub-cgroups, sorted.
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        let mut all = BTreeSet::new();
        for dir in self.dirs() {
            collect_pids(&dir, &mut all)?;
        }
        Ok(all.into_iter().collect())
    }

    fn freezer_dir(&self) -> Result<&Path, CgroupError> {
        let dir = if self.is_v2() {
            self.unified.as_deref()
        } else {
            self.v1.get("freezer").map(PathBuf::as_path)
        };
        dir.ok_or_else(|| {
            CgroupError::unsupported(
                "pause",
                "the freezer controller is not mounted on this host, so the container cannot be paused",
            )
        })
    }

    /// Freeze every process of the container and wait until the kernel says
    /// the whole group is frozen (v1 `freezer.state` = FROZEN, v2
    /// `cgroup.events` frozen 1).
    pub fn freeze(&self, sys: &dyn Sys) -> Result<(), CgroupError> {
        let dir = self.freezer_dir()?;
        let start = Instant::now();
        let mut delay = Duration::from_millis(1);
        if self.is_v2() {
            write(sys, &dir.join("cgroup.freeze"), "1")?;
        }
        loop {
            if !self.is_v2() {
                // v1: writing FROZEN again nudges tasks that were forking.
                write(sys, &dir.join("freezer.state"), "FROZEN")?;
            }
            let state = self.freezer_state(dir);
            if state == "FROZEN" {
                return Ok(());
            }
            if start.elapsed() > FREEZE_TIMEOUT {
                let _ = self.thaw(sys);
                return Err(CgroupError::FreezeTimeout {
                    path: dir.to_path_buf(),
                    state,
                    waited_ms: start.elapsed().as_millis() as u64,
                });
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(50));
        }
    }

    /// Let the container's processes run again.
    pub fn thaw(&self, sys: &dyn Sys) -> Result<(), CgroupError> {
        let dir = self.freezer_dir()?;
        if self.is_v2() {
            write(sys, &dir.join("cgroup.freeze"), "0")
        } else {
            write(sys, &dir.join("freezer.state"), "THAWED")
        }
    }

    /// v1 FROZEN/FREEZING/THAWED; v2 mapped onto the same words.
    fn freezer_state(&self, dir: &Path) -> String {
        if self.is_v2() {
            let frozen = match read_opt(&dir.join("cgroup.events")) {
                Some(ev) => keyed(&ev, "frozen") == Some(1),
                // Kernels < 5.2 have no cgroup.events frozen key.
                None => read_opt(&dir.join("cgroup.freeze")).is_some_and(|s| s.trim() == "1"),
            };
            let asked = read_opt(&dir.join("cgroup.freeze")).is_some_and(|s| s.trim() == "1");
            match (frozen, asked) {
                (true, _) => "FROZEN",
                (false, true) => "FREEZING",
                (false, false) => "THAWED",
            }
            .to_string()
        } else {
            read_opt(&dir.join("freezer.state"))
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        }
    }

    /// Is the container's cgroup frozen (paused)?
    pub fn is_frozen(&self) -> bool {
        match self.freezer_dir() {
            Ok(dir) => self.freezer_state(dir) == "FROZEN",
            Err(_) => false,
        }
    }

    /// How many processes the kernel's OOM killer has killed in this cgroup
    /// (v1 `memory.oom_control` oom_kill, v2 `memory.events` oom_kill);
    /// `events` reports an "oom" event when it grows. 0 when unknown.
    pub fn oom_kill_count(&self) -> u64 {
        let file = if self.is_v2() {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        self.controller_dir("memory")
            .and_then(|d| read_opt(&d.join(file)))
            .and_then(|t| keyed(&t, "oom_kill"))
            .unwrap_or(0)
    }

    /// The `data` object of `events --stats`, with runc's field names.
    pub fn stats(&self) -> Result<serde_json::Value, CgroupError> {
        stats::collect(self)
    }

    /// Remove the directories learnrt created, deepest first. A cgroup that
    /// is still busy (processes exiting) is retried for a short while.
    /// Directories that existed before `create` are left in place.
    pub fn destroy(&self, sys: &dyn Sys) -> Result<(), CgroupError> {
        let _ = sys; // rmdir is traced through crate::sys::call (no Sys method yet)
        let mut first_err = None;
        let mut dirs = self.created.clone();
        // Deepest first, whatever order they were recorded in.
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for dir in dirs {
            if let Err(e) = rmdir_retry(&dir) {
                first_err.get_or_insert(e);
            }
        }
        // The shared default parent (`/learnrt`) was made by whichever
        // container came first; the last one out removes it, even if it did
        // not make it itself (another container may have made it and left
        // while we were still there).
        if first_err.is_none() && self.path.starts_with("/learnrt/") {
            for dir in self.dirs() {
                let Some(parent) = dir.parent() else { continue };
                let empty = std::fs::read_dir(parent)
                    .map(|mut it| !it.any(|e| e.map(|e| e.path().is_dir()).unwrap_or(false)))
                    .unwrap_or(false);
                if parent.file_name().is_some_and(|n| n == "learnrt") && empty {
                    let _ = crate::sys::call(
                        "rmdir",
                        || crate::sys::q(parent),
                        || std::fs::remove_dir(parent).map_err(crate::sys::io_errno),
                    );
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

/// `pids.max` for linux.resources.pids.limit: -1 and 0 mean no limit
/// (runc's reading), the same file and values on v1 and v2.
fn pids_max(limit: i64) -> String {
    if limit > 0 {
        limit.to_string()
    } else {
        "max".into()
    }
}

/// rmdir, traced like every other syscall; EBUSY is retried for ~1 s
/// (the last processes may still be exiting), ENOENT counts as done.
fn rmdir_retry(dir: &Path) -> Result<(), CgroupError> {
    let mut delay = Duration::from_millis(5);
    let start = Instant::now();
    loop {
        let r = crate::sys::call(
            "rmdir",
            || crate::sys::q(dir),
            || std::fs::remove_dir(dir).map_err(crate::sys::io_errno),
        );
        match r {
            Ok(()) => return Ok(()),
            Err(e) if e.errno == Errno::ENOENT => return Ok(()),
            Err(e) if e.errno == Errno::EBUSY && start.elapsed() < Duration::from_secs(1) => {
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(100));
            }
            Err(e) => {
                return Err(CgroupError::Rmdir {
                    path: dir.to_path_buf(),
                    errno: e.errno,
                    hint: error::rmdir_hint(e.errno),
                })
            }
        }
    }
}

fn collect_pids(dir: &Path, out: &mut BTreeSet<i32>) -> Result<(), CgroupError> {
    out.extend(parse_pids(&read(&dir.join("cgroup.procs"))?));
    let entries = std::fs::read_dir(dir).map_err(|e| CgroupError::from_read(dir, e))?;
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            collect_pids(&e.path(), out)?;
        }
    }
    Ok(())
}

/// The v2 controllers learnrt hands down to the container.
const V2_CONTROLLERS: &[&str] = &[
    "cpu", "cpuset", "hugetlb", "io", "memory", "misc", "pids", "rdma",
];

/// cgroup v2: a controller's files only appear in a cgroup if its parent
/// lists the controller in `cgroup.subtree_control`. Enable each available
/// controller on every ancestor, from the mount down to the parent of `dir`.
/// A failure is not fatal here: `apply` reports the missing files with a
/// hint, and only for the limits the config actually asks for.
fn enable_controllers(sys: &dyn Sys, mount: &Path, dir: &Path) {
    let rest = dir.strip_prefix(mount).unwrap_or(Path::new(""));
    let mut cur = mount.to_path_buf();
    let comps: Vec<_> = rest.components().collect();
    for (i, c) in comps.iter().enumerate() {
        let available = read_opt(&cur.join("cgroup.controllers")).unwrap_or_default();
        let enabled = read_opt(&cur.join("cgroup.subtree_control")).unwrap_or_default();
        for ctrl in available.split_whitespace() {
            if V2_CONTROLLERS.contains(&ctrl) && !enabled.split_whitespace().any(|e| e == ctrl) {
                let p = cur.join("cgroup.subtree_control");
                if let Err(e) = write(sys, &p, &format!("+{ctrl}")) {
                    tracing::warn!(target: "learnrt::cgroups", "{e}");
                }
            }
        }
        if i + 1 < comps.len() {
            cur.push(c);
        }
    }
}

// ---------------------------------------------------------------------------
// Validation: every value is checked before anything is written
// ---------------------------------------------------------------------------

fn check_bytes(field: &str, v: Option<i64>) -> Result<(), CgroupError> {
    match v {
        Some(x) if x < -1 => Err(CgroupError::invalid(
            field,
            format!("{x} is not valid: give a number of bytes, or -1 for no limit"),
        )),
        _ => Ok(()),
    }
}

fn check_weight(field: &str, w: Option<u16>) -> Result<(), CgroupError> {
    match w {
        Some(w) if w != 0 && !(10..=1000).contains(&w) => Err(CgroupError::invalid(
            field,
            format!("{w} is out of range: block I/O weights go from 10 to 1000"),
        )),
        _ => Ok(()),
    }
}

/// `2MB`, `1GB`, `64KB`: the page-size names the hugetlb files use.
fn valid_page_size(s: &str) -> bool {
    let Some(num) = s
        .strip_suffix("KB")
        .or_else(|| s.strip_suffix("MB"))
        .or_else(|| s.strip_suffix("GB"))
    else {
        return false;
    };
    !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit())
}

/// Check `linux.resources` for values no cgroup file would accept, naming
/// the field. Nothing is written before this passes.
pub fn validate(layout: &Layout, res: &LinuxResources) -> Result<(), CgroupError> {
    let v2 = matches!(layout, Layout::V2 { .. });
    if let Some(m) = res.memory() {
        check_bytes("linux.resources.memory.limit", m.limit())?;
        check_bytes("linux.resources.memory.reservation", m.reservation())?;
        check_bytes("linux.resources.memory.swap", m.swap())?;
        check_bytes("linux.resources.memory.kernel", m.kernel())?;
        check_bytes("linux.resources.memory.kernelTCP", m.kernel_tcp())?;
        if let (Some(l), Some(s)) = (m.limit(), m.swap()) {
            if l > 0 && s > 0 && s < l {
                return Err(CgroupError::invalid(
                    "linux.resources.memory.swap",
                    format!("{s} is below memory.limit {l}: swap is the limit on memory+swap together, so it must be >= limit (or -1)"),
                ));
            }
        }
        if v2 {
            if let Some(s) = m.swap() {
                if s > 0 && m.limit().unwrap_or(0) <= 0 {
                    return Err(CgroupError::invalid(
                        "linux.resources.memory.swap",
                        "on cgroup v2 a swap limit needs linux.resources.memory.limit too (memory.swap.max = swap - limit)",
                    ));
                }
            }
        }
        if let Some(s) = m.swappiness() {
            if s > 100 {
                return Err(CgroupError::invalid(
                    "linux.resources.memory.swappiness",
                    format!("{s} is out of range 0..=100"),
                ));
            }
        }
    }
    if let Some(c) = res.cpu() {
        if let Some(q) = c.quota() {
            if q < -1 {
                return Err(CgroupError::invalid(
                    "linux.resources.cpu.quota",
                    format!("{q} is not valid: give microseconds per period, or -1 for no limit"),
                ));
            }
        }
        if let Some(p) = c.period() {
            if p != 0 && !(1000..=1_000_000).contains(&p) {
                return Err(CgroupError::invalid(
                    "linux.resources.cpu.period",
                    format!(
                        "{p} is out of range: the period goes from 1000 to 1000000 microseconds"
                    ),
                ));
            }
        }
        if let Some(s) = c.shares() {
            if v2 && s != 0 && !(2..=262_144).contains(&s) {
                return Err(CgroupError::invalid(
                    "linux.resources.cpu.shares",
                    format!("{s} is out of range 2..=262144"),
                ));
            }
        }
        if let Some(r) = c.realtime_runtime() {
            if r < -1 {
                return Err(CgroupError::invalid(
                    "linux.resources.cpu.realtimeRuntime",
                    format!("{r} is not valid: give microseconds, or -1 for no limit"),
                ));
            }
        }
        if let Some(i) = c.idle() {
            if i != 0 && i != 1 {
                return Err(CgroupError::invalid(
                    "linux.resources.cpu.idle",
                    format!("{i} is not valid: 0 or 1"),
                ));
            }
        }
    }
    if let Some(p) = res.pids() {
        if p.limit() < -1 {
            return Err(CgroupError::invalid(
                "linux.resources.pids.limit",
                format!(
                    "{} is not valid: give a number of processes, or -1 (or 0) for no limit",
                    p.limit()
                ),
            ));
        }
    }
    if let Some(b) = res.block_io() {
        check_weight("linux.resources.blockIO.weight", b.weight())?;
        check_weight("linux.resources.blockIO.leafWeight", b.leaf_weight())?;
        for (i, d) in b.weight_device().iter().flatten().enumerate() {
            check_weight(
                &format!("linux.resources.blockIO.weightDevice[{i}].weight"),
                d.weight(),
            )?;
            check_weight(
                &format!("linux.resources.blockIO.weightDevice[{i}].leafWeight"),
                d.leaf_weight(),
            )?;
            check_dev(
                &format!("linux.resources.blockIO.weightDevice[{i}]"),
                d.major(),
                d.minor(),
            )?;
        }
        for (name, list) in throttles(b) {
            for (i, d) in list.iter().enumerate() {
                check_dev(
                    &format!("linux.resources.blockIO.{name}[{i}]"),
                    d.major(),
                    d.minor(),
                )?;
            }
        }
    }
    for (i, h) in res.hugepage_limits().iter().flatten().enumerate() {
        if !valid_page_size(h.page_size()) {
            return Err(CgroupError::invalid(
                &format!("linux.resources.hugepageLimits[{i}].pageSize"),
                format!(
                    "{:?} is not a page size name like \"2MB\" or \"1GB\"",
                    h.page_size()
                ),
            ));
        }
        check_bytes(
            &format!("linux.resources.hugepageLimits[{i}].limit"),
            Some(h.limit()),
        )?;
    }
    for (i, d) in res.devices().iter().flatten().enumerate() {
        let field = format!("linux.resources.devices[{i}]");
        if let Some(a) = d.access() {
            if a.is_empty() || !a.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
                return Err(CgroupError::invalid(
                    &format!("{field}.access"),
                    format!("{a:?} is not valid: use letters from \"rwm\" (read, write, mknod)"),
                ));
            }
        }
        for (n, v) in [("major", d.major()), ("minor", d.minor())] {
            if v.is_some_and(|v| v < -1) {
                return Err(CgroupError::invalid(
                    &format!("{field}.{n}"),
                    "must be >= 0 (or absent / -1 for any)",
                ));
            }
        }
    }
    if let Some(u) = res.unified() {
        if !u.is_empty() && !v2 {
            return Err(CgroupError::unsupported(
                "linux.resources.unified",
                format!(
                    "this host uses cgroup {} for its controllers; unified keys are cgroup v2 file names and need a pure cgroup v2 host",
                    layout.name()
                ),
            ));
        }
        for k in u.keys() {
            if k.is_empty() || k.contains('/') || k == "." || k == ".." {
                return Err(CgroupError::invalid(
                    &format!("linux.resources.unified[{k:?}]"),
                    "a key must be a plain cgroup file name such as \"memory.high\"",
                ));
            }
        }
    }
    Ok(())
}

fn check_dev(field: &str, major: i64, minor: i64) -> Result<(), CgroupError> {
    if major < 0 || minor < 0 {
        return Err(CgroupError::invalid(
            field,
            format!("device {major}:{minor} is not valid: major and minor must be >= 0"),
        ));
    }
    Ok(())
}

/// The four throttle lists with their config names and v1 file names.
pub(crate) fn throttles(
    b: &oci_spec::runtime::LinuxBlockIo,
) -> Vec<(&'static str, &Vec<oci_spec::runtime::LinuxThrottleDevice>)> {
    let mut v = Vec::new();
    if let Some(l) = b.throttle_read_bps_device() {
        v.push(("throttleReadBpsDevice", l));
    }
    if let Some(l) = b.throttle_write_bps_device() {
        v.push(("throttleWriteBpsDevice", l));
    }
    if let Some(l) = b.throttle_read_iops_device() {
        v.push(("throttleReadIOPSDevice", l));
    }
    if let Some(l) = b.throttle_write_iops_device() {
        v.push(("throttleWriteIOPSDevice", l));
    }
    v
}

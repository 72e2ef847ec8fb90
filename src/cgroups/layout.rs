//! Which cgroup hierarchies this machine has, read from /proc/self/mountinfo.
//!
//! * **v1**: one filesystem of type `cgroup` per controller (or per group of
//!   co-mounted controllers such as `cpu,cpuacct`), usually at
//!   `/sys/fs/cgroup/<controller>`;
//! * **v2**: one filesystem of type `cgroup2`, usually at `/sys/fs/cgroup`;
//! * **hybrid**: v1 controllers plus a cgroup2 mount (often
//!   `/sys/fs/cgroup/unified`) that holds no controllers: limits go to v1.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::CgroupError;

/// The v1 controllers learnrt knows. Named hierarchies (`name=systemd`) carry
/// no resources and are left alone.
pub const V1_CONTROLLERS: &[&str] = &[
    "blkio",
    "cpu",
    "cpuacct",
    "cpuset",
    "devices",
    "freezer",
    "hugetlb",
    "memory",
    "misc",
    "net_cls",
    "net_prio",
    "perf_event",
    "pids",
    "rdma",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// cgroup v1 only: controller name -> mount point.
    V1 { mounts: BTreeMap<String, PathBuf> },
    /// cgroup v2 only: the one unified mount point.
    V2 { root: PathBuf },
    /// v1 controllers plus a controller-less cgroup2 mount.
    Hybrid {
        mounts: BTreeMap<String, PathBuf>,
        unified: PathBuf,
    },
}

impl Layout {
    /// `"v1"`, `"v2"` or `"hybrid"` — for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Layout::V1 { .. } => "v1",
            Layout::V2 { .. } => "v2",
            Layout::Hybrid { .. } => "hybrid",
        }
    }

    /// The v1 controller mounts (empty for pure v2).
    pub fn v1_mounts(&self) -> Option<&BTreeMap<String, PathBuf>> {
        match self {
            Layout::V1 { mounts } | Layout::Hybrid { mounts, .. } => Some(mounts),
            Layout::V2 { .. } => None,
        }
    }

    /// The cgroup2 mount point, if any.
    pub fn unified(&self) -> Option<&PathBuf> {
        match self {
            Layout::V2 { root } => Some(root),
            Layout::Hybrid { unified, .. } => Some(unified),
            Layout::V1 { .. } => None,
        }
    }
}

/// Read /proc/self/mountinfo and work out the layout.
pub fn detect() -> Result<Layout, CgroupError> {
    let path = std::path::Path::new("/proc/self/mountinfo");
    let text = std::fs::read_to_string(path).map_err(|e| CgroupError::from_read(path, e))?;
    detect_from(&text)
}

/// Undo the octal escapes mountinfo uses for spaces and the like (`\040`).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Work out the layout from the text of a mountinfo file.
pub fn detect_from(mountinfo: &str) -> Result<Layout, CgroupError> {
    let mut mounts: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut v2: Vec<PathBuf> = Vec::new();
    for line in mountinfo.lines() {
        // id parent maj:min root mountpoint opts [optional...] - fstype source superopts
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let lf: Vec<&str> = left.split_whitespace().collect();
        let rf: Vec<&str> = right.split_whitespace().collect();
        if lf.len() < 5 || rf.is_empty() {
            continue;
        }
        let mountpoint = PathBuf::from(unescape(lf[4]));
        match rf[0] {
            "cgroup" => {
                let superopts = rf.get(2).copied().unwrap_or("");
                for opt in superopts.split(',') {
                    if V1_CONTROLLERS.contains(&opt) {
                        // The first mount of a controller wins (later ones
                        // are usually bind mounts of the same hierarchy).
                        mounts
                            .entry(opt.to_string())
                            .or_insert_with(|| mountpoint.clone());
                    }
                }
            }
            "cgroup2" => v2.push(mountpoint),
            _ => {}
        }
    }
    // Prefer the conventional places when several cgroup2 mounts exist.
    let unified = v2
        .iter()
        .find(|p| p.as_path() == std::path::Path::new("/sys/fs/cgroup"))
        .or_else(|| {
            v2.iter()
                .find(|p| p.as_path() == std::path::Path::new("/sys/fs/cgroup/unified"))
        })
        .or_else(|| v2.first())
        .cloned();
    match (mounts.is_empty(), unified) {
        (true, Some(root)) => Ok(Layout::V2 { root }),
        (false, Some(unified)) => Ok(Layout::Hybrid { mounts, unified }),
        (false, None) => Ok(Layout::V1 { mounts }),
        (true, None) => Err(CgroupError::NoCgroupFs {
            source_name: "/proc/self/mountinfo".into(),
            reason: "no mount of type cgroup or cgroup2".into(),
        }),
    }
}

/// The caller's own cgroup for one v1 controller (or the v2 cgroup when
/// `controller` is `None`), from the text of /proc/self/cgroup.
pub fn self_path<'a>(self_cgroup: &'a str, controller: Option<&str>) -> Option<&'a str> {
    for line in self_cgroup.lines() {
        let mut it = line.splitn(3, ':');
        let (Some(_id), Some(ctrls), Some(path)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        match controller {
            None if ctrls.is_empty() => return Some(path),
            Some(c) if ctrls.split(',').any(|x| x == c) => return Some(path),
            _ => {}
        }
    }
    None
}

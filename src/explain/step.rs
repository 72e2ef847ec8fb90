//! What every step of container creation tells a learner.
//!
//! Each stage file under `src/stages/` (and `src/cgroups/`, `src/seccomp.rs`)
//! declares its steps as `pub const` [`Step`] values right beside the code
//! that performs them; [`crate::explain::catalog`] lists them in order. The
//! `--explain` renderer, `learnrt explain`, `--step` and the book all read
//! these same values, so the code and its explanation move together.

/// One named step, e.g. `rootfs.bind`.
#[derive(Debug)]
pub struct Step {
    /// Stable id (`namespaces`, `rootfs.bind`, `caps.drop`, ...): used in
    /// traces, snapshots and the book.
    pub id: &'static str,
    /// The stage number (1..=11) in the order the kernel sees them.
    pub stage: u8,
    /// One line: what happens.
    pub title: &'static str,
    /// Two or three plain sentences: why a container needs this.
    pub why: &'static str,
    /// Man pages, e.g. `&["pivot_root(2)", "mount_namespaces(7)"]`.
    pub man: &'static [&'static str],
    /// The shell command that does the same by hand.
    pub shell: &'static str,
    /// config.json fields that drive the step (`linux.namespaces`, `mounts`).
    pub config: &'static [&'static str],
    /// What to look at from another terminal while paused here (`--step`);
    /// `{pid}` is replaced by the container init's host pid.
    pub look: &'static [&'static str],
    /// Which process runs it.
    pub actor: Actor,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// The learnrt command the user typed (the parent).
    Runtime,
    /// The container's init process, inside the new namespaces.
    Init,
}

/// Number of stages shown as `[n/STAGES]`.
pub const STAGES: u8 = 11;

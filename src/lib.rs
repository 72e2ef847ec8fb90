//! learnrt: an OCI container runtime that teaches while it works.
//!
//! Start reading at [`stages`]: one file per stage of container creation,
//! in the order the kernel sees them, each with its explanation beside its
//! code. Every syscall goes through [`sys`].

pub mod bundle;
pub mod cgroups;
pub mod cli;
pub mod commands;
pub mod error;
pub mod explain;
pub mod logging;
pub mod mkbundle;
pub mod process;
pub mod seccomp;
pub mod spec_default;
pub mod stages;
pub mod state;
pub mod sys;
pub mod tutorial;

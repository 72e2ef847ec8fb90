//! One file per subcommand. Each takes the parsed flags and returns the
//! process exit code (0, or the container's for `run` and `exec`).

pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod explain;
pub mod features;
pub mod kill;
pub mod list;
pub mod mkbundle;
pub mod pause;
pub mod ps;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;
pub mod tutorial;
pub mod update;

use crate::cli::{Cli, Command};
use crate::error::Result;
use crate::explain::Settings;
use crate::state::Root;

pub fn dispatch(cli: Cli, settings: &Settings) -> Result<i32> {
    let root = || Root::new(&cli.root);
    match cli.command {
        Command::Spec { bundle, rootless } => spec::run(bundle, rootless),
        Command::Create(a) => create::run(&root()?, a, settings),
        Command::Start { id } => start::run(&root()?, &id, settings),
        Command::Run {
            create,
            detach,
            keep,
        } => run::run(&root()?, create, detach, keep, settings),
        Command::State { id } => state::run(&root()?, &id),
        Command::List { format, quiet } => list::run(&root()?, format, quiet),
        Command::Kill { id, signal, all } => kill::run(&root()?, &id, signal.as_deref(), all),
        Command::Delete { id, force } => delete::run(&root()?, &id, force),
        Command::Exec(a) => exec::run(&root()?, a, settings),
        Command::Ps {
            format,
            id,
            ps_args,
        } => ps::run(&root()?, &id, format, &ps_args),
        Command::Pause { id } => pause::pause(&root()?, &id),
        Command::Resume { id } => pause::resume(&root()?, &id),
        Command::Events {
            id,
            stats,
            interval,
        } => events::run(&root()?, &id, stats, &interval),
        Command::Update(a) => update::run(&root()?, a),
        Command::Features => features::run(),
        Command::Explain { stage } => explain::run(stage.as_deref()),
        Command::Mkbundle { dir, terminal } => mkbundle::run(&dir, terminal),
        Command::Tutorial { yes, dir } => tutorial::run(yes, dir, &cli.root),
    }
}

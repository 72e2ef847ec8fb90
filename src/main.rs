//! learnrt: parse the command line, set up logging and explain, dispatch,
//! and turn errors into runc's exit codes.

use clap::Parser;

use learnrt::cli::{Cli, LogFormat};
use learnrt::explain::{self, Actor, Settings};
use learnrt::logging;

fn main() {
    let cli = Cli::parse();
    let fmt = match cli.log_format {
        LogFormat::Json => logging::Format::Json,
        LogFormat::Text => logging::Format::Text,
    };
    if let Err(e) = logging::init(cli.log.as_deref(), fmt, cli.debug) {
        eprintln!("learnrt: {e}");
        std::process::exit(1);
    }
    let settings = Settings {
        explain: cli.explain,
        step: cli.step,
        // LEARNRT_TRACE=<file>: the same as `--trace FILE`, for when a
        // client (docker, podman, containerd) builds the command line; a
        // --trace flag wins.
        trace: cli.trace.clone().or_else(|| {
            std::env::var("LEARNRT_TRACE")
                .ok()
                .filter(|v| !v.is_empty())
        }),
    };
    let code = match run(cli, &settings) {
        Ok(c) => c,
        Err(e) => {
            logging::error(&e.to_string());
            1
        }
    };
    std::process::exit(code);
}

fn run(cli: Cli, settings: &Settings) -> learnrt::error::Result<i32> {
    if cli.systemd_cgroup && !std::path::Path::new("/run/systemd/system").exists() {
        return Err(learnrt::error::Error::new(
            "cgroups",
            "--systemd-cgroup needs systemd as init, and systemd is not running on this machine",
        )
        .hint("drop --systemd-cgroup (learnrt then writes cgroupfs directly), or set cgroup_manager = \"cgroupfs\" in your engine"));
    }
    if cli.systemd_cgroup {
        return Err(learnrt::error::Error::new(
            "cgroups",
            "the systemd cgroup driver is not supported yet; use cgroupfs",
        ));
    }
    use learnrt::cli::Command;
    if matches!(
        cli.command,
        Command::Create(_) | Command::Run { .. } | Command::Exec(_)
    ) {
        learnrt::process::cloned_binary::ensure()?;
    }
    explain::install(settings, Actor::Runtime)?;
    learnrt::logging::debug(|| format!("learnrt {:?}", std::env::args().collect::<Vec<_>>()));
    learnrt::commands::dispatch(cli, settings)
}

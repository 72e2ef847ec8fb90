//! The command line: runc's commands and global flags, plus learnrt's own
//! `--explain`, `--step`, `--trace` and the `explain`, `mkbundle` and
//! `tutorial` commands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "learnrt",
    version,
    about = "An OCI container runtime that teaches while it works",
    long_about = "learnrt is a low-level container runtime with runc's command line: Docker, Podman and containerd can use it in place of runc.\n\nEvery step of making a container is an explicit stage. Add --explain to any command to see, stage by stage, which syscall ran with which arguments, what it returned, why it is needed, the man page and the shell command that does the same by hand. Add --step to pause before each stage.\n\nStart with: learnrt tutorial",
    after_help = "Examples:\n  learnrt tutorial                      walk the classic runc tutorial, explained\n  cd /c1 && learnrt spec                write a default config.json\n  learnrt --explain create c1           create a container and show every stage\n  learnrt exec -t c1 /bin/sh            a shell inside it\n  learnrt explain pivot_root            read about one stage"
)]
pub struct Cli {
    /// Directory for container state
    #[arg(long, global = true, default_value = crate::state::DEFAULT_ROOT, value_name = "DIR")]
    pub root: PathBuf,
    /// Also write errors and warnings to this file
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Format of the --log file
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log debug messages
    #[arg(long, global = true)]
    pub debug: bool,
    /// Accepted so runc command lines work, but not supported: an error (learnrt writes cgroupfs itself)
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
    /// Accepted for runc compatibility; ignored. Not `global`: `spec --rootless`
    /// is a different flag (a bool), and a global one would clash with it.
    #[arg(long, hide = true)]
    pub rootless: Option<String>,
    /// Accepted for runc compatibility; ignored (no checkpoint/restore)
    #[arg(long, global = true, hide = true)]
    pub criu: Option<String>,
    /// Show every stage: syscalls, arguments, results, why, man page, shell twin (on stderr)
    #[arg(long, global = true)]
    pub explain: bool,
    /// Pause before each stage and say what to look at (needs a terminal)
    #[arg(long, global = true)]
    pub step: bool,
    /// Write one JSON object per stage and syscall: `json` for stderr, or a file path
    #[arg(long, global = true, value_name = "json|FILE")]
    pub trace: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write a default config.json (like `runc spec`)
    Spec {
        /// Bundle directory to write config.json into
        #[arg(short, long, value_name = "DIR")]
        bundle: Option<PathBuf>,
        /// A config for running without root (user namespace, no cgroups)
        #[arg(long)]
        rootless: bool,
    },
    /// Create a container: run every stage up to "wait for start"
    Create(CreateArgs),
    /// Start a created container: its init runs the program
    Start { id: String },
    /// Create and start a container, wait for it, then delete it
    Run {
        #[command(flatten)]
        create: CreateArgs,
        /// Do not wait: return once the program has started
        #[arg(short, long)]
        detach: bool,
        /// Keep the container's state after it exits (no delete)
        #[arg(long)]
        keep: bool,
    },
    /// Print the OCI state of a container as JSON
    State { id: String },
    /// List containers
    #[command(alias = "ls")]
    List {
        #[arg(short, long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
        /// Only print the ids
        #[arg(short, long)]
        quiet: bool,
    },
    /// Send a signal to a container's init (default SIGTERM)
    Kill {
        id: String,
        /// A signal name (TERM, SIGKILL) or number
        signal: Option<String>,
        /// Signal every process of the container, not only its init
        #[arg(short, long)]
        all: bool,
    },
    /// Delete a container and everything it made
    Delete {
        id: String,
        /// Kill a running container first; no error if it does not exist
        #[arg(short, long)]
        force: bool,
    },
    /// Run a new process inside a container
    Exec(ExecArgs),
    /// List the processes of a container
    Ps {
        #[arg(short, long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
        id: String,
        /// Options passed to ps(1) for the table format (default -ef)
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Freeze every process of a container
    Pause { id: String },
    /// Thaw a paused container
    Resume { id: String },
    /// Print container events and resource statistics (JSON)
    Events {
        id: String,
        /// Print one set of statistics and exit
        #[arg(long)]
        stats: bool,
        /// How often to print statistics
        #[arg(long, default_value = "5s")]
        interval: String,
    },
    /// Change a running container's resource limits
    Update(UpdateArgs),
    /// Print what this runtime supports, as JSON (like `runc features`)
    Features,
    /// Explain the stages of container creation (without running anything)
    Explain {
        /// A stage id (see the list); without one, list all stages
        stage: Option<String>,
    },
    /// Build a busybox bundle (rootfs + config.json) in DIR, offline
    Mkbundle {
        dir: PathBuf,
        /// Leave process.terminal true (runc spec's default)
        #[arg(long)]
        terminal: bool,
    },
    /// Walk the classic runc tutorial with learnrt, explained, on a busybox bundle
    Tutorial {
        /// Run straight through without pausing between steps
        #[arg(short, long)]
        yes: bool,
        /// Working directory for the tutorial's bundle (the tutorial's /c1)
        #[arg(long, default_value = "/c1")]
        dir: PathBuf,
    },
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    pub id: String,
    /// Bundle directory (holds config.json)
    #[arg(short, long, default_value = ".", value_name = "DIR")]
    pub bundle: PathBuf,
    /// Write the init's pid to this file
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master (process.terminal true)
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root
    #[arg(long)]
    pub no_pivot: bool,
    /// Accepted for runc compatibility (learnrt makes no session keyring)
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass this many extra fds (3, 4, …) to the container
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub preserve_fds: u32,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    pub id: String,
    /// The command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
    /// Allocate a terminal
    #[arg(short, long)]
    pub tty: bool,
    /// Do not wait for the process
    #[arg(short, long)]
    pub detach: bool,
    /// A process.json (OCI Process) describing what to run
    #[arg(short, long, value_name = "FILE")]
    pub process: Option<PathBuf>,
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Working directory inside the container
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Set an environment variable (K=V), repeatable
    #[arg(short, long, value_name = "K=V")]
    pub env: Vec<String>,
    /// UID[:GID] to run as
    #[arg(short, long)]
    pub user: Option<String>,
    /// Extra group ids, repeatable
    #[arg(short = 'g', long)]
    pub additional_gids: Vec<u32>,
    /// Add a capability, repeatable
    #[arg(short, long)]
    pub cap: Vec<String>,
    /// Set no_new_privs
    #[arg(long)]
    pub no_new_privs: bool,
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    /// Accepted for runc compatibility; ignored
    #[arg(long, hide = true)]
    pub apparmor: Option<String>,
    /// Accepted for runc compatibility; ignored
    #[arg(long, hide = true)]
    pub process_label: Option<String>,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    pub id: String,
    /// linux.resources as JSON from a file, or `-` for stdin
    #[arg(short, long, value_name = "FILE|-")]
    pub resources: Option<PathBuf>,
    #[arg(long)]
    pub memory: Option<String>,
    #[arg(long)]
    pub memory_reservation: Option<String>,
    #[arg(long)]
    pub memory_swap: Option<String>,
    #[arg(long)]
    pub cpu_quota: Option<i64>,
    #[arg(long)]
    pub cpu_period: Option<u64>,
    #[arg(long)]
    pub cpu_share: Option<u64>,
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    #[arg(long)]
    pub pids_limit: Option<i64>,
    #[arg(long)]
    pub blkio_weight: Option<u16>,
}

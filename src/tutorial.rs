//! `learnrt tutorial`: the nine steps of the classic "runc by hand" tutorial,
//! played with learnrt.
//!
//! Every command is run for real, as a child process, and printed first as
//! `$ learnrt create c1`, so what the student reads is what the machine did.
//! The learnrt commands run the binary we are (`std::env::current_exe()`);
//! `create`, `exec` and `delete` get `--explain`, so each stage of container
//! creation shows up on stderr as it happens.
//!
//! Steps 1-3 need a high-level runtime (docker or podman) because a low-level
//! runtime cannot pull images. When neither works we say what those steps
//! would do and make the same `c1.tar` straight from the busybox tree.

use std::fs;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use owo_colors::OwoColorize;

/// Options of `learnrt tutorial`.
pub struct TutorialOpts {
    /// The bundle directory (the tutorial's `/c1`).
    pub dir: PathBuf,
    /// Run straight through: no pauses, and step 8 runs `ls /` instead of a shell.
    pub yes: bool,
    /// State root passed to every learnrt command as `--root`.
    pub root: Option<PathBuf>,
}

/// The container id the tutorial uses, as in the original.
const ID: &str = "c1";
/// Marks a directory the tutorial made, so a second run may clear it.
const MARKER: &str = ".learnrt-tutorial";
/// Image name used for the docker/podman part (steps 1-3).
const IMAGE: &str = "learnrt-busybox:latest";

/// Runs the tutorial. Returns the exit code for the CLI.
pub fn run(opts: TutorialOpts) -> Result<i32, String> {
    let mut t = Tutorial::new(opts)?;
    let result = t.all_steps();
    // One cleanup path, whatever happened: the container, the borrowed
    // docker/podman objects and the scratch busybox tree.
    t.cleanup();
    match result {
        Ok(Flow::Done) => Ok(0),
        Ok(Flow::Quit) => {
            t.say("Stopped. Run `learnrt tutorial` again to start over.");
            Ok(0)
        }
        Err(e) => Err(format!("tutorial failed: {e}")),
    }
}

enum Flow {
    Done,
    Quit,
}

/// A high-level runtime we can borrow for steps 1-3.
#[derive(Clone, Copy)]
enum Engine {
    Docker,
    Podman,
}

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Engine::Docker => "docker",
            Engine::Podman => "podman",
        }
    }
}

struct Tutorial {
    exe: PathBuf,
    dir: PathBuf,
    root: Option<PathBuf>,
    yes: bool,
    interactive: bool,
    color: bool,
    /// Scratch dir where `learnrt mkbundle` builds the busybox tree.
    scratch: PathBuf,
    /// Set while our container exists, so cleanup deletes it.
    created: bool,
    /// The docker/podman we borrowed, if any: its image and container are
    /// removed at the end.
    engine: Option<Engine>,
    borrowed_container: Option<String>,
}

impl Tutorial {
    fn new(opts: TutorialOpts) -> Result<Self, String> {
        // LEARNRT_TUTORIAL_EXE lets a test drive the tutorial with another
        // learnrt binary; normally it is the binary that is running.
        let exe = match std::env::var_os("LEARNRT_TUTORIAL_EXE") {
            Some(p) => PathBuf::from(p),
            None => std::env::current_exe()
                .map_err(|e| format!("cannot find the learnrt binary: {e}"))?,
        };
        let dir = absolute(&opts.dir)?;
        // The default root need not be shown (or passed) on every command line.
        let root = match opts.root {
            Some(r) if r != Path::new(crate::state::DEFAULT_ROOT) => Some(absolute(&r)?),
            _ => None,
        };
        let interactive = !opts.yes && std::io::stdin().is_terminal();
        let color = std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal();
        let scratch = std::env::temp_dir().join(format!("learnrt-tutorial-{}", std::process::id()));
        Ok(Tutorial {
            exe,
            dir,
            root,
            yes: opts.yes,
            interactive,
            color,
            scratch,
            created: false,
            engine: None,
            borrowed_container: None,
        })
    }

    fn all_steps(&mut self) -> Result<Flow, String> {
        self.intro()?;
        if self.pause("Ready? We start with an image.")? {
            return Ok(Flow::Quit);
        }
        let tar = self.steps_1_to_3()?;
        if self.pause("Next: a directory for the bundle.")? {
            return Ok(Flow::Quit);
        }
        self.step_4()?;
        self.step_5(&tar)?;
        if self.pause("Next: the other half of a bundle, config.json.")? {
            return Ok(Flow::Quit);
        }
        self.step_6()?;
        if self.pause("Next: learnrt makes the container.")? {
            return Ok(Flow::Quit);
        }
        self.step_7()?;
        if self.pause("Next: a shell inside the container.")? {
            return Ok(Flow::Quit);
        }
        if self.step_8()? {
            return Ok(Flow::Quit);
        }
        if self.pause("Last: delete the container.")? {
            return Ok(Flow::Quit);
        }
        self.step_9()?;
        self.outro();
        Ok(Flow::Done)
    }

    // ----- the steps -------------------------------------------------------

    fn intro(&mut self) -> Result<(), String> {
        self.heading("learnrt tutorial: a container by hand, in nine steps");
        self.say(
            "A container runtime is whatever manages containers. There are two kinds.\n\
             \n\
             A low-level runtime only makes and manages the container itself: it reads a\n\
             directory (the bundle) and asks the kernel for namespaces, cgroups and mounts.\n\
             runc, crun, gVisor, kata and learnrt are low-level runtimes.\n\
             \n\
             A high-level runtime also manages images and storage: docker, podman and\n\
             containerd. To start a container it prepares a bundle and calls a low-level\n\
             runtime. `docker info` shows which one: `Default Runtime: runc`.\n\
             \n\
             In this tutorial you play the high-level runtime yourself, and learnrt does\n\
             the low-level part, telling you each step it takes.",
        );
        self.say(&format!("Work directory: {}", self.dir.display()));
        self.no_container_in_the_way()?;
        self.prepare_dir()
    }

    /// Steps 1-3: get busybox, run it, export it as c1.tar.
    fn steps_1_to_3(&mut self) -> Result<PathBuf, String> {
        // Our busybox tree: `learnrt mkbundle` builds it from Debian's
        // busybox-static, or from the host's own binaries.
        fs::create_dir_all(&self.scratch)
            .map_err(|e| format!("mkdir {}: {e}", self.scratch.display()))?;
        println!();
        self.note("First learnrt builds a small busybox tree (no network needed):");
        let scratch = self.scratch.clone();
        let mut cmd = self.learnrt(&["mkbundle"]);
        cmd.arg(&scratch);
        self.run_shown(&format!("learnrt mkbundle {}", scratch.display()), cmd)?;
        let tree = scratch.join("rootfs");
        if !tree.join("bin").exists() {
            return Err(format!("learnrt mkbundle made no {}/bin", tree.display()));
        }

        let tar = self.dir.join("c1.tar");
        match self.find_engine() {
            Some(engine) => {
                if self.steps_1_to_3_with(engine, &tree, &tar)? {
                    return Ok(tar);
                }
                self.note(
                    "That did not work here, so we make c1.tar straight from the tree instead.",
                );
            }
            None => {
                self.heading(
                    "Steps 1-3: get busybox, run it, export it (docker/podman not available)",
                );
                self.say(
                    "Neither docker nor podman works on this machine, so here is what these steps do:\n\
                     \n\
                     \x20 1. docker pull busybox              # a high-level runtime fetches an image\n\
                     \x20 2. docker run -dit --name=c1 busybox  # ...and runs a container from it\n\
                     \x20 3. docker export c1 > c1.tar         # the container's files, as one tar\n\
                     \n\
                     learnrt cannot pull images: a low-level runtime never does. The tar holds\n\
                     a root filesystem and nothing else. We make the same tar from our busybox tree:",
                );
            }
        }
        let shown = format!("tar -C {} -cf {} .", tree.display(), tar.display());
        let mut cmd = Command::new("tar");
        cmd.arg("-C").arg(&tree).arg("-cf").arg(&tar).arg(".");
        self.run_shown(&shown, cmd)?;
        self.after_export(&tar);
        Ok(tar)
    }

    /// Steps 1-3 with docker or podman. Returns false when the engine failed
    /// and the caller should fall back to a plain tar.
    fn steps_1_to_3_with(
        &mut self,
        engine: Engine,
        tree: &Path,
        tar: &Path,
    ) -> Result<bool, String> {
        let e = engine.name();
        self.heading(&format!("Step 1: get a busybox image ({e})"));
        self.say(&format!(
            "The tutorial runs `{e} pull busybox`. We stay offline: `{e} import` turns our\n\
             busybox tree into an image instead. Either way a high-level runtime now\n\
             stores an image, something learnrt never does."
        ));
        let import = format!(
            "tar -C {} -c . | {e} import -c 'CMD [\"sh\"]' - {IMAGE}",
            tree.display()
        );
        if !self.run_shell_shown(&import)? {
            return Ok(false);
        }
        self.engine = Some(engine);
        // Which low-level runtime does this engine call?
        let query = match engine {
            Engine::Docker => format!("{e} info --format '{{{{.DefaultRuntime}}}}'"),
            Engine::Podman => format!("{e} info --format '{{{{.Host.OCIRuntime.Name}}}}'"),
        };
        self.say(&format!(
            "{e} is a high-level runtime. Which low-level runtime does it call?"
        ));
        let _ = self.run_shell_shown(&query)?;

        self.heading(&format!("Step 2: run a container from it ({e})"));
        let name = format!("learnrt-tutorial-{}", std::process::id());
        self.borrowed_container = Some(name.clone());
        let run = format!("{e} run -dit --name={name} {IMAGE}");
        if !self.run_shell_shown(&run)? {
            // Some machines (a sandbox, a CI runner) cannot run containers at
            // all; `create` still makes one we can export.
            self.note("Running failed here; creating the container is enough to export it:");
            let _ = self.run_shell_shown(&format!("{e} rm -f {name} >/dev/null 2>&1; true"))?;
            if !self.run_shell_shown(&format!("{e} create --name={name} {IMAGE}"))? {
                return Ok(false);
            }
        }

        self.heading(&format!("Step 3: export it as c1.tar ({e})"));
        let export = format!("{e} export {name} > {}", tar.display());
        if !self.run_shell_shown(&export)? {
            return Ok(false);
        }
        self.after_export(tar);
        Ok(true)
    }

    fn after_export(&mut self, tar: &Path) {
        let size = fs::metadata(tar).map(|m| m.len()).unwrap_or(0);
        self.say(&format!(
            "{} ({} KiB) holds every file the container needs. With it, a low-level\n\
             runtime can make the container; no image, no registry.",
            tar.display(),
            size / 1024
        ));
    }

    fn step_4(&mut self) -> Result<(), String> {
        self.heading("Step 4: make the bundle directory");
        let rootfs = self.dir.join("rootfs");
        let mut cmd = Command::new("mkdir");
        cmd.arg("-p").arg(&rootfs);
        self.run_shown(&format!("mkdir -p {}", rootfs.display()), cmd)?;
        self.say(&format!(
            "You may call {} anything. `rootfs` is the default name: config.json's\n\
             root.path says \"rootfs\". Use another name and you must change it there.",
            self.dir.display()
        ));
        Ok(())
    }

    fn step_5(&mut self, tar: &Path) -> Result<(), String> {
        self.heading("Step 5: unpack c1.tar into rootfs");
        let rootfs = self.dir.join("rootfs");
        let mut cmd = Command::new("tar");
        cmd.arg("xf").arg(tar).arg("-C").arg(&rootfs);
        self.run_shown(
            &format!("tar xf {} -C {}", tar.display(), rootfs.display()),
            cmd,
        )?;
        self.show_ls(&rootfs)?;
        self.say("Mark it, so you will know it again from inside the container:");
        let aa = rootfs.join("aa.txt");
        fs::write(&aa, b"").map_err(|e| format!("touch {}: {e}", aa.display()))?;
        self.show(&format!("touch {}", aa.display()));
        self.show_ls(&rootfs)?;
        Ok(())
    }

    fn step_6(&mut self) -> Result<(), String> {
        self.heading("Step 6: write config.json");
        self.show(&format!("cd {}", self.dir.display()));
        let cmd = self.learnrt(&["spec"]);
        self.run_shown("learnrt spec", cmd)?;
        self.show_ls(&self.dir.clone())?;
        self.say(
            "config.json is the other half of an OCI bundle: which program to run, as\n\
             which user, with which namespaces, mounts, capabilities and limits.\n\
             `learnrt explain` lists what learnrt does with it, stage by stage.\n\
             \n\
             The default asks for a terminal (\"terminal\": true). We have none to hand\n\
             over, so set it to false:",
        );
        self.set_terminal_false()
    }

    fn step_7(&mut self) -> Result<(), String> {
        self.heading("Step 7: create the container");
        self.say(
            "Now learnrt reads the bundle and asks the kernel for each piece of the\n\
             container. --explain prints every stage and system call as it happens\n\
             (on stderr, so stdout stays what runc would print).",
        );
        let cmd = self.learnrt(&["--explain", "create", ID]);
        self.created = true; // from here on, cleanup deletes it (delete -f of nothing is harmless)
        self.run_shown(&format!("learnrt --explain create {ID}"), cmd)?;
        let cmd = self.learnrt(&["list"]);
        self.run_shown("learnrt list", cmd)?;
        self.say(
            "STATUS is `created`: the container's first process exists, inside its new\n\
             namespaces and rootfs, but waits. `learnrt start c1` would let it run `sh`.",
        );
        Ok(())
    }

    /// Returns true when the user typed q at the pause before the shell.
    fn step_8(&mut self) -> Result<bool, String> {
        self.heading("Step 8: go inside");
        self.say(
            "learnrt exec starts a new process in the container's namespaces: it joins\n\
             them with setns(2), enters the container's cgroup, drops to the same\n\
             capabilities and ends in execve — the last stages of create, replayed.\n\
             First, with --explain, the command the tutorial types inside, `ls /`:",
        );
        let cmd = self.learnrt(&["--explain", "exec", ID, "ls", "/"]);
        let out = self.run_shown(&format!("learnrt --explain exec {ID} ls /"), cmd)?;
        if !out.split_whitespace().any(|w| w == "aa.txt") {
            return Err("`ls /` inside the container did not show aa.txt".into());
        }
        self.say("aa.txt is there: the container's / is our rootfs directory.");
        if !self.interactive {
            self.say(
                "The tutorial runs `exec -t c1 /bin/sh` for a shell inside. With no\n\
                 terminal here (or with --yes), we stop at `ls /`.",
            );
            return Ok(false);
        }
        if self.pause("Next: your own shell inside the container.")? {
            return Ok(true);
        }
        self.say(
            "Now the tutorial's own command: a shell inside (-t gives it a terminal).\n\
             Try `ls /` (aa.txt), `hostname`, `ps` (pid 1 is the waiting init),\n\
             `id`, then type `exit` to come back here.",
        );
        let cmd = self.learnrt(&["exec", "-t", ID, "/bin/sh"]);
        // The child inherits our terminal: the user types into the container.
        let shown = self.with_root(&format!("learnrt exec -t {ID} /bin/sh"));
        self.show(&shown);
        let status = self.status_of(cmd, &shown)?;
        if !status.success() {
            self.note(&format!("(the shell exited with {})", describe(status)));
        }
        Ok(false)
    }

    fn step_9(&mut self) -> Result<(), String> {
        self.heading("Step 9: delete the container");
        let cmd = self.learnrt(&["--explain", "delete", ID]);
        self.run_shown(&format!("learnrt --explain delete {ID}"), cmd)?;
        self.created = false;
        let cmd = self.learnrt(&["list"]);
        self.run_shown("learnrt list", cmd)?;
        self.say("The list is empty. The bundle is still there: the runtime never owned it.");
        Ok(())
    }

    fn outro(&mut self) {
        self.heading("Done");
        self.say(&format!(
            "You made a container from a directory and a JSON file, the way docker and\n\
             podman do it through their low-level runtime. A high-level runtime can call\n\
             learnrt in place of runc: `docker run --runtime=learnrt ...` (see lessons/14).\n\
             \n\
             Next:\n\
             \x20 learnrt explain               every stage, in order\n\
             \x20 learnrt --step create c1      pause before each stage and look around\n\
             \x20 lessons/README.md             fifteen labs that go deeper, each with a checker\n\
             \n\
             The bundle stays in {} for the labs. Running the tutorial again\n\
             clears it first; rm -rf it when you are done.",
            self.dir.display()
        ));
    }

    // ----- the work directory ---------------------------------------------

    /// Makes sure `dir` is empty or was made by an earlier tutorial run.
    fn prepare_dir(&mut self) -> Result<(), String> {
        let dir = self.dir.clone();
        if dir.exists() {
            let empty = fs::read_dir(&dir)
                .map_err(|e| format!("{}: {e}", dir.display()))?
                .next()
                .is_none();
            if !empty {
                if !dir.join(MARKER).exists() {
                    return Err(format!(
                        "{} is not empty and was not made by `learnrt tutorial`. Remove it \
                         (rm -rf {}) or choose another directory with --dir.",
                        dir.display(),
                        dir.display()
                    ));
                }
                // (Its container, if still there, was deleted just before.)
                self.note("Clearing what an earlier tutorial run left here.");
                if let Some(m) = mount_under(&dir) {
                    return Err(format!(
                        "{m} is still mounted; unmount it first (umount -R {m})"
                    ));
                }
                for name in ["rootfs", "config.json", "c1.tar"] {
                    let p = dir.join(name);
                    let r = if p.is_dir() {
                        fs::remove_dir_all(&p)
                    } else if p.exists() {
                        fs::remove_file(&p)
                    } else {
                        Ok(())
                    };
                    r.map_err(|e| format!("rm -rf {}: {e}", p.display()))?;
                }
            }
        }
        fs::create_dir_all(&dir).map_err(|e| format!("mkdir -p {}: {e}", dir.display()))?;
        fs::write(
            dir.join(MARKER),
            b"made by learnrt tutorial; a new run may clear this directory\n",
        )
        .map_err(|e| format!("{}: {e}", dir.join(MARKER).display()))
    }

    /// A container called c1 may be left from an earlier run (stopped with
    /// Ctrl-C, or made by hand in the labs). Ours, from this directory, is
    /// deleted; anyone else's is left alone, with a hint.
    fn no_container_in_the_way(&mut self) -> Result<(), String> {
        let out = self
            .learnrt(&["state", ID])
            .current_dir("/") // the work directory may not exist yet
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map_err(|e| format!("learnrt state {ID}: {e}"))?;
        if !out.status.success() {
            return Ok(()); // no such container
        }
        let state: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let bundle = state["bundle"].as_str().unwrap_or("?").to_owned();
        let same = |p: &Path| fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        if same(Path::new(&bundle)) != same(&self.dir) {
            return Err(format!(
                "a container called {ID} already exists (bundle {bundle}). Delete it first \
                 ({}), or keep it and run the tutorial with another --root.",
                self.with_root(&format!("learnrt delete -f {ID}"))
            ));
        }
        self.note(&format!(
            "Deleting container {ID}, left by an earlier tutorial run:"
        ));
        let mut cmd = self.learnrt(&["delete", "-f", ID]);
        cmd.current_dir("/");
        self.run_shown(&format!("learnrt delete -f {ID}"), cmd)?;
        Ok(())
    }

    /// Step 6's edit: "terminal": true -> false, keeping the file's layout.
    fn set_terminal_false(&mut self) -> Result<(), String> {
        let path = self.dir.join("config.json");
        let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut doc: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        match doc.pointer("/process/terminal") {
            Some(serde_json::Value::Bool(false)) => {
                self.say("(It is already false.)");
                return Ok(());
            }
            Some(serde_json::Value::Bool(true)) => {}
            _ => return Err(format!("{}: no process.terminal field", path.display())),
        }
        // Change only that line, so the file still reads as `learnrt spec` wrote it.
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let hit = lines.iter().position(|l| {
            let c: String = l.chars().filter(|c| !c.is_whitespace()).collect();
            c.starts_with("\"terminal\":true")
        });
        let new_text = match hit {
            Some(i) => {
                let old = lines[i].clone();
                lines[i] = old.replacen("true", "false", 1);
                self.diff_line(i + 1, &old, &lines[i]);
                let mut t = lines.join("\n");
                if text.ends_with('\n') {
                    t.push('\n');
                }
                t
            }
            None => {
                // Unusual layout: rewrite the JSON (key order may change).
                doc["process"]["terminal"] = serde_json::Value::Bool(false);
                self.diff_line(0, "\"terminal\": true", "\"terminal\": false");
                serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())? + "\n"
            }
        };
        // Check the edit before writing it.
        let check: serde_json::Value =
            serde_json::from_str(&new_text).map_err(|e| format!("edited config.json: {e}"))?;
        if check.pointer("/process/terminal") != Some(&serde_json::Value::Bool(false)) {
            return Err("could not set process.terminal to false".into());
        }
        fs::write(&path, new_text).map_err(|e| format!("{}: {e}", path.display()))
    }

    fn diff_line(&self, line: usize, old: &str, new: &str) {
        let at = if line > 0 {
            format!("line {line}")
        } else {
            "process.terminal".into()
        };
        println!("  config.json, {at}:");
        if self.color {
            println!("  {}", format!("- {old}").red());
            println!("  {}", format!("+ {new}").green());
        } else {
            println!("  - {old}");
            println!("  + {new}");
        }
    }

    // ----- docker / podman --------------------------------------------------

    /// The first of docker, podman that answers `info` within a few seconds.
    fn find_engine(&self) -> Option<Engine> {
        if std::env::var_os("LEARNRT_TUTORIAL_NO_ENGINE").is_some() {
            return None;
        }
        [Engine::Docker, Engine::Podman]
            .into_iter()
            .find(|e| works_within(Command::new(e.name()).arg("info"), Duration::from_secs(8)))
    }

    fn cleanup(&mut self) {
        if self.created {
            self.note(&format!("Cleaning up: learnrt delete -f {ID}"));
            let _ = self
                .learnrt(&["delete", "-f", ID])
                .stdout(Stdio::null())
                .status();
            self.created = false;
        }
        if let Some(engine) = self.engine.take() {
            let quiet = |args: &[&str]| {
                let _ = Command::new(engine.name())
                    .args(args)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            };
            if let Some(name) = self.borrowed_container.take() {
                quiet(&["rm", "-f", &name]);
            }
            quiet(&["rmi", IMAGE]);
        }
        if self.scratch.exists() {
            let _ = fs::remove_dir_all(&self.scratch);
        }
    }

    // ----- running and showing commands ------------------------------------

    /// A learnrt command with the tutorial's state root and the bundle as cwd.
    fn learnrt(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.exe);
        if let Some(root) = &self.root {
            cmd.arg("--root").arg(root);
        }
        cmd.args(args).current_dir(&self.dir);
        cmd
    }

    /// Prints `$ shown`, runs `cmd`, prints its stdout; stderr (where the
    /// explanations go) passes straight through. Fails on a non-zero exit.
    fn run_shown(&mut self, shown: &str, mut cmd: Command) -> Result<String, String> {
        let shown = self.with_root(shown);
        self.show(&shown);
        if shown.contains(" create ") {
            // The container's process inherits create's stdio (as with runc)
            // and keeps it open until the container is deleted: a pipe here
            // would never reach EOF. Let the output go straight to ours.
            let status = cmd
                .stdin(Stdio::null())
                .status()
                .map_err(|e| format!("`{shown}`: {e}"))?;
            if !status.success() {
                return Err(format!("`{shown}` failed ({})", describe(status)));
            }
            return Ok(String::new());
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let out = cmd.output().map_err(|e| format!("`{shown}`: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        print!("{text}");
        let _ = std::io::stdout().flush();
        if !out.status.success() {
            return Err(format!("`{shown}` failed ({})", describe(out.status)));
        }
        Ok(text)
    }

    /// Runs a shell pipeline (docker/podman steps). Returns whether it worked.
    fn run_shell_shown(&mut self, line: &str) -> Result<bool, String> {
        self.show(line);
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(line)
            .current_dir(&self.dir)
            .stdin(Stdio::null());
        let status = self.status_of(cmd, line)?;
        Ok(status.success())
    }

    fn status_of(&self, mut cmd: Command, shown: &str) -> Result<ExitStatus, String> {
        let _ = std::io::stdout().flush();
        cmd.status().map_err(|e| format!("`{shown}`: {e}"))
    }

    /// Shows the state root in a command line only when the user chose one.
    fn with_root(&self, shown: &str) -> String {
        match (&self.root, shown.strip_prefix("learnrt ")) {
            (Some(root), Some(rest)) => format!("learnrt --root {} {rest}", root.display()),
            _ => shown.to_owned(),
        }
    }

    fn show_ls(&mut self, dir: &Path) -> Result<(), String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .map_err(|e| format!("ls {}: {e}", dir.display()))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        self.show(&format!("ls {}", dir.display()));
        println!("{}", names.join("  "));
        Ok(())
    }

    // ----- output -------------------------------------------------------------

    fn heading(&self, text: &str) {
        println!();
        if self.color {
            println!("{}", format!("== {text} ==").bold().cyan());
        } else {
            println!("== {text} ==");
        }
    }

    fn show(&self, command: &str) {
        if self.color {
            println!("{} {}", "$".green().bold(), command.bold());
        } else {
            println!("$ {command}");
        }
        let _ = std::io::stdout().flush();
    }

    fn say(&self, text: &str) {
        println!();
        for line in text.lines() {
            if line.is_empty() {
                println!();
            } else {
                println!("  {line}");
            }
        }
    }

    fn note(&self, text: &str) {
        if self.color {
            println!("{}", text.dimmed());
        } else {
            println!("{text}");
        }
    }

    /// Waits for Enter between steps. Returns true when the user typed q.
    fn pause(&self, next: &str) -> Result<bool, String> {
        if !self.interactive || self.yes {
            return Ok(false);
        }
        print!("{next} Press Enter to go on, q to stop: ");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("reading stdin: {e}"))?;
        Ok(line.trim() == "q" || line.is_empty())
    }
}

/// Runs `cmd` quietly and says whether it succeeded before `limit`.
fn works_within(cmd: &mut Command, limit: Duration) -> bool {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else { return false };
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if start.elapsed() < limit => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}

/// The first mount point at or below `dir`, from /proc/self/mountinfo.
fn mount_under(dir: &Path) -> Option<String> {
    let info = fs::read_to_string("/proc/self/mountinfo").ok()?;
    let d = dir.to_string_lossy();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .find(|m| *m == d || m.starts_with(&format!("{d}/")))
        .map(str::to_owned)
}

fn absolute(p: &Path) -> Result<PathBuf, String> {
    if p.is_absolute() {
        Ok(p.to_path_buf())
    } else {
        std::env::current_dir()
            .map(|c| c.join(p))
            .map_err(|e| format!("current directory: {e}"))
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => "unknown status".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_under_finds_nothing_in_a_fresh_dir() {
        assert_eq!(mount_under(Path::new("/nonexistent-learnrt-dir")), None);
    }

    #[test]
    fn with_root_rewrites_only_learnrt_lines() {
        let t = Tutorial {
            exe: "x".into(),
            dir: "/c1".into(),
            root: Some("/tmp/r".into()),
            yes: true,
            interactive: false,
            color: false,
            scratch: "/tmp/s".into(),
            created: false,
            engine: None,
            borrowed_container: None,
        };
        assert_eq!(t.with_root("learnrt list"), "learnrt --root /tmp/r list");
        assert_eq!(t.with_root("tar xf a"), "tar xf a");
    }
}

//! Build a container root filesystem with no network: the tree a
//! `docker export` of the busybox image gives, made from the host.
//!
//! Two sources, tried in this order:
//!
//! 1. **Debian's busybox-static** (`/bin/busybox`, statically linked): one
//!    copy of the binary in `bin/`, and one hard link per applet
//!    (`busybox --list`), exactly the layout of the busybox image. A hard
//!    link costs a directory entry, so the ~270 applets take a few
//!    milliseconds. Where the filesystem refuses hard links, a relative
//!    symlink `bin/ls -> busybox` does the same job.
//! 2. **The host's own tools** (`sh ls cat echo true false ps id hostname
//!    sleep mount`), each copied with every shared library it needs and the
//!    dynamic loader, so the tree works with no package installed.
//!
//! Why copy busybox once instead of hard-linking the host's `/bin/busybox`
//! into the rootfs? A hard link *is* the host's file: a container that
//! writes to its `/bin/busybox` (root in the container can, the rootfs is
//! writable) would change the host's binary. One 2 MB copy keeps them apart.

use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the binaries of a rootfs came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A statically linked busybox, at this host path.
    BusyboxStatic(PathBuf),
    /// The host's own dynamically linked tools, with their libraries.
    Host,
}

/// The host tools copied when no static busybox is found. `sh` is required;
/// a missing other one is skipped.
pub const HOST_TOOLS: &[&str] = &[
    "sh", "ls", "cat", "echo", "true", "false", "ps", "id", "hostname", "sleep", "mount",
];

/// Where Debian and others put a static busybox. `busybox-static` ships
/// `/bin/busybox` (`/usr/bin/busybox` on merged /usr).
const BUSYBOX_CANDIDATES: &[&str] = &["/bin/busybox", "/usr/bin/busybox", "/sbin/busybox"];

// The busybox image's users, cut down: the `mail` and `www-data` accounts
// are why the image has /var/spool/mail and /var/www.
const PASSWD: &str = "\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
";

const GROUP: &str = "\
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
tty:x:5:
mail:x:8:
wheel:x:10:root
www-data:x:33:
users:x:100:
nogroup:x:65534:
";

/// The directories of the busybox image, with their modes.
const DIRS: &[(&str, u32)] = &[
    ("bin", 0o755),
    ("dev", 0o755),
    ("etc", 0o755),
    ("home", 0o755),
    ("proc", 0o555),
    ("root", 0o700),
    ("sys", 0o555),
    ("tmp", 0o1777),
    ("usr", 0o755),
    ("usr/sbin", 0o755),
    ("var", 0o755),
    ("var/spool", 0o755),
    ("var/spool/mail", 0o755),
    ("var/www", 0o755),
];

/// Build a rootfs at `rootfs` (which must not exist or be an empty
/// directory): from a static busybox when the host has one, else from the
/// host's own tools.
pub fn build_rootfs(rootfs: &Path) -> Result<Source, String> {
    match find_static_busybox() {
        Some(busybox) => build_busybox_rootfs(rootfs, &busybox),
        None => build_host_rootfs(rootfs),
    }
}

/// The first static busybox among the usual places and `$PATH`.
pub fn find_static_busybox() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = BUSYBOX_CANDIDATES.iter().map(PathBuf::from).collect();
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join("busybox")));
    }
    candidates
        .into_iter()
        .find(|p| matches!(elf_interpreter(p), Ok(Elf::Static)))
}

/// Build the busybox-image tree from the static busybox at `busybox`.
pub fn build_busybox_rootfs(rootfs: &Path, busybox: &Path) -> Result<Source, String> {
    match elf_interpreter(busybox) {
        Ok(Elf::Static) => {}
        Ok(Elf::Dynamic(interp)) => {
            return Err(format!(
                "{}: dynamically linked (interpreter {}), a static busybox is needed",
                busybox.display(),
                interp.display()
            ))
        }
        Err(e) => return Err(format!("{}: {e}", busybox.display())),
    }
    let applets = busybox_applets(busybox)?;
    make_skeleton(rootfs)?;

    let bin = rootfs.join("bin");
    let target = bin.join("busybox");
    copy_file(busybox, &target)?;
    for applet in &applets {
        let link = bin.join(applet);
        if fs::hard_link(&target, &link).is_err() {
            // A filesystem without hard links (or a quota on them): a
            // relative symlink resolves inside the container too.
            symlink("busybox", &link)
                .map_err(|e| format!("symlink {} -> busybox: {e}", link.display()))?;
        }
    }
    Ok(Source::BusyboxStatic(busybox.to_path_buf()))
}

/// The applet names `busybox --list` prints, checked to be plain file names.
fn busybox_applets(busybox: &Path) -> Result<Vec<String>, String> {
    let out = Command::new(busybox)
        .arg("--list")
        .output()
        .map_err(|e| format!("{} --list: {e}", busybox.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} --list: {}: {}",
            busybox.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let list = String::from_utf8_lossy(&out.stdout);
    let applets: Vec<String> = list
        .lines()
        .map(str::trim)
        .filter(|a| !a.is_empty() && !a.contains('/') && *a != "." && *a != ".." && *a != "busybox")
        .map(String::from)
        .collect();
    if !applets.iter().any(|a| a == "sh") {
        return Err(format!("{} --list has no `sh` applet", busybox.display()));
    }
    Ok(applets)
}

/// Build a tree from the host's own tools and the libraries they need.
pub fn build_host_rootfs(rootfs: &Path) -> Result<Source, String> {
    make_skeleton(rootfs)?;
    let mut copied_libs: Vec<PathBuf> = Vec::new();
    for tool in HOST_TOOLS {
        let Some(host_path) = which(tool) else {
            if *tool == "sh" {
                return Err("no `sh` on this host's PATH: cannot build a rootfs".into());
            }
            continue;
        };
        // Copy the file itself, not a symlink to it (`sh -> dash`).
        copy_file(&host_path, &rootfs.join("bin").join(tool))?;
        for lib in shared_libraries(&host_path)? {
            if copied_libs.contains(&lib) {
                continue;
            }
            let dest = inside(rootfs, &lib);
            if let Some(parent) = dest.parent() {
                fs::create_dir_all(parent)
                    .map_err(|e| format!("mkdir {}: {e}", parent.display()))?;
            }
            copy_file(&lib, &dest)?;
            copied_libs.push(lib);
        }
    }
    Ok(Source::Host)
}

/// The directories and /etc files every rootfs gets.
fn make_skeleton(rootfs: &Path) -> Result<(), String> {
    match fs::read_dir(rootfs) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(format!("{}: exists and is not empty", rootfs.display()));
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(rootfs).map_err(|e| format!("mkdir {}: {e}", rootfs.display()))?
        }
        Err(e) => return Err(format!("{}: {e}", rootfs.display())),
    }
    set_mode(rootfs, 0o755)?;
    for (dir, mode) in DIRS {
        let path = rootfs.join(dir);
        fs::create_dir(&path).map_err(|e| format!("mkdir {}: {e}", path.display()))?;
        // Set explicitly: create_dir is subject to the umask (tmp must be 1777).
        set_mode(&path, *mode)?;
    }
    write_file(&rootfs.join("etc/passwd"), PASSWD, 0o644)?;
    write_file(&rootfs.join("etc/group"), GROUP, 0o644)?;
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> Result<(), String> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| format!("chmod {:o} {}: {e}", mode, path.display()))
}

fn write_file(path: &Path, text: &str, mode: u32) -> Result<(), String> {
    fs::write(path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
    set_mode(path, mode)
}

/// Copy `from` (following symlinks) to `to`, keeping the mode.
fn copy_file(from: &Path, to: &Path) -> Result<(), String> {
    // fs::copy uses copy_file_range: a reflink on filesystems that have them.
    fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| format!("copy {} -> {}: {e}", from.display(), to.display()))
}

/// `rootfs` + absolute host `path`.
fn inside(rootfs: &Path, path: &Path) -> PathBuf {
    rootfs.join(path.strip_prefix("/").unwrap_or(path))
}

/// Find `tool` on $PATH plus the usual system directories.
fn which(tool: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for d in ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"] {
        dirs.push(PathBuf::from(d));
    }
    dirs.into_iter().map(|d| d.join(tool)).find(|p| {
        fs::metadata(p)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    })
}

/// What an ELF file needs to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Elf {
    /// No PT_INTERP: the kernel runs it as is (static, or static-pie).
    Static,
    /// Run through this dynamic loader (PT_INTERP).
    Dynamic(PathBuf),
}

/// Read the ELF header and program headers of `path`: is there a PT_INTERP?
pub fn elf_interpreter(path: &Path) -> Result<Elf, String> {
    let mut f = fs::File::open(path).map_err(|e| e.to_string())?;
    let mut ident = [0u8; 64];
    f.read_exact(&mut ident)
        .map_err(|_| "too short to be an ELF file".to_string())?;
    if &ident[..4] != b"\x7fELF" {
        return Err("not an ELF file".into());
    }
    let is64 = match ident[4] {
        1 => false,
        2 => true,
        c => return Err(format!("unknown ELF class {c}")),
    };
    let le = match ident[5] {
        1 => true,
        2 => false,
        d => return Err(format!("unknown ELF data encoding {d}")),
    };
    let u16_at = |b: &[u8], o: usize| {
        let a = [b[o], b[o + 1]];
        if le {
            u16::from_le_bytes(a)
        } else {
            u16::from_be_bytes(a)
        }
    };
    let u32_at = |b: &[u8], o: usize| {
        let a = [b[o], b[o + 1], b[o + 2], b[o + 3]];
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let u64_at = |b: &[u8], o: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[o..o + 8]);
        if le {
            u64::from_le_bytes(a)
        } else {
            u64::from_be_bytes(a)
        }
    };
    // e_phoff, e_phentsize, e_phnum (ELF32: 28, 42, 44; ELF64: 32, 54, 56).
    let (phoff, phentsize, phnum) = if is64 {
        (u64_at(&ident, 32), u16_at(&ident, 54), u16_at(&ident, 56))
    } else {
        (
            u32_at(&ident, 28) as u64,
            u16_at(&ident, 42),
            u16_at(&ident, 44),
        )
    };
    let min_ent = if is64 { 56 } else { 32 };
    if (phentsize as usize) < min_ent || phnum > 4096 {
        return Err("bad program header table".into());
    }
    let mut table = vec![0u8; phentsize as usize * phnum as usize];
    f.seek(SeekFrom::Start(phoff)).map_err(|e| e.to_string())?;
    f.read_exact(&mut table)
        .map_err(|_| "truncated program header table".to_string())?;
    const PT_INTERP: u32 = 3;
    for ph in table.chunks_exact(phentsize as usize) {
        if u32_at(ph, 0) != PT_INTERP {
            continue;
        }
        let (off, size) = if is64 {
            (u64_at(ph, 8), u64_at(ph, 32))
        } else {
            (u32_at(ph, 4) as u64, u32_at(ph, 16) as u64)
        };
        if size == 0 || size > 4096 {
            return Err("bad PT_INTERP".into());
        }
        let mut name = vec![0u8; size as usize];
        f.seek(SeekFrom::Start(off)).map_err(|e| e.to_string())?;
        f.read_exact(&mut name)
            .map_err(|_| "truncated PT_INTERP".to_string())?;
        let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        let interp = String::from_utf8_lossy(&name[..end]).into_owned();
        return Ok(Elf::Dynamic(PathBuf::from(interp)));
    }
    Ok(Elf::Static)
}

/// The dynamic loader and every shared library `binary` loads, as absolute
/// host paths, in the places the loader looks for them. Asks the loader
/// itself (`ld.so --list`, what `ldd` does), so no package is needed.
pub fn shared_libraries(binary: &Path) -> Result<Vec<PathBuf>, String> {
    let interp = match elf_interpreter(binary).map_err(|e| format!("{}: {e}", binary.display()))? {
        Elf::Static => return Ok(Vec::new()),
        Elf::Dynamic(interp) => interp,
    };
    let out = Command::new(&interp)
        .arg("--list")
        .arg(binary)
        .output()
        .map_err(|e| format!("{} --list {}: {e}", interp.display(), binary.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} --list {}: {}: {}",
            interp.display(),
            binary.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let mut libs = vec![interp];
    for lib in parse_ld_list(&String::from_utf8_lossy(&out.stdout))? {
        if !libs.contains(&lib) {
            libs.push(lib);
        }
    }
    Ok(libs)
}

/// Parse `ld.so --list` / `ldd` output:
///
/// ```text
///     linux-vdso.so.1 (0x00007ffc...)
///     libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f...)
///     /lib64/ld-linux-x86-64.so.2 (0x00007f...)
/// ```
///
/// The vDSO lives in the kernel and has no file; `not found` is an error.
pub fn parse_ld_list(text: &str) -> Result<Vec<PathBuf>, String> {
    let mut libs = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let path = match line.split_once("=>") {
            Some((name, rest)) => {
                let rest = rest.trim();
                if rest.starts_with("not found") {
                    return Err(format!("shared library {} not found", name.trim()));
                }
                rest.split_whitespace().next().unwrap_or("")
            }
            None => line.split_whitespace().next().unwrap_or(""),
        };
        // Keep only real files: skips linux-vdso.so.1 and `statically linked`.
        if path.starts_with('/') {
            libs.push(PathBuf::from(path));
        }
    }
    Ok(libs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh directory under the system temp dir, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Scratch {
            static N: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "learnrt-mkbundle-{tag}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            fs::create_dir(&dir).unwrap();
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            // Nothing here mounts anything, and remove_dir_all does not
            // follow symlinks.
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn is_root() -> bool {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        if !root {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("this test needs root and CI=true: run the tests as root");
            }
            eprintln!("skipping: needs root");
        }
        root
    }

    fn check_tree(rootfs: &Path) {
        for f in [
            "bin/sh",
            "bin/ls",
            "bin/cat",
            "bin/true",
            "etc/passwd",
            "etc/group",
        ] {
            assert!(
                rootfs.join(f).exists(),
                "{f} missing in {}",
                rootfs.display()
            );
        }
        for d in [
            "dev",
            "home",
            "proc",
            "root",
            "sys",
            "tmp",
            "usr/sbin",
            "var/spool/mail",
            "var/www",
        ] {
            assert!(rootfs.join(d).is_dir(), "{d}/ missing");
        }
        let tmp = fs::metadata(rootfs.join("tmp")).unwrap();
        assert_eq!(tmp.permissions().mode() & 0o7777, 0o1777);
        let passwd = fs::read_to_string(rootfs.join("etc/passwd")).unwrap();
        assert!(passwd.starts_with("root:x:0:0:"));
        assert!(passwd.contains("\nnobody:x:65534:65534:"));
    }

    /// `chroot rootfs /bin/sh -c ...` works: the tree is self-contained.
    fn check_chroot(rootfs: &Path) {
        let out = Command::new("chroot")
            .arg(rootfs)
            .args([
                "/bin/sh",
                "-c",
                "echo hello from $(id -u); ls /; cat /etc/passwd",
            ])
            .env_clear()
            .env("PATH", "/bin:/usr/sbin")
            .output()
            .expect("run chroot");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "chroot failed: {}\nstdout: {stdout}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("hello from 0"), "{stdout}");
        assert!(stdout.contains("etc") && stdout.contains("tmp"), "{stdout}");
        assert!(stdout.contains("nobody:x:65534"), "{stdout}");
    }

    #[test]
    fn parses_ld_list_output() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd1b7f2000)\n\
                    \tlibselinux.so.1 => /lib/x86_64-linux-gnu/libselinux.so.1 (0x00007f1)\n\
                    \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f2)\n\
                    \t/lib64/ld-linux-x86-64.so.2 (0x00007f3)\n";
        assert_eq!(
            parse_ld_list(text).unwrap(),
            vec![
                PathBuf::from("/lib/x86_64-linux-gnu/libselinux.so.1"),
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2"),
            ]
        );
        assert!(parse_ld_list("\tlibfoo.so.1 => not found\n").is_err());
        assert!(parse_ld_list("\tstatically linked\n").unwrap().is_empty());
    }

    #[test]
    fn elf_header_tells_static_from_dynamic() {
        // /bin/sh on any Linux host is dynamically linked... except on a
        // busybox-only system; accept both but require a sane answer.
        match elf_interpreter(&which("sh").unwrap()).unwrap() {
            Elf::Dynamic(interp) => assert!(interp.is_absolute()),
            Elf::Static => {}
        }
        assert!(elf_interpreter(Path::new("/etc/passwd")).is_err());
    }

    #[test]
    fn refuses_a_non_empty_rootfs() {
        let s = Scratch::new("nonempty");
        fs::write(s.0.join("x"), "").unwrap();
        let err = build_rootfs(&s.0).unwrap_err();
        assert!(err.contains("not empty"), "{err}");
    }

    #[test]
    fn busybox_rootfs_has_the_image_layout() {
        let Some(busybox) = find_static_busybox() else {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("no static busybox under CI=true: .ci/run installs busybox-static");
            }
            eprintln!("skipping: no static busybox (apt-get install busybox-static)");
            return;
        };
        let s = Scratch::new("busybox");
        let rootfs = s.0.join("rootfs");
        let start = std::time::Instant::now();
        let src = build_rootfs(&rootfs).unwrap();
        eprintln!("busybox rootfs built in {:?}", start.elapsed());
        assert_eq!(src, Source::BusyboxStatic(busybox));
        check_tree(&rootfs);
        // One binary: every applet is the same inode (or a symlink to it).
        use std::os::unix::fs::MetadataExt;
        let bb = fs::metadata(rootfs.join("bin/busybox")).unwrap();
        let ls = fs::metadata(rootfs.join("bin/ls")).unwrap();
        assert_eq!((bb.dev(), bb.ino()), (ls.dev(), ls.ino()));
        if is_root() {
            check_chroot(&rootfs);
        }
    }

    #[test]
    fn host_rootfs_runs_without_packages() {
        let s = Scratch::new("host");
        let rootfs = s.0.join("rootfs");
        assert_eq!(build_host_rootfs(&rootfs).unwrap(), Source::Host);
        check_tree(&rootfs);
        if let Elf::Dynamic(interp) = elf_interpreter(&rootfs.join("bin/sh")).unwrap() {
            assert!(
                inside(&rootfs, &interp).exists(),
                "loader {} not copied",
                interp.display()
            );
        }
        if is_root() {
            check_chroot(&rootfs);
        }
    }
}

//! The one layer every syscall goes through.
//!
//! Stages never call `libc`/`nix` directly: they call a method of [`Sys`].
//! That gives two things:
//!
//! * **uniform tracing** – every call is reported once, here, with its real
//!   arguments, its result or errno and its duration, so `--explain` and
//!   `--trace json` see exactly what the kernel was asked;
//! * **tests without root** – [`Recording`] implements the same trait and only
//!   writes the calls down, so the whole stage sequence can be unit-tested.
//!
//! With neither `--explain`, `--step` nor `--trace`, [`tracing_on`] is false
//! and a call costs one relaxed atomic load more than the bare syscall: the
//! argument strings are never built.

use std::cell::RefCell;
use std::ffi::CString;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use nix::errno::Errno;

static TRACING: AtomicBool = AtomicBool::new(false);

/// Turn syscall tracing on (set once by the CLI when `--explain`, `--step`
/// or `--trace` is given, or by the init when the CLI asks for it).
pub fn set_tracing(on: bool) {
    TRACING.store(on, Ordering::Relaxed);
}

/// Is anybody listening? One relaxed load: this is the whole cost of the
/// tracing machinery when it is off.
#[inline]
pub fn tracing_on() -> bool {
    TRACING.load(Ordering::Relaxed)
}

/// A failed syscall: which one, with what, and the errno the kernel gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysError {
    pub syscall: &'static str,
    pub args: String,
    pub errno: Errno,
}

impl std::fmt::Display for SysError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}({}): {} ({})",
            self.syscall,
            self.args,
            self.errno,
            self.errno.desc()
        )
    }
}

impl std::error::Error for SysError {}

pub type SysResult<T> = Result<T, SysError>;

/// Report one syscall and turn its errno into a [`SysError`].
///
/// `args` is only called when tracing is on, or when the call failed (the
/// error message names the arguments).
pub fn call<T: ShowRet>(
    name: &'static str,
    args: impl FnOnce() -> String,
    f: impl FnOnce() -> Result<T, Errno>,
) -> SysResult<T> {
    if !tracing_on() {
        return f().map_err(|errno| SysError {
            syscall: name,
            args: args(),
            errno,
        });
    }
    let start = Instant::now();
    let r = f();
    let dur_us = start.elapsed().as_micros() as u64;
    let args = args();
    match &r {
        Ok(v) => {
            tracing::info!(target: "learnrt::sys", syscall = name, args = args.as_str(), ret = v.show_ret().as_str(), dur_us = dur_us)
        }
        Err(e) => {
            tracing::info!(target: "learnrt::sys", syscall = name, args = args.as_str(), ret = "-1", errno = format!("{e:?}").as_str(), dur_us = dur_us)
        }
    }
    r.map_err(|errno| SysError {
        syscall: name,
        args,
        errno,
    })
}

/// How a return value is printed in a trace (`= 0`, `= 2741`, `= 3`).
pub trait ShowRet {
    fn show_ret(&self) -> String;
}
impl ShowRet for () {
    fn show_ret(&self) -> String {
        "0".into()
    }
}
impl ShowRet for i32 {
    fn show_ret(&self) -> String {
        self.to_string()
    }
}
impl ShowRet for i64 {
    fn show_ret(&self) -> String {
        self.to_string()
    }
}
impl ShowRet for usize {
    fn show_ret(&self) -> String {
        self.to_string()
    }
}
/// A file mode, shown in octal (`umask(0o0) = 0o22`).
pub struct Mode(pub u32);
impl ShowRet for Mode {
    fn show_ret(&self) -> String {
        format!("{:#o}", self.0)
    }
}
impl ShowRet for u32 {
    fn show_ret(&self) -> String {
        self.to_string()
    }
}
impl ShowRet for std::os::fd::OwnedFd {
    fn show_ret(&self) -> String {
        use std::os::fd::AsRawFd;
        self.as_raw_fd().to_string()
    }
}
impl ShowRet for nix::pty::PtyMaster {
    fn show_ret(&self) -> String {
        use std::os::fd::AsRawFd;
        self.as_raw_fd().to_string()
    }
}
impl ShowRet for (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    fn show_ret(&self) -> String {
        use std::os::fd::AsRawFd;
        format!("0 [{}, {}]", self.0.as_raw_fd(), self.1.as_raw_fd())
    }
}

/// `"path"` as strace prints it.
pub fn q(p: impl AsRef<Path>) -> String {
    format!("{:?}", p.as_ref().as_os_str())
}

/// An optional string argument: `"x"` or `NULL`.
pub fn qo(s: Option<&str>) -> String {
    match s {
        Some(s) => format!("{s:?}"),
        None => "NULL".into(),
    }
}

pub fn cstr(p: &Path) -> Result<CString, Errno> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)
}

/// Render a flag word as `A|B|C` from a name table (unknown bits in hex).
pub fn flag_names(value: u64, table: &[(u64, &str)]) -> String {
    if value == 0 {
        return "0".into();
    }
    let mut out = Vec::new();
    let mut rest = value;
    for (bit, name) in table {
        if *bit != 0 && value & bit == *bit {
            out.push((*name).to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        out.push(format!("{rest:#x}"));
    }
    out.join("|")
}

pub const MOUNT_FLAGS: &[(u64, &str)] = &[
    (libc::MS_RDONLY, "MS_RDONLY"),
    (libc::MS_NOSUID, "MS_NOSUID"),
    (libc::MS_NODEV, "MS_NODEV"),
    (libc::MS_NOEXEC, "MS_NOEXEC"),
    (libc::MS_SYNCHRONOUS, "MS_SYNCHRONOUS"),
    (libc::MS_REMOUNT, "MS_REMOUNT"),
    (libc::MS_MANDLOCK, "MS_MANDLOCK"),
    (libc::MS_DIRSYNC, "MS_DIRSYNC"),
    (libc::MS_NOATIME, "MS_NOATIME"),
    (libc::MS_NODIRATIME, "MS_NODIRATIME"),
    (libc::MS_BIND, "MS_BIND"),
    (libc::MS_MOVE, "MS_MOVE"),
    (libc::MS_REC, "MS_REC"),
    (libc::MS_SILENT, "MS_SILENT"),
    (libc::MS_UNBINDABLE, "MS_UNBINDABLE"),
    (libc::MS_PRIVATE, "MS_PRIVATE"),
    (libc::MS_SLAVE, "MS_SLAVE"),
    (libc::MS_SHARED, "MS_SHARED"),
    (libc::MS_RELATIME, "MS_RELATIME"),
    (libc::MS_STRICTATIME, "MS_STRICTATIME"),
    (libc::MS_LAZYTIME, "MS_LAZYTIME"),
];

pub const CLONE_FLAGS: &[(u64, &str)] = &[
    (libc::CLONE_NEWNS as u64, "CLONE_NEWNS"),
    (libc::CLONE_NEWUTS as u64, "CLONE_NEWUTS"),
    (libc::CLONE_NEWIPC as u64, "CLONE_NEWIPC"),
    (libc::CLONE_NEWUSER as u64, "CLONE_NEWUSER"),
    (libc::CLONE_NEWPID as u64, "CLONE_NEWPID"),
    (libc::CLONE_NEWNET as u64, "CLONE_NEWNET"),
    (libc::CLONE_NEWCGROUP as u64, "CLONE_NEWCGROUP"),
    (0x80, "CLONE_NEWTIME"),
];

/// Everything a stage may ask of the kernel.
///
/// Each method is one syscall (or one tiny, named sequence such as
/// open+write+close for [`Sys::write_file`]); the real implementation is
/// [`Linux`], the test double is [`Recording`].
pub trait Sys {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: u64,
        data: Option<&str>,
    ) -> SysResult<()>;
    fn umount2(&self, target: &Path, flags: i32) -> SysResult<()>;
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> SysResult<()>;
    fn chdir(&self, path: &Path) -> SysResult<()>;
    fn fchdir(&self, fd: RawFd, shown_as: &Path) -> SysResult<()>;
    fn chroot(&self, path: &Path) -> SysResult<()>;
    fn mkdir(&self, path: &Path, mode: u32) -> SysResult<()>;
    fn mknod(&self, path: &Path, kind: u32, mode: u32, major: u64, minor: u64) -> SysResult<()>;
    fn chown(&self, path: &Path, uid: u32, gid: u32) -> SysResult<()>;
    fn chmod(&self, path: &Path, mode: u32) -> SysResult<()>;
    fn symlink(&self, target: &Path, link: &Path) -> SysResult<()>;
    fn create_file(&self, path: &Path, mode: u32) -> SysResult<()>;
    /// open(O_WRONLY|O_TRUNC) + write + close; for /proc and cgroup files.
    fn write_file(&self, path: &Path, data: &str) -> SysResult<()>;
    fn sethostname(&self, name: &str) -> SysResult<()>;
    fn setdomainname(&self, name: &str) -> SysResult<()>;
    fn unshare(&self, flags: i32) -> SysResult<()>;
    fn setns(&self, fd: RawFd, nstype: i32, shown_as: &str) -> SysResult<()>;
    fn setrlimit(&self, resource: u32, name: &str, soft: u64, hard: u64) -> SysResult<()>;
    fn setgroups(&self, gids: &[u32]) -> SysResult<()>;
    fn setresgid(&self, gid: u32) -> SysResult<()>;
    fn setresuid(&self, uid: u32) -> SysResult<()>;
    fn umask(&self, mask: u32) -> SysResult<u32>;
    fn prctl(&self, option: i32, name: &str, arg2: u64, arg3: u64) -> SysResult<i32>;
    fn capset(&self, effective: u64, permitted: u64, inheritable: u64) -> SysResult<()>;
    fn setsid(&self) -> SysResult<i32>;
    fn close_range(&self, first: u32, last: u32, flags: u32) -> SysResult<()>;
    /// open(O_DIRECTORY|O_RDONLY|O_CLOEXEC): a handle on a directory.
    fn open_dir(&self, path: &Path) -> SysResult<RawFd>;
    fn close(&self, fd: RawFd) -> SysResult<()>;
    fn unlink(&self, path: &Path) -> SysResult<()>;
}

/// The real kernel.
pub struct Linux;

fn errno_of(r: libc::c_int) -> Result<(), Errno> {
    if r == -1 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

impl Sys for Linux {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: u64,
        data: Option<&str>,
    ) -> SysResult<()> {
        call(
            "mount",
            || {
                format!(
                    "{}, {}, {}, {}, {}",
                    source.map(q).unwrap_or_else(|| "NULL".into()),
                    q(target),
                    qo(fstype),
                    flag_names(flags, MOUNT_FLAGS),
                    qo(data)
                )
            },
            || {
                let src = source.map(cstr).transpose()?;
                let tgt = cstr(target)?;
                let fst = fstype
                    .map(|s| CString::new(s).map_err(|_| Errno::EINVAL))
                    .transpose()?;
                let dat = data
                    .map(|s| CString::new(s).map_err(|_| Errno::EINVAL))
                    .transpose()?;
                // SAFETY: all pointers are valid NUL-terminated strings or NULL
                // and live until the call returns.
                errno_of(unsafe {
                    libc::mount(
                        src.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
                        tgt.as_ptr(),
                        fst.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
                        flags as libc::c_ulong,
                        dat.as_ref()
                            .map_or(std::ptr::null(), |s| s.as_ptr() as *const libc::c_void),
                    )
                })
            },
        )
    }

    fn umount2(&self, target: &Path, flags: i32) -> SysResult<()> {
        call(
            "umount2",
            || {
                format!(
                    "{}, {}",
                    q(target),
                    if flags & libc::MNT_DETACH != 0 {
                        "MNT_DETACH".to_string()
                    } else {
                        flags.to_string()
                    }
                )
            },
            || {
                let t = cstr(target)?;
                // SAFETY: valid C string.
                errno_of(unsafe { libc::umount2(t.as_ptr(), flags) })
            },
        )
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> SysResult<()> {
        call(
            "pivot_root",
            || format!("{}, {}", q(new_root), q(put_old)),
            || {
                let n = cstr(new_root)?;
                let o = cstr(put_old)?;
                // SAFETY: valid C strings; pivot_root has no libc wrapper.
                errno_of(
                    unsafe { libc::syscall(libc::SYS_pivot_root, n.as_ptr(), o.as_ptr()) }
                        as libc::c_int,
                )
            },
        )
    }

    fn chdir(&self, path: &Path) -> SysResult<()> {
        call("chdir", || q(path), || nix::unistd::chdir(path))
    }

    fn fchdir(&self, fd: RawFd, shown_as: &Path) -> SysResult<()> {
        call(
            "fchdir",
            || format!("{fd} /* {} */", shown_as.display()),
            // SAFETY: plain syscall on an fd we own.
            || errno_of(unsafe { libc::fchdir(fd) }),
        )
    }

    fn chroot(&self, path: &Path) -> SysResult<()> {
        call("chroot", || q(path), || nix::unistd::chroot(path))
    }

    fn mkdir(&self, path: &Path, mode: u32) -> SysResult<()> {
        call(
            "mkdir",
            || format!("{}, {mode:#o}", q(path)),
            || {
                let p = cstr(path)?;
                // SAFETY: valid C string.
                errno_of(unsafe { libc::mkdir(p.as_ptr(), mode) })
            },
        )
    }

    fn mknod(&self, path: &Path, kind: u32, mode: u32, major: u64, minor: u64) -> SysResult<()> {
        call(
            "mknod",
            || {
                let k = match kind {
                    libc::S_IFCHR => "S_IFCHR",
                    libc::S_IFBLK => "S_IFBLK",
                    libc::S_IFIFO => "S_IFIFO",
                    _ => "S_IF?",
                };
                format!("{}, {k}|{mode:#o}, makedev({major}, {minor})", q(path))
            },
            || {
                let p = cstr(path)?;
                // SAFETY: valid C string.
                errno_of(unsafe {
                    libc::mknod(
                        p.as_ptr(),
                        kind | mode,
                        libc::makedev(major as u32, minor as u32),
                    )
                })
            },
        )
    }

    fn chown(&self, path: &Path, uid: u32, gid: u32) -> SysResult<()> {
        call(
            "chown",
            || format!("{}, {uid}, {gid}", q(path)),
            || {
                let p = cstr(path)?;
                // SAFETY: valid C string.
                errno_of(unsafe { libc::chown(p.as_ptr(), uid, gid) })
            },
        )
    }

    fn chmod(&self, path: &Path, mode: u32) -> SysResult<()> {
        call(
            "chmod",
            || format!("{}, {mode:#o}", q(path)),
            || {
                let p = cstr(path)?;
                // SAFETY: valid C string.
                errno_of(unsafe { libc::chmod(p.as_ptr(), mode) })
            },
        )
    }

    fn symlink(&self, target: &Path, link: &Path) -> SysResult<()> {
        call(
            "symlink",
            || format!("{}, {}", q(target), q(link)),
            || {
                let t = cstr(target)?;
                let l = cstr(link)?;
                // SAFETY: valid C strings.
                errno_of(unsafe { libc::symlink(t.as_ptr(), l.as_ptr()) })
            },
        )
    }

    fn create_file(&self, path: &Path, mode: u32) -> SysResult<()> {
        call(
            "open",
            || format!("{}, O_CREAT|O_WRONLY|O_CLOEXEC, {mode:#o}", q(path)),
            || {
                let p = cstr(path)?;
                // SAFETY: valid C string; fd closed right away.
                let fd = unsafe {
                    libc::open(
                        p.as_ptr(),
                        libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                        mode,
                    )
                };
                if fd < 0 {
                    return Err(Errno::last());
                }
                // SAFETY: fd was just opened by us.
                unsafe { libc::close(fd) };
                Ok(())
            },
        )
    }

    fn write_file(&self, path: &Path, data: &str) -> SysResult<()> {
        call(
            "write",
            || format!("{} <- {:?}", q(path), data),
            || {
                use std::io::Write;
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .truncate(true)
                    .open(path)
                    .map_err(io_errno)?;
                f.write_all(data.as_bytes()).map_err(io_errno)
            },
        )
    }

    fn sethostname(&self, name: &str) -> SysResult<()> {
        call(
            "sethostname",
            || format!("{name:?}, {}", name.len()),
            || nix::unistd::sethostname(name),
        )
    }

    fn setdomainname(&self, name: &str) -> SysResult<()> {
        call(
            "setdomainname",
            || format!("{name:?}, {}", name.len()),
            || {
                let c = CString::new(name).map_err(|_| Errno::EINVAL)?;
                // SAFETY: valid buffer of the given length.
                errno_of(unsafe { libc::setdomainname(c.as_ptr(), name.len()) })
            },
        )
    }

    fn unshare(&self, flags: i32) -> SysResult<()> {
        call(
            "unshare",
            || flag_names(flags as u64, CLONE_FLAGS),
            // SAFETY: plain syscall.
            || errno_of(unsafe { libc::unshare(flags) }),
        )
    }

    fn setns(&self, fd: RawFd, nstype: i32, shown_as: &str) -> SysResult<()> {
        call(
            "setns",
            || {
                format!(
                    "{fd} /* {shown_as} */, {}",
                    flag_names(nstype as u64, CLONE_FLAGS)
                )
            },
            // SAFETY: plain syscall on an fd we own.
            || errno_of(unsafe { libc::setns(fd, nstype) }),
        )
    }

    fn setrlimit(&self, resource: u32, name: &str, soft: u64, hard: u64) -> SysResult<()> {
        call(
            "prlimit64",
            || {
                format!(
                    "0, {name}, {{rlim_cur={}, rlim_max={}}}, NULL",
                    rl(soft),
                    rl(hard)
                )
            },
            || {
                let lim = libc::rlimit {
                    rlim_cur: soft,
                    rlim_max: hard,
                };
                // SAFETY: valid pointer to an rlimit.
                errno_of(unsafe { libc::prlimit(0, resource as _, &lim, std::ptr::null_mut()) })
            },
        )
    }

    fn setgroups(&self, gids: &[u32]) -> SysResult<()> {
        call(
            "setgroups",
            || format!("{}, {gids:?}", gids.len()),
            // SAFETY: pointer and length describe the slice.
            || errno_of(unsafe { libc::setgroups(gids.len(), gids.as_ptr()) }),
        )
    }

    fn setresgid(&self, gid: u32) -> SysResult<()> {
        call(
            "setresgid",
            || format!("{gid}, {gid}, {gid}"),
            // SAFETY: plain syscall.
            || errno_of(unsafe { libc::setresgid(gid, gid, gid) }),
        )
    }

    fn setresuid(&self, uid: u32) -> SysResult<()> {
        call(
            "setresuid",
            || format!("{uid}, {uid}, {uid}"),
            // SAFETY: plain syscall.
            || errno_of(unsafe { libc::setresuid(uid, uid, uid) }),
        )
    }

    fn umask(&self, mask: u32) -> SysResult<u32> {
        // SAFETY: umask cannot fail.
        call(
            "umask",
            || format!("{mask:#o}"),
            || Ok(Mode(unsafe { libc::umask(mask) })),
        )
        .map(|m| m.0)
    }

    fn prctl(&self, option: i32, name: &str, arg2: u64, arg3: u64) -> SysResult<i32> {
        call(
            "prctl",
            || format!("{name}, {arg2}, {arg3}"),
            || {
                // SAFETY: integer-only prctl options.
                let r = unsafe { libc::prctl(option, arg2, arg3, 0u64, 0u64) };
                if r < 0 {
                    Err(Errno::last())
                } else {
                    Ok(r)
                }
            },
        )
    }

    fn capset(&self, effective: u64, permitted: u64, inheritable: u64) -> SysResult<()> {
        call(
            "capset",
            || {
                format!(
                    "{{version=_LINUX_CAPABILITY_VERSION_3, pid=0}}, {{effective={effective:#x}, permitted={permitted:#x}, inheritable={inheritable:#x}}}"
                )
            },
            || {
                #[repr(C)]
                struct Header {
                    version: u32,
                    pid: i32,
                }
                #[repr(C)]
                #[derive(Clone, Copy)]
                struct Data {
                    effective: u32,
                    permitted: u32,
                    inheritable: u32,
                }
                let hdr = Header {
                    version: 0x2008_0522,
                    pid: 0,
                };
                let data = [
                    Data {
                        effective: effective as u32,
                        permitted: permitted as u32,
                        inheritable: inheritable as u32,
                    },
                    Data {
                        effective: (effective >> 32) as u32,
                        permitted: (permitted >> 32) as u32,
                        inheritable: (inheritable >> 32) as u32,
                    },
                ];
                // SAFETY: header and two data structs as capset(2) requires.
                errno_of(unsafe { libc::syscall(libc::SYS_capset, &hdr, data.as_ptr()) } as i32)
            },
        )
    }

    fn setsid(&self) -> SysResult<i32> {
        call("setsid", String::new, || {
            nix::unistd::setsid().map(|p| p.as_raw())
        })
    }

    fn close_range(&self, first: u32, last: u32, flags: u32) -> SysResult<()> {
        call(
            "close_range",
            || {
                format!(
                    "{first}, {}, {}",
                    if last == u32::MAX {
                        "~0U".to_string()
                    } else {
                        last.to_string()
                    },
                    if flags == libc::CLOSE_RANGE_CLOEXEC {
                        "CLOSE_RANGE_CLOEXEC".to_string()
                    } else {
                        flags.to_string()
                    }
                )
            },
            // SAFETY: plain syscall.
            || errno_of(unsafe { libc::syscall(libc::SYS_close_range, first, last, flags) } as i32),
        )
    }

    fn open_dir(&self, path: &Path) -> SysResult<RawFd> {
        call(
            "open",
            || format!("{}, O_DIRECTORY|O_RDONLY|O_CLOEXEC", q(path)),
            || {
                let p = cstr(path)?;
                // SAFETY: valid C string.
                let fd = unsafe {
                    libc::open(
                        p.as_ptr(),
                        libc::O_DIRECTORY | libc::O_RDONLY | libc::O_CLOEXEC,
                    )
                };
                if fd < 0 {
                    Err(Errno::last())
                } else {
                    Ok(fd)
                }
            },
        )
    }

    fn close(&self, fd: RawFd) -> SysResult<()> {
        // SAFETY: closing an fd this process opened through open_dir.
        call(
            "close",
            || fd.to_string(),
            || errno_of(unsafe { libc::close(fd) }),
        )
    }

    fn unlink(&self, path: &Path) -> SysResult<()> {
        call("unlink", || q(path), || nix::unistd::unlink(path))
    }
}

fn rl(v: u64) -> String {
    if v == libc::RLIM_INFINITY {
        "RLIM_INFINITY".into()
    } else {
        v.to_string()
    }
}

/// The errno inside an `io::Error` (EIO when it has none).
pub fn io_errno(e: std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// The recording double: writes every call down as one line, in the form the
/// trace shows, and returns success (or the errno it was told to fail with).
#[derive(Default)]
pub struct Recording {
    pub calls: RefCell<Vec<String>>,
    /// Fail the first call whose rendered line starts with this prefix.
    pub fail: RefCell<Option<(String, Errno)>>,
}

impl Recording {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn failing(prefix: &str, errno: Errno) -> Self {
        let r = Self::default();
        *r.fail.borrow_mut() = Some((prefix.to_string(), errno));
        r
    }
    pub fn lines(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }
    fn rec<T: ShowRet + Default>(&self, name: &'static str, args: String) -> SysResult<T> {
        let line = format!("{name}({args})");
        self.calls.borrow_mut().push(line.clone());
        let fail = {
            let f = self.fail.borrow();
            f.as_ref()
                .filter(|(p, _)| line.starts_with(p.as_str()))
                .map(|(_, e)| *e)
        };
        if fail.is_some() {
            *self.fail.borrow_mut() = None;
        }
        call(
            name,
            || args,
            || match fail {
                Some(e) => Err(e),
                None => Ok(T::default()),
            },
        )
    }
}

impl Sys for Recording {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: u64,
        data: Option<&str>,
    ) -> SysResult<()> {
        self.rec(
            "mount",
            format!(
                "{}, {}, {}, {}, {}",
                source.map(q).unwrap_or_else(|| "NULL".into()),
                q(target),
                qo(fstype),
                flag_names(flags, MOUNT_FLAGS),
                qo(data)
            ),
        )
    }
    fn umount2(&self, target: &Path, flags: i32) -> SysResult<()> {
        self.rec("umount2", format!("{}, {flags}", q(target)))
    }
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> SysResult<()> {
        self.rec("pivot_root", format!("{}, {}", q(new_root), q(put_old)))
    }
    fn chdir(&self, path: &Path) -> SysResult<()> {
        self.rec("chdir", q(path))
    }
    fn fchdir(&self, fd: RawFd, shown_as: &Path) -> SysResult<()> {
        let _ = fd;
        self.rec("fchdir", format!("/* {} */", shown_as.display()))
    }
    fn chroot(&self, path: &Path) -> SysResult<()> {
        self.rec("chroot", q(path))
    }
    fn mkdir(&self, path: &Path, mode: u32) -> SysResult<()> {
        self.rec("mkdir", format!("{}, {mode:#o}", q(path)))
    }
    fn mknod(&self, path: &Path, kind: u32, mode: u32, major: u64, minor: u64) -> SysResult<()> {
        self.rec(
            "mknod",
            format!(
                "{}, {kind:#o}|{mode:#o}, makedev({major}, {minor})",
                q(path)
            ),
        )
    }
    fn chown(&self, path: &Path, uid: u32, gid: u32) -> SysResult<()> {
        self.rec("chown", format!("{}, {uid}, {gid}", q(path)))
    }
    fn chmod(&self, path: &Path, mode: u32) -> SysResult<()> {
        self.rec("chmod", format!("{}, {mode:#o}", q(path)))
    }
    fn symlink(&self, target: &Path, link: &Path) -> SysResult<()> {
        self.rec("symlink", format!("{}, {}", q(target), q(link)))
    }
    fn create_file(&self, path: &Path, mode: u32) -> SysResult<()> {
        self.rec(
            "open",
            format!("{}, O_CREAT|O_WRONLY|O_CLOEXEC, {mode:#o}", q(path)),
        )
    }
    fn write_file(&self, path: &Path, data: &str) -> SysResult<()> {
        self.rec("write", format!("{} <- {:?}", q(path), data))
    }
    fn sethostname(&self, name: &str) -> SysResult<()> {
        self.rec("sethostname", format!("{name:?}, {}", name.len()))
    }
    fn setdomainname(&self, name: &str) -> SysResult<()> {
        self.rec("setdomainname", format!("{name:?}, {}", name.len()))
    }
    fn unshare(&self, flags: i32) -> SysResult<()> {
        self.rec("unshare", flag_names(flags as u64, CLONE_FLAGS))
    }
    fn setns(&self, _fd: RawFd, nstype: i32, shown_as: &str) -> SysResult<()> {
        self.rec(
            "setns",
            format!(
                "/* {shown_as} */, {}",
                flag_names(nstype as u64, CLONE_FLAGS)
            ),
        )
    }
    fn setrlimit(&self, _resource: u32, name: &str, soft: u64, hard: u64) -> SysResult<()> {
        self.rec(
            "prlimit64",
            format!(
                "0, {name}, {{rlim_cur={}, rlim_max={}}}, NULL",
                rl(soft),
                rl(hard)
            ),
        )
    }
    fn setgroups(&self, gids: &[u32]) -> SysResult<()> {
        self.rec("setgroups", format!("{}, {gids:?}", gids.len()))
    }
    fn setresgid(&self, gid: u32) -> SysResult<()> {
        self.rec("setresgid", format!("{gid}, {gid}, {gid}"))
    }
    fn setresuid(&self, uid: u32) -> SysResult<()> {
        self.rec("setresuid", format!("{uid}, {uid}, {uid}"))
    }
    fn umask(&self, mask: u32) -> SysResult<u32> {
        self.rec("umask", format!("{mask:#o}"))
    }
    fn prctl(&self, _option: i32, name: &str, arg2: u64, arg3: u64) -> SysResult<i32> {
        self.rec("prctl", format!("{name}, {arg2}, {arg3}"))
    }
    fn capset(&self, effective: u64, permitted: u64, inheritable: u64) -> SysResult<()> {
        self.rec(
            "capset",
            format!("{{effective={effective:#x}, permitted={permitted:#x}, inheritable={inheritable:#x}}}"),
        )
    }
    fn setsid(&self) -> SysResult<i32> {
        self.rec("setsid", String::new())
    }
    fn close_range(&self, first: u32, last: u32, flags: u32) -> SysResult<()> {
        self.rec("close_range", format!("{first}, {last:#x}, {flags}"))
    }
    fn open_dir(&self, path: &Path) -> SysResult<RawFd> {
        self.rec::<i32>(
            "open",
            format!("{}, O_DIRECTORY|O_RDONLY|O_CLOEXEC", q(path)),
        )
        .map(|_| 100)
    }
    fn close(&self, fd: RawFd) -> SysResult<()> {
        let _ = fd;
        self.rec("close", "100".into())
    }
    fn unlink(&self, path: &Path) -> SysResult<()> {
        self.rec("unlink", q(path))
    }
}

/// Join `unsafe_path` onto `root` the way the kernel would resolve it if
/// `root` were `/`: `..` stops at the root and symlinks are followed *inside*
/// the root, never out of it (a container could otherwise point a mount
/// destination at the host's /etc). Missing components are kept as they are.
pub fn secure_join(root: &Path, unsafe_path: &Path) -> PathBuf {
    use std::path::Component;
    let mut parts: Vec<std::ffi::OsString> = Vec::new();
    let mut todo: Vec<std::ffi::OsString> = unsafe_path
        .components()
        .rev()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    let mut links = 0;
    while let Some(part) = todo.pop() {
        if part == ".." {
            parts.pop();
            continue;
        }
        let mut cand = root.to_path_buf();
        cand.extend(parts.iter());
        cand.push(&part);
        match std::fs::symlink_metadata(&cand) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > 255 {
                    parts.push(part);
                    continue;
                }
                let target = std::fs::read_link(&cand).unwrap_or_default();
                if target.is_absolute() {
                    parts.clear();
                }
                for c in target.components().rev() {
                    match c {
                        Component::Normal(s) => todo.push(s.to_os_string()),
                        Component::ParentDir => todo.push("..".into()),
                        _ => {}
                    }
                }
            }
            _ => parts.push(part),
        }
    }
    let mut out = root.to_path_buf();
    out.extend(parts.iter());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_render_like_strace() {
        assert_eq!(
            flag_names(libc::MS_BIND | libc::MS_REC, MOUNT_FLAGS),
            "MS_BIND|MS_REC"
        );
        assert_eq!(flag_names(0, MOUNT_FLAGS), "0");
    }

    #[test]
    fn recording_double_records_and_fails_on_demand() {
        let r = Recording::failing("pivot_root", Errno::EINVAL);
        r.chdir(Path::new("/c1/rootfs")).unwrap();
        let e = r.pivot_root(Path::new("."), Path::new(".")).unwrap_err();
        assert_eq!(e.errno, Errno::EINVAL);
        assert_eq!(e.syscall, "pivot_root");
        assert_eq!(
            r.lines(),
            vec!["chdir(\"/c1/rootfs\")", "pivot_root(\".\", \".\")"]
        );
    }

    #[test]
    fn secure_join_stays_inside_root() {
        let d = std::env::temp_dir().join(format!("learnrt-sj-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("etc")).unwrap();
        std::os::unix::fs::symlink("/etc", d.join("evil")).unwrap();
        std::os::unix::fs::symlink("../../../..", d.join("up")).unwrap();
        assert_eq!(
            secure_join(&d, Path::new("/evil/passwd")),
            d.join("etc/passwd")
        );
        assert_eq!(secure_join(&d, Path::new("/up/etc")), d.join("etc"));
        assert_eq!(secure_join(&d, Path::new("../../x")), d.join("x"));
        std::fs::remove_dir_all(&d).unwrap();
    }
}

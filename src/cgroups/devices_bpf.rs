//! cgroup v2 device rules: a tiny eBPF program the kernel runs at every
//! open and mknod of a device node.
//!
//! cgroup v1 had a `devices` controller with `devices.allow` / `devices.deny`
//! files. cgroup v2 has no such files: instead a program of type
//! `BPF_PROG_TYPE_CGROUP_DEVICE` is attached to the cgroup, and the kernel
//! calls it with a `struct bpf_cgroup_dev_ctx`:
//!
//! ```text
//! struct bpf_cgroup_dev_ctx {
//!     __u32 access_type;  // low 16 bits: BPF_DEVCG_DEV_BLOCK=1 / _CHAR=2
//!                         // high 16 bits: ACC_MKNOD=1 | ACC_READ=2 | ACC_WRITE=4
//!     __u32 major;
//!     __u32 minor;
//! };
//! ```
//!
//! The program returns 1 (allow) or 0 (deny: the syscall fails with EPERM).
//!
//! What this file does, in order:
//!
//! 1. [`oci_rules`]: the config's `linux.resources.devices`, followed by the
//!    devices every container needs (the same list the v1 path writes), on
//!    top of "deny everything" — runc's semantics, list processed in order,
//!    later rules win.
//! 2. [`compile`]: turn the rules into eBPF instructions we assemble
//!    ourselves (no libbpf). For each kind of access the process asks for
//!    (mknod, read, write) the *last* rule that names this device and this
//!    access decides; the request is allowed only if every kind is.
//! 3. [`install`]: `bpf(BPF_PROG_LOAD)`, then `bpf(BPF_PROG_ATTACH)` on the
//!    cgroup directory, atomically replacing a program we attached before
//!    (`BPF_F_REPLACE`), so `update` never opens a window without rules.
//!
//! Every syscall goes through [`crate::sys::call`], so `--explain` shows it.

use std::collections::BTreeSet;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::errno::Errno;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use super::error::show_errno;
use super::CgroupError;
use crate::explain::step::{Actor, Step};
use crate::sys::{call, q};

/// Stage 4: the device rules, as an eBPF program attached to the cgroup.
pub const DEVICES_BPF: Step = Step {
    id: "cgroups.devices",
    stage: 4,
    title: "compile the device rules into an eBPF program, attach it to the cgroup",
    why: "Device nodes are doors into drivers: /dev/sda is the host's disk, /dev/mem its memory. \
          cgroup v1 had devices.allow/devices.deny files; cgroup v2 has none. Instead the kernel \
          asks a tiny BPF program, attached to the container's cgroup, at every open and mknod \
          of a device node: \"char 1:3, read+write?\" — it answers 1 (allow) or 0 (EPERM). The \
          runtime writes that program from linux.resources.devices, loads it with bpf(2) and \
          attaches it to the cgroup directory.",
    man: &["bpf(2)", "cgroups(7)"],
    shell: "bpftool prog load devfilter.o /sys/fs/bpf/devfilter type cgroup/dev && \
            bpftool cgroup attach /sys/fs/cgroup/learnrt/c1 device pinned /sys/fs/bpf/devfilter multi",
    config: &["linux.resources.devices"],
    look: &[
        "bpftool cgroup tree /sys/fs/cgroup",
        "bpftool prog dump xlated id <id shown above>",
    ],
    actor: Actor::Runtime,
};

// ---------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------

/// `BPF_DEVCG_ACC_*`: what the process asks for (high 16 bits of access_type).
pub const ACC_MKNOD: u8 = 1;
pub const ACC_READ: u8 = 2;
pub const ACC_WRITE: u8 = 4;
/// `BPF_DEVCG_DEV_*`: which kind of device (low 16 bits of access_type).
pub const DEV_BLOCK: i32 = 1;
pub const DEV_CHAR: i32 = 2;

/// Which devices a rule is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevType {
    /// `a`: char and block devices.
    All,
    /// `c`
    Char,
    /// `b`
    Block,
}

impl DevType {
    /// The kernel's code for a concrete type (`None` for `a`).
    fn code(self) -> Option<i32> {
        match self {
            DevType::All => None,
            DevType::Char => Some(DEV_CHAR),
            DevType::Block => Some(DEV_BLOCK),
        }
    }
    fn letter(self) -> char {
        match self {
            DevType::All => 'a',
            DevType::Char => 'c',
            DevType::Block => 'b',
        }
    }
}

/// One device rule. `None` for major/minor means "any" (`*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub allow: bool,
    pub typ: DevType,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// `ACC_*` bits.
    pub access: u8,
}

impl Rule {
    /// `Rule::allow("c 1:3 rwm")`: the v1 `devices.allow` syntax.
    pub fn allow(s: &str) -> Rule {
        Self::parse(true, s).unwrap_or_else(|| panic!("bad device rule {s:?}"))
    }
    /// `Rule::deny("a")`, `Rule::deny("b 8:* w")`.
    pub fn deny(s: &str) -> Rule {
        Self::parse(false, s).unwrap_or_else(|| panic!("bad device rule {s:?}"))
    }

    /// Parse `type [major:minor [access]]` (`a` alone = `a *:* rwm`).
    pub fn parse(allow: bool, s: &str) -> Option<Rule> {
        let mut it = s.split_whitespace();
        let typ = match it.next()? {
            "a" => DevType::All,
            "c" => DevType::Char,
            "b" => DevType::Block,
            _ => return None,
        };
        let num = |v: &str| -> Option<Option<u32>> {
            if v == "*" {
                Some(None)
            } else {
                v.parse().ok().map(Some)
            }
        };
        let (major, minor) = match it.next() {
            None => (None, None),
            Some(mm) => {
                let (a, b) = mm.split_once(':')?;
                (num(a)?, num(b)?)
            }
        };
        let access = access_bits(it.next().unwrap_or("rwm"))?;
        if it.next().is_some() {
            return None;
        }
        Some(Rule {
            allow,
            typ,
            major,
            minor,
            access,
        })
    }

    /// Does this rule name every device `other` names (ignoring access)?
    fn covers_devices(&self, t: DevType, major: Option<u32>, minor: Option<u32>) -> bool {
        (self.typ == DevType::All || self.typ == t)
            && (self.major.is_none() || self.major == major)
            && (self.minor.is_none() || self.minor == minor)
    }

    fn is_unconditional(&self) -> bool {
        self.typ == DevType::All && self.major.is_none() && self.minor.is_none()
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = |v: Option<u32>| v.map_or("*".to_string(), |v| v.to_string());
        let acc: String = [(ACC_READ, 'r'), (ACC_WRITE, 'w'), (ACC_MKNOD, 'm')]
            .iter()
            .filter(|(b, _)| self.access & b != 0)
            .map(|(_, c)| *c)
            .collect();
        write!(
            f,
            "{} {} {}:{} {acc}",
            if self.allow { "allow" } else { "deny" },
            self.typ.letter(),
            n(self.major),
            n(self.minor)
        )
    }
}

fn access_bits(s: &str) -> Option<u8> {
    let mut bits = 0;
    for c in s.chars() {
        bits |= match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => return None,
        };
    }
    (bits != 0).then_some(bits)
}

/// The rules a container gets from its config, in order: the config's own
/// `linux.resources.devices`, then the devices every container needs (the
/// list the v1 path writes too, [`super::v1::DEFAULT_ALLOWED_DEVICES`]).
/// The base under all of them is "deny everything" ([`compile`] adds it).
///
/// Notes on odd entries (values were validated before):
/// * type `u` (unbuffered char) is a char device to the kernel;
/// * type `p` (FIFO) is dropped: the kernel never asks a device program
///   about FIFOs;
/// * major/minor -1 or absent = any; a number the kernel cannot produce
///   (over 2^31) makes the rule match nothing, so it is dropped.
pub fn oci_rules(devices: &[LinuxDeviceCgroup]) -> Vec<Rule> {
    let mut out = Vec::new();
    for d in devices {
        let typ = match d.typ().unwrap_or(LinuxDeviceType::A) {
            LinuxDeviceType::A => DevType::All,
            LinuxDeviceType::C | LinuxDeviceType::U => DevType::Char,
            LinuxDeviceType::B => DevType::Block,
            LinuxDeviceType::P => continue,
        };
        let num = |v: Option<i64>| -> Option<Option<u32>> {
            match v {
                None => Some(None),
                Some(v) if v < 0 => Some(None),
                Some(v) if v <= i64::from(i32::MAX) => Some(Some(v as u32)),
                Some(_) => None,
            }
        };
        let (Some(major), Some(minor)) = (num(d.major()), num(d.minor())) else {
            continue;
        };
        let Some(access) = access_bits(d.access().as_deref().unwrap_or("rwm")) else {
            continue;
        };
        out.push(Rule {
            allow: d.allow(),
            typ,
            major,
            minor,
            access,
        });
    }
    out.extend(
        super::v1::DEFAULT_ALLOWED_DEVICES
            .iter()
            .map(|r| Rule::allow(r)),
    );
    out
}

// ---------------------------------------------------------------------------
// eBPF instructions
// ---------------------------------------------------------------------------

/// One eBPF instruction, `struct bpf_insn` (8 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

// Opcodes we use (linux/bpf_common.h, linux/bpf.h).
const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const ALU32_MOV_X: u8 = 0xbc; // BPF_ALU | BPF_MOV | BPF_X
const ALU32_AND_K: u8 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const ALU32_RSH_K: u8 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
const ALU64_MOV_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const JMP_JA: u8 = 0x05; // BPF_JMP | BPF_JA
const JMP_JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const JMP_JSET_K: u8 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const JMP_EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

// Registers: r1 = ctx on entry; we unpack it into r2..r5.
const R0: u8 = 0;
const R1: u8 = 1;
const R_ACCESS: u8 = 2;
const R_TYPE: u8 = 3;
const R_MAJOR: u8 = 4;
const R_MINOR: u8 = 5;

impl Insn {
    const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            dst,
            src,
            off,
            imm,
        }
    }

    /// The kernel's byte layout: code, dst_reg:4 | src_reg:4, off, imm
    /// (little-endian bitfields: dst in the low nibble).
    pub fn encode(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = self.code;
        b[1] = (self.dst & 0x0f) | (self.src << 4);
        b[2..4].copy_from_slice(&self.off.to_ne_bytes());
        b[4..8].copy_from_slice(&self.imm.to_ne_bytes());
        b
    }

    /// One line in bpftool's "xlated" style.
    pub fn show(&self, pc: usize) -> String {
        let (d, s, off, imm) = (self.dst, self.src, self.off, self.imm);
        let tgt = pc as i64 + 1 + i64::from(off);
        let text = match self.code {
            LDX_MEM_W => format!("r{d} = *(u32 *)(r{s} +{off})"),
            ALU32_MOV_X => format!("w{d} = w{s}"),
            ALU32_AND_K => format!("w{d} &= {imm:#x}"),
            ALU32_RSH_K => format!("w{d} >>= {imm}"),
            ALU64_MOV_K => format!("r{d} = {imm}"),
            JMP_JA => format!("goto pc{off:+} -> {tgt}"),
            JMP_JNE_K => format!("if r{d} != {imm:#x} goto pc{off:+} -> {tgt}"),
            JMP_JSET_K => format!("if r{d} & {imm:#x} goto pc{off:+} -> {tgt}"),
            JMP_EXIT => "exit".to_string(),
            c => format!("code {c:#04x} dst r{d} src r{s} off {off} imm {imm}"),
        };
        format!("{pc:3}: ({:02x}) {text}", self.code)
    }
}

/// The whole program as text, one instruction a line.
pub fn disassemble(prog: &[Insn]) -> Vec<String> {
    prog.iter().enumerate().map(|(pc, i)| i.show(pc)).collect()
}

/// A tiny assembler: forward jumps to labels, patched at the end.
#[derive(Default)]
struct Asm {
    insns: Vec<Insn>,
    labels: Vec<Option<usize>>,
    fixups: Vec<(usize, usize)>,
}

impl Asm {
    fn label(&mut self) -> usize {
        self.labels.push(None);
        self.labels.len() - 1
    }
    fn bind(&mut self, l: usize) {
        self.labels[l] = Some(self.insns.len());
    }
    fn emit(&mut self, i: Insn) {
        self.insns.push(i);
    }
    /// A jump whose `off` points at label `l`.
    fn jump(&mut self, mut i: Insn, l: usize) {
        self.fixups.push((self.insns.len(), l));
        i.off = 0;
        self.insns.push(i);
    }
    fn referenced(&self, l: usize) -> bool {
        self.fixups.iter().any(|&(_, x)| x == l)
    }
    fn finish(mut self) -> Vec<Insn> {
        for (pc, l) in self.fixups {
            let at = self.labels[l].expect("jump to a label that was never placed");
            self.insns[pc].off = i16::try_from(at as i64 - pc as i64 - 1)
                .expect("device program too long for a 16-bit jump");
        }
        self.insns
    }
}

/// Does some rule in `seen` name every device `r` names? (The kernel only
/// asks about char and block devices, so `a` is covered when both are.)
fn shadowed(seen: &[Rule], r: &Rule) -> bool {
    let types: &[DevType] = match r.typ {
        DevType::All => &[DevType::Char, DevType::Block],
        DevType::Char => &[DevType::Char],
        DevType::Block => &[DevType::Block],
    };
    types
        .iter()
        .all(|&t| seen.iter().any(|s| s.covers_devices(t, r.major, r.minor)))
}

/// Compile `rules` (on top of "deny everything"; later rules win) into a
/// `BPF_PROG_TYPE_CGROUP_DEVICE` program.
///
/// Shape of the program:
///
/// ```text
///   r2 = access (ctx->access_type >> 16)   r3 = type (ctx->access_type & 0xffff)
///   r4 = ctx->major                        r5 = ctx->minor
///   for each access kind K in mknod, read, write:
///       if the request does not contain K: go to the next kind
///       for each rule naming K, LAST rule first:
///           if type/major/minor differ: try the next rule
///           allow -> next kind     deny -> return 0
///       no rule named it: return 0 (the base is "deny everything")
///   return 1
/// ```
///
/// A rule is left out when a later rule already names all of its devices
/// for this access kind (it could never decide anything), and a rule that
/// names every device ends the list.
pub fn compile(rules: &[Rule]) -> Vec<Insn> {
    let mut a = Asm::default();
    // Unpack the context once. 32-bit ALU ops zero the upper half, so the
    // 64-bit compares below see exactly the u32 the kernel gave us.
    a.emit(Insn::new(LDX_MEM_W, R_ACCESS, R1, 0, 0));
    a.emit(Insn::new(ALU32_MOV_X, R_TYPE, R_ACCESS, 0, 0));
    a.emit(Insn::new(ALU32_AND_K, R_TYPE, 0, 0, 0xffff));
    a.emit(Insn::new(ALU32_RSH_K, R_ACCESS, 0, 0, 16));
    a.emit(Insn::new(LDX_MEM_W, R_MAJOR, R1, 4, 0));
    a.emit(Insn::new(LDX_MEM_W, R_MINOR, R1, 8, 0));
    let deny = a.label();
    for kind in [ACC_MKNOD, ACC_READ, ACC_WRITE] {
        let next_kind = a.label();
        // Skip this block unless the request contains `kind`.
        a.emit(Insn::new(JMP_JSET_K, R_ACCESS, 0, 1, i32::from(kind)));
        a.jump(Insn::new(JMP_JA, 0, 0, 0, 0), next_kind);
        let mut seen: Vec<Rule> = Vec::new();
        let mut ended = false;
        for r in rules.iter().rev().filter(|r| r.access & kind != 0) {
            if shadowed(&seen, r) {
                continue;
            }
            seen.push(*r);
            let next_rule = a.label();
            let checks = [
                (R_TYPE, r.typ.code()),
                (R_MAJOR, r.major.map(|v| v as i32)),
                (R_MINOR, r.minor.map(|v| v as i32)),
            ];
            for (reg, want) in checks {
                if let Some(v) = want {
                    a.jump(Insn::new(JMP_JNE_K, reg, 0, 0, v), next_rule);
                }
            }
            if r.is_unconditional() {
                // Nothing after (= earlier in the config) can matter.
                if !r.allow {
                    a.jump(Insn::new(JMP_JA, 0, 0, 0, 0), deny);
                }
                // allow: fall through into the next kind.
                ended = true;
                a.bind(next_rule);
                break;
            }
            if r.allow {
                a.jump(Insn::new(JMP_JA, 0, 0, 0, 0), next_kind);
            } else {
                a.jump(Insn::new(JMP_JA, 0, 0, 0, 0), deny);
            }
            a.bind(next_rule);
        }
        if !ended {
            a.jump(Insn::new(JMP_JA, 0, 0, 0, 0), deny);
        }
        a.bind(next_kind);
    }
    a.emit(Insn::new(ALU64_MOV_K, R0, 0, 0, 1));
    a.emit(Insn::new(JMP_EXIT, 0, 0, 0, 0));
    // The verifier refuses unreachable code: only emit "deny" if used.
    if a.referenced(deny) {
        a.bind(deny);
        a.emit(Insn::new(ALU64_MOV_K, R0, 0, 0, 0));
        a.emit(Insn::new(JMP_EXIT, 0, 0, 0, 0));
    }
    a.finish()
}

// ---------------------------------------------------------------------------
// bpf(2)
// ---------------------------------------------------------------------------

// Commands, program and attach types (linux/bpf.h).
const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_DETACH: libc::c_int = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_int = 13;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_int = 15;
const BPF_PROG_QUERY: libc::c_int = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;
const BPF_F_REPLACE: u32 = 4;
/// statfs f_type of a cgroup2 mount.
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
/// The program's name in `bpftool prog list` (at most 15 bytes).
pub const PROG_NAME: &str = "learnrt_devices";
/// A non-GPL license is fine: the program calls no helper at all.
const LICENSE: &str = "Apache-2.0";

// `union bpf_attr`, one struct per command we use (the kernel zero-fills
// whatever lies beyond the size we pass).
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
}

#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

#[repr(C)]
#[derive(Default)]
struct GetFdByIdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

#[repr(C)]
#[derive(Default)]
struct InfoAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

/// The raw syscall: `bpf(cmd, attr, sizeof attr)`.
fn bpf<T>(cmd: libc::c_int, attr: &mut T) -> Result<i64, Errno> {
    // SAFETY: `attr` is a live, properly sized #[repr(C)] prefix of
    // union bpf_attr; any pointers inside it point to buffers the caller
    // keeps alive for the duration of the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r)
    }
}

fn owned(fd: i64) -> OwnedFd {
    // SAFETY: the kernel just returned this fd to us and nobody else owns it.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

fn bpf_error(what: &str, e: crate::sys::SysError, hint: &str) -> CgroupError {
    CgroupError::unsupported(
        "linux.resources.devices",
        format!(
            "{what}: {}({}): {} — {hint}",
            e.syscall,
            e.args,
            show_errno(e.errno)
        ),
    )
}

fn load_hint(errno: Errno) -> &'static str {
    match errno {
        Errno::EPERM | Errno::EACCES => {
            "loading a BPF program needs root (CAP_BPF and CAP_SYS_ADMIN); the verifier log, if any, follows"
        }
        Errno::EINVAL => {
            "the kernel does not know BPF_PROG_TYPE_CGROUP_DEVICE (CONFIG_CGROUP_BPF off?) or the verifier refused the program"
        }
        _ => "see bpf(2)",
    }
}

/// `bpf(BPF_PROG_LOAD)`: hand the instructions to the verifier; returns the
/// program's fd. On failure, load again with the verifier log on, so the
/// error says why.
pub fn load(prog: &[Insn]) -> Result<OwnedFd, CgroupError> {
    let bytes: Vec<u8> = prog.iter().flat_map(|i| i.encode()).collect();
    let license = CString::new(LICENSE).expect("no NUL");
    let mut name = [0u8; 16];
    name[..PROG_NAME.len()].copy_from_slice(PROG_NAME.as_bytes());
    let attr = |log: &mut Vec<u8>| ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: prog.len() as u32,
        insns: bytes.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: u32::from(!log.is_empty()),
        log_size: log.len() as u32,
        log_buf: if log.is_empty() {
            0
        } else {
            log.as_mut_ptr() as u64
        },
        prog_name: name,
        ..Default::default()
    };
    let shown = || {
        format!(
            "BPF_PROG_LOAD, {{prog_type=BPF_PROG_TYPE_CGROUP_DEVICE, insn_cnt={}, license={LICENSE:?}, prog_name={PROG_NAME:?}}}, {}",
            prog.len(),
            std::mem::size_of::<ProgLoadAttr>()
        )
    };
    let r = call("bpf", shown, || {
        bpf(BPF_PROG_LOAD, &mut attr(&mut Vec::new()))
    });
    match r {
        Ok(fd) => Ok(owned(fd)),
        Err(e) => {
            let mut log = vec![0u8; 64 * 1024];
            let mut a = attr(&mut log);
            // Load again with the log on, only to learn the verifier's reasons.
            let again = bpf(BPF_PROG_LOAD, &mut a);
            if let Ok(fd) = again {
                drop(owned(fd));
            }
            let text =
                String::from_utf8_lossy(&log[..log.iter().position(|&b| b == 0).unwrap_or(0)])
                    .trim()
                    .to_string();
            let mut err = bpf_error("load the device program", e.clone(), load_hint(e.errno));
            if !text.is_empty() {
                if let CgroupError::Unsupported { reason, .. } = &mut err {
                    reason.push_str("\nverifier log:\n");
                    reason.push_str(&text);
                }
            }
            Err(err)
        }
    }
}

/// `open(dir, O_DIRECTORY)` + `fstatfs`: a handle on a cgroup v2 directory,
/// refused if it is not on a cgroup2 filesystem (the only place a device
/// program can be attached).
fn open_cgroup2(dir: &Path) -> Result<OwnedFd, CgroupError> {
    let fd = call(
        "open",
        || format!("{}, O_RDONLY|O_DIRECTORY|O_CLOEXEC", q(dir)),
        || {
            let c = crate::sys::cstr(dir)?;
            // SAFETY: `c` is a valid NUL-terminated path.
            let r = unsafe {
                libc::open(
                    c.as_ptr(),
                    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
                )
            };
            if r < 0 {
                Err(Errno::last())
            } else {
                Ok(owned(i64::from(r)))
            }
        },
    )
    .map_err(|e| bpf_error("open the cgroup directory", e, "does the cgroup exist?"))?;
    let magic = call(
        "fstatfs",
        || format!("{}", fd.as_raw_fd()),
        || {
            nix::sys::statfs::fstatfs(&fd)
                // f_type's C type differs between architectures.
                .map(
                    #[allow(clippy::unnecessary_cast)]
                    |s| s.filesystem_type().0 as i64,
                )
                .map(ShowMagic)
        },
    )
    .map_err(|e| bpf_error("statfs the cgroup directory", e, "see statfs(2)"))?;
    if magic.0 != CGROUP2_SUPER_MAGIC {
        return Err(CgroupError::unsupported(
            "linux.resources.devices",
            format!(
                "{} is not on a cgroup2 filesystem (f_type {:#x}, want CGROUP2_SUPER_MAGIC {CGROUP2_SUPER_MAGIC:#x}); a BPF device program can only be attached to a cgroup v2 directory",
                dir.display(),
                magic.0
            ),
        ));
    }
    Ok(fd)
}

/// An fstatfs result, shown as the magic's name.
struct ShowMagic(i64);
impl crate::sys::ShowRet for ShowMagic {
    fn show_ret(&self) -> String {
        if self.0 == CGROUP2_SUPER_MAGIC {
            "0 {f_type=CGROUP2_SUPER_MAGIC}".into()
        } else {
            format!("0 {{f_type={:#x}}}", self.0)
        }
    }
}

/// `bpf(BPF_PROG_QUERY)`: ids of the device programs attached directly to
/// the cgroup behind `cg` (not the ones inherited from its parents).
fn query(cg: &OwnedFd) -> Result<Vec<u32>, CgroupError> {
    let mut ids = vec![0u32; 64];
    let mut attr = QueryAttr {
        target_fd: cg.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: ids.len() as u32,
        ..Default::default()
    };
    let n = call(
        "bpf",
        || {
            format!(
                "BPF_PROG_QUERY, {{target_fd={}, attach_type=BPF_CGROUP_DEVICE, prog_cnt={}}}",
                cg.as_raw_fd(),
                ids.len()
            )
        },
        || bpf(BPF_PROG_QUERY, &mut attr).map(|_| ProgCount(attr.prog_cnt)),
    )
    .map_err(|e| bpf_error("list the device programs", e, "see bpf(2)"))?;
    ids.truncate(n.0 as usize);
    Ok(ids)
}

/// BPF_PROG_QUERY returns 0 and writes the count into the attr.
struct ProgCount(u32);
impl crate::sys::ShowRet for ProgCount {
    fn show_ret(&self) -> String {
        format!("0 {{prog_cnt={}}}", self.0)
    }
}

/// Ids of the device programs attached directly to cgroup directory `dir`.
pub fn attached(dir: &Path) -> Result<Vec<u32>, CgroupError> {
    query(&open_cgroup2(dir)?)
}

fn fd_by_id(id: u32) -> Result<OwnedFd, CgroupError> {
    let mut attr = GetFdByIdAttr {
        prog_id: id,
        ..Default::default()
    };
    call(
        "bpf",
        || format!("BPF_PROG_GET_FD_BY_ID, {{prog_id={id}}}"),
        || bpf(BPF_PROG_GET_FD_BY_ID, &mut attr).map(owned),
    )
    .map_err(|e| bpf_error("open the old device program", e, "see bpf(2)"))
}

/// The kernel's id of a loaded program (`bpftool prog show id N`).
fn prog_id(prog: &OwnedFd) -> Result<u32, CgroupError> {
    // struct bpf_prog_info starts with: __u32 type; __u32 id;
    let mut info = [0u32; 2];
    let mut attr = InfoAttr {
        bpf_fd: prog.as_raw_fd() as u32,
        info_len: std::mem::size_of_val(&info) as u32,
        info: info.as_mut_ptr() as u64,
    };
    call(
        "bpf",
        || format!("BPF_OBJ_GET_INFO_BY_FD, {{bpf_fd={}}}", prog.as_raw_fd()),
        || bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr).map(|_| ()),
    )
    .map_err(|e| bpf_error("read the program's id", e, "see bpf(2)"))?;
    Ok(info[1])
}

fn attach(cg: &OwnedFd, prog: &OwnedFd, replace: Option<&OwnedFd>) -> Result<(), CgroupError> {
    let mut attr = AttachAttr {
        target_fd: cg.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI | replace.map_or(0, |_| BPF_F_REPLACE),
        replace_bpf_fd: replace.map_or(0, |f| f.as_raw_fd() as u32),
    };
    call(
        "bpf",
        || {
            let mut s = format!(
                "BPF_PROG_ATTACH, {{target_fd={}, attach_bpf_fd={}, attach_type=BPF_CGROUP_DEVICE, attach_flags=BPF_F_ALLOW_MULTI",
                cg.as_raw_fd(),
                prog.as_raw_fd()
            );
            if let Some(old) = replace {
                s.push_str(&format!("|BPF_F_REPLACE, replace_bpf_fd={}", old.as_raw_fd()));
            }
            s.push('}');
            s
        },
        || bpf(BPF_PROG_ATTACH, &mut attr).map(|_| ()),
    )
    .map_err(|e| {
        let hint = match e.errno {
            Errno::EPERM | Errno::EACCES => "attaching needs root (CAP_SYS_ADMIN)",
            Errno::EINVAL if replace.is_some() => {
                "the kernel lacks BPF_F_REPLACE (Linux < 5.6)"
            }
            Errno::EINVAL => "is this a cgroup v2 directory, and does the kernel have CONFIG_CGROUP_BPF?",
            _ => "see bpf(2)",
        };
        bpf_error("attach the device program", e, hint)
    })
}

fn detach(cg: &OwnedFd, prog: &OwnedFd, id: u32) -> Result<(), CgroupError> {
    let mut attr = AttachAttr {
        target_fd: cg.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    call(
        "bpf",
        || {
            format!(
                "BPF_PROG_DETACH, {{target_fd={}, attach_bpf_fd={} (id {id}), attach_type=BPF_CGROUP_DEVICE}}",
                cg.as_raw_fd(),
                prog.as_raw_fd()
            )
        },
        || bpf(BPF_PROG_DETACH, &mut attr).map(|_| ()),
    )
    .map_err(|e| bpf_error("detach the old device program", e, "see bpf(2)"))
}

/// Load `prog` and make it the only device program attached directly to
/// the cgroup directory `dir`. Returns the new program's id.
///
/// * nothing attached yet: attach with `BPF_F_ALLOW_MULTI`;
/// * one program (ours, from `create` or an earlier `update`): swap it for
///   the new one in one step with `BPF_F_REPLACE` — there is no moment
///   with no rules, nor with both;
/// * several (or a kernel without `BPF_F_REPLACE`): attach the new one,
///   then detach the old ones. In between both run, and a device must pass
///   both, so the window is stricter, never looser.
pub fn install(dir: &Path, prog: &[Insn]) -> Result<u32, CgroupError> {
    let cg = open_cgroup2(dir)?;
    let old = query(&cg)?;
    let new = load(prog)?;
    let id = prog_id(&new)?;
    let mut left: Vec<u32> = old.clone();
    if let [only] = old[..] {
        let old_fd = fd_by_id(only)?;
        match attach(&cg, &new, Some(&old_fd)) {
            Ok(()) => left.clear(),
            Err(_) => attach(&cg, &new, None)?,
        }
    } else {
        attach(&cg, &new, None)?;
    }
    let left: BTreeSet<u32> = left.into_iter().filter(|&o| o != id).collect();
    for o in left {
        let fd = fd_by_id(o)?;
        detach(&cg, &fd, o)?;
    }
    Ok(id)
}

/// The v2 half of `Cgroup::apply` for `linux.resources.devices`: compile,
/// then load + attach as the `cgroups.devices` stage.
pub(super) fn apply(dir: &Path, devices: &[LinuxDeviceCgroup]) -> Result<(), CgroupError> {
    let rules = oci_rules(devices);
    let prog = compile(&rules);
    let from = vec!["linux.resources.devices".to_string()];
    let mut failure = None;
    let r = crate::explain::run_stage(&DEVICES_BPF, &from, || {
        crate::explain::note(|| {
            let mut s = format!(
                "{} rules (deny everything first, later rules win) -> {} eBPF instructions:",
                rules.len(),
                prog.len()
            );
            for r in &rules {
                s.push_str(&format!("\n    {r}"));
            }
            s
        });
        match install(dir, &prog) {
            Ok(id) => {
                crate::explain::note(|| {
                    format!("device program id {id} attached to {}; see it with: bpftool prog dump xlated id {id}", dir.display())
                });
                Ok(())
            }
            Err(e) => {
                let m = crate::error::Error::new(DEVICES_BPF.id, e.to_string());
                failure = Some(e);
                Err(m)
            }
        }
    });
    match (r, failure) {
        (Ok(()), _) => Ok(()),
        (Err(_), Some(e)) => Err(e),
        (Err(e), None) => Err(CgroupError::unsupported(
            "linux.resources.devices",
            e.to_string(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run the program the way the kernel would, on one request.
    fn run(prog: &[Insn], typ: i32, access: u8, major: u32, minor: u32) -> bool {
        let ctx = [(u32::from(access) << 16) | typ as u32, major, minor];
        let mut r = [0u64; 11];
        r[1] = 0xdead_0000; // a "pointer" to ctx
        let mut pc = 0usize;
        for _ in 0..10_000 {
            let i = prog[pc];
            let (d, s) = (i.dst as usize, i.src as usize);
            pc += 1;
            match i.code {
                LDX_MEM_W => {
                    assert_eq!(r[s], 0xdead_0000);
                    r[d] = u64::from(ctx[i.off as usize / 4]);
                }
                ALU32_MOV_X => r[d] = r[s] & 0xffff_ffff,
                ALU32_AND_K => r[d] = (r[d] & i.imm as u32 as u64) & 0xffff_ffff,
                ALU32_RSH_K => r[d] = (r[d] as u32 >> i.imm) as u64,
                ALU64_MOV_K => r[d] = i.imm as i64 as u64,
                JMP_JA => pc = (pc as i64 + i64::from(i.off)) as usize,
                JMP_JNE_K => {
                    if r[d] != i.imm as i64 as u64 {
                        pc = (pc as i64 + i64::from(i.off)) as usize;
                    }
                }
                JMP_JSET_K => {
                    if r[d] & (i.imm as i64 as u64) != 0 {
                        pc = (pc as i64 + i64::from(i.off)) as usize;
                    }
                }
                JMP_EXIT => return r[0] == 1,
                c => panic!("unknown opcode {c:#x}"),
            }
        }
        panic!("program did not exit");
    }

    /// Every instruction reachable, every jump inside the program and
    /// forward (the verifier's rules that a generator can break).
    fn check_shape(prog: &[Insn]) {
        let mut reach = vec![false; prog.len()];
        let mut todo = vec![0usize];
        while let Some(pc) = todo.pop() {
            if reach[pc] {
                continue;
            }
            reach[pc] = true;
            let i = prog[pc];
            match i.code {
                JMP_EXIT => {}
                JMP_JA => {
                    assert!(i.off >= 0, "backward jump at {pc}");
                    todo.push(pc + 1 + i.off as usize);
                }
                JMP_JNE_K | JMP_JSET_K => {
                    assert!(i.off >= 0, "backward jump at {pc}");
                    todo.push(pc + 1);
                    todo.push(pc + 1 + i.off as usize);
                }
                _ => todo.push(pc + 1),
            }
        }
        assert!(
            reach.iter().all(|&r| r),
            "unreachable code:\n{}",
            disassemble(prog).join("\n")
        );
    }

    const C: i32 = DEV_CHAR;
    const B: i32 = DEV_BLOCK;
    const R: u8 = ACC_READ;
    const W: u8 = ACC_WRITE;
    const M: u8 = ACC_MKNOD;

    fn test_rules() -> Vec<Rule> {
        vec![
            Rule::deny("a"),
            Rule::allow("c 1:3 rwm"),
            Rule::allow("c 1:5 r"),
        ]
    }

    #[test]
    fn test_rules_allow_null_and_read_only_zero() {
        let p = compile(&test_rules());
        check_shape(&p);
        assert!(run(&p, C, R | W, 1, 3));
        assert!(run(&p, C, M, 1, 3));
        assert!(run(&p, C, R, 1, 5));
        assert!(!run(&p, C, W, 1, 5));
        assert!(!run(&p, C, R | W, 1, 5));
        assert!(!run(&p, C, M, 1, 5));
        assert!(!run(&p, C, R, 1, 7));
        assert!(!run(&p, B, R, 1, 3), "type matters");
        assert!(!run(&p, C, R, 0, 3));
    }

    #[test]
    fn later_rules_win() {
        // allow then deny: denied
        let p = compile(&[Rule::allow("c 1:5 rw"), Rule::deny("c 1:5 w")]);
        check_shape(&p);
        assert!(run(&p, C, R, 1, 5));
        assert!(!run(&p, C, W, 1, 5));
        assert!(
            !run(&p, C, R | W, 1, 5),
            "one denied kind denies the request"
        );
        // deny then allow: allowed
        let p = compile(&[Rule::deny("c 1:5 w"), Rule::allow("c 1:5 rw")]);
        assert!(run(&p, C, R | W, 1, 5));
        // an allow of everything, then a deny of one device
        let p = compile(&[Rule::allow("a"), Rule::deny("b 8:* w")]);
        check_shape(&p);
        assert!(run(&p, B, R, 8, 0));
        assert!(!run(&p, B, W, 8, 16));
        assert!(run(&p, B, W, 9, 0));
        assert!(run(&p, C, R | W | M, 4, 1));
    }

    #[test]
    fn access_kinds_add_up_across_rules() {
        // r from one rule, w from another: rw allowed (as the v1 kernel
        // merges rules for the same device)
        let p = compile(&[Rule::allow("c 1:5 r"), Rule::allow("c 1:5 w")]);
        assert!(run(&p, C, R | W, 1, 5));
        assert!(!run(&p, C, M, 1, 5));
    }

    #[test]
    fn wildcards() {
        let p = compile(&[Rule::allow("c 136:* rwm"), Rule::allow("b *:0 r")]);
        check_shape(&p);
        assert!(run(&p, C, R | W, 136, 0));
        assert!(run(&p, C, R | W, 136, 99));
        assert!(!run(&p, C, R, 137, 0));
        assert!(run(&p, B, R, 8, 0));
        assert!(run(&p, B, R, 259, 0));
        assert!(!run(&p, B, R, 8, 1));
        assert!(!run(&p, B, W, 8, 0));
        assert!(!run(&p, C, R, 8, 0));
    }

    #[test]
    fn empty_rules_deny_everything() {
        let p = compile(&[]);
        check_shape(&p);
        for (t, a) in [(C, R), (C, W), (C, M), (B, R | W)] {
            assert!(!run(&p, t, a, 1, 3));
        }
    }

    #[test]
    fn allow_all_is_a_short_program_with_no_deny_path() {
        // A "privileged" config: deny all, then allow all. Every earlier
        // rule is dead; the verifier would refuse the unused deny tail.
        let p = compile(&[Rule::deny("a"), Rule::allow("c 1:3 r"), Rule::allow("a")]);
        check_shape(&p);
        assert!(!disassemble(&p).iter().any(|l| l.contains("r0 = 0")));
        assert!(run(&p, B, R | W | M, 8, 0));
        assert_eq!(p.len(), 6 + 3 * 2 + 2, "{}", disassemble(&p).join("\n"));
    }

    #[test]
    fn shadowed_rules_are_left_out() {
        // "c 1:3 r" cannot decide anything once "c *:* r" follows.
        let with = compile(&[Rule::allow("c 1:3 r"), Rule::deny("c *:* r")]);
        let without = compile(&[Rule::deny("c *:* r")]);
        assert_eq!(with, without);
        // char + block wildcards together cover type "a"
        let p = compile(&[
            Rule::deny("a 1:3 m"),
            Rule::allow("c *:* m"),
            Rule::allow("b *:* m"),
        ]);
        let q = compile(&[Rule::allow("c *:* m"), Rule::allow("b *:* m")]);
        assert_eq!(p, q);
        assert!(run(&p, C, M, 1, 3));
    }

    #[test]
    fn oci_rules_append_the_defaults_and_map_types() {
        let devs: Vec<LinuxDeviceCgroup> = serde_json::from_value(serde_json::json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "u", "major": 10, "minor": -1, "access": "rw"},
            {"allow": true, "type": "p", "major": 1, "minor": 1},
            {"allow": true, "type": "b", "major": 8}
        ]))
        .unwrap();
        let r = oci_rules(&devs);
        let shown: Vec<String> = r.iter().map(|r| r.to_string()).collect();
        assert_eq!(
            shown[..3],
            ["deny a *:* rwm", "allow c 10:* rw", "allow b 8:* rwm"]
        );
        assert_eq!(r.len(), 3 + super::super::v1::DEFAULT_ALLOWED_DEVICES.len());
        let p = compile(&r);
        check_shape(&p);
        // the defaults: /dev/null, any mknod, the pty slaves; not /dev/sdb
        assert!(run(&p, C, R | W, 1, 3));
        assert!(run(&p, B, M, 8, 16));
        assert!(run(&p, C, R | W, 136, 4));
        assert!(run(&p, B, R | W, 8, 16));
        assert!(!run(&p, B, R, 9, 0));
        assert!(!run(&p, C, R, 4, 1), "/dev/tty1 is not a default");
    }

    #[test]
    fn encoding_matches_the_kernel_layout() {
        // r4 = *(u32 *)(r1 + 4): code 0x61, dst 4 (low nibble), src 1
        let i = Insn::new(LDX_MEM_W, 4, 1, 4, 0);
        assert_eq!(i.encode(), [0x61, 0x14, 4, 0, 0, 0, 0, 0]);
        let j = Insn::new(JMP_JNE_K, 5, 0, 3, 229);
        assert_eq!(j.encode(), [0x55, 0x05, 3, 0, 229, 0, 0, 0]);
        assert_eq!(Rule::parse(true, "c 1:3 rwx"), None);
        assert_eq!(Rule::parse(true, "x"), None);
    }

    #[test]
    fn step_is_in_the_catalog_after_cgroups() {
        let ids: Vec<&str> = crate::explain::catalog::ALL.iter().map(|s| s.id).collect();
        let i = ids.iter().position(|&s| s == "cgroups").unwrap();
        assert_eq!(ids[i + 1], DEVICES_BPF.id);
    }
}

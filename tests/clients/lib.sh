# shellcheck shell=bash
# Shared helpers for the real-client tests (docker.sh, podman.sh, containerd.sh).
#
# Each client script sources this file, calls `clients_init`, and then runs
# its checks with the helpers below. Everything a script creates lives in one
# temp dir ($T) inside a private mount namespace with its own tmpfs on /run:
# daemon sockets, data roots, pid files, shim sockets (/run/containerd/s is
# hard-coded in containerd's shims) and the runtime's default state dir
# (/run/learnrt, or /run/runc when validating with runc) never touch the host's.
#
# Environment:
#   LEARNRT          the runtime binary under test (required; runc's CLI)
#   BUSYBOX_ROOTFS   a ready busybox root filesystem dir; skips `$LEARNRT mkbundle`
#   CALLS_LOG        keep the log of every runtime call here (default: in $T)
#   KEEP_TMP=1       do not delete $T on exit (daemons are still stopped)
#   STEP_TIMEOUT     seconds one client command may take (default 60)
#
# Output: one `ok - ...` / `not ok - ...` line per check, then `N passed, N failed`.

set -u
set -o pipefail

: "${LEARNRT:?set LEARNRT to the runtime binary under test (a runc-compatible CLI)}"
LEARNRT=$(readlink -f "$LEARNRT")
STEP_TIMEOUT=${STEP_TIMEOUT:-60}
PASSED=0
FAILED=0
CLEANUPS=()
SCRIPT_NAME=$(basename "$0" .sh)

log() { printf '# %s\n' "$*"; }

# --- results ---------------------------------------------------------------

ok() {
    PASSED=$((PASSED + 1))
    printf 'ok - %s\n' "$1"
}

notok() {
    FAILED=$((FAILED + 1))
    printf 'not ok - %s\n' "$1"
    if [ -n "${2:-}" ]; then
        printf '%s\n' "$2" | head -n 40 | sed 's/^/#   /'
    fi
}

# run CMD... with the step timeout; stdout+stderr to $OUT, exit code to $RC
# (shell functions run without the timeout: `timeout` can only run programs)
run() {
    if [ "$(type -t "$1")" = function ]; then
        OUT=$("$@" 2>&1)
    else
        OUT=$(timeout -k 5 "$STEP_TIMEOUT" "$@" 2>&1)
    fi
    RC=$?
    OUT=${OUT//$'\r'/}
}

# check NAME CMD...: passes when CMD exits 0
check() {
    local name=$1
    shift
    run "$@"
    if [ "$RC" -eq 0 ]; then ok "$name"; else notok "$name" "exit $RC: $OUT"; fi
}

# check_fails NAME CMD...: passes when CMD exits non-zero
check_fails() {
    local name=$1
    shift
    run "$@"
    if [ "$RC" -ne 0 ]; then ok "$name"; else notok "$name" "expected failure, got exit 0: $OUT"; fi
}

# check_fails_with NAME PATTERN CMD...: passes when CMD exits non-zero and
# grep -E PATTERN matches its output (so it failed for the expected reason)
check_fails_with() {
    local name=$1 pat=$2
    shift 2
    run "$@"
    if [ "$RC" -ne 0 ] && grep -Eq -- "$pat" <<<"$OUT"; then
        ok "$name"
    else
        notok "$name" "expected a failure matching /$pat/, got exit $RC: $OUT"
    fi
}

# check_out NAME EXPECTED CMD...: passes when CMD exits 0 and its output
# (stdout+stderr, CRs removed, surrounding whitespace trimmed) equals EXPECTED
check_out() {
    local name=$1 want=$2
    shift 2
    run "$@"
    local got
    got=$(printf '%s' "$OUT" | sed -e 's/[[:space:]]*$//' | sed -e '/./,$!d')
    if [ "$RC" -eq 0 ] && [ "$got" = "$want" ]; then
        ok "$name"
    else
        notok "$name" "exit $RC, expected output [$want], got [$got]"
    fi
}

# check_has NAME PATTERN CMD...: passes when CMD exits 0 and grep -E PATTERN matches its output
check_has() {
    local name=$1 pat=$2
    shift 2
    run "$@"
    if [ "$RC" -eq 0 ] && grep -Eq -- "$pat" <<<"$OUT"; then
        ok "$name"
    else
        notok "$name" "exit $RC, output lacks /$pat/: $OUT"
    fi
}

# check_rc NAME CODE CMD...: passes when CMD exits with CODE
check_rc() {
    local name=$1 want=$2
    shift 2
    run "$@"
    if [ "$RC" -eq "$want" ]; then ok "$name"; else notok "$name" "expected exit $want, got $RC: $OUT"; fi
}

# check_rc_has NAME CODE PATTERN CMD...: CMD exits with CODE and its output
# matches grep -E PATTERN (for errors: the message the client shows the user,
# which it takes from the runtime's --log JSON)
check_rc_has() {
    local name=$1 want=$2 pat=$3
    shift 3
    run "$@"
    if [ "$RC" -eq "$want" ] && grep -Eq -- "$pat" <<<"$OUT"; then
        ok "$name"
    else
        notok "$name" "expected exit $want and /$pat/, got exit $RC: $OUT"
    fi
}

# check_eq NAME EXPECTED ACTUAL
check_eq() {
    if [ "$2" = "$3" ]; then ok "$1"; else notok "$1" "expected [$2], got [$3]"; fi
}

# wait_for SECONDS CMD...: retry CMD every 0.2 s until it succeeds
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -ge "$deadline" ] && return 1
        sleep 0.2
    done
}

# pty_run INPUT CMD...: run CMD on a new pseudo-terminal, type INPUT once it
# has printed something (a shell prompt), collect everything it prints into
# $OUT and its exit code into $RC. This is how `run -it` / `exec -it` are
# driven without a real terminal (CI has no stdin).
pty_run() {
    local input=$1
    shift
    OUT=$(python3 "$T/pty_run.py" "$STEP_TIMEOUT" "$input" "$@" 2>&1)
    RC=$?
    OUT=${OUT//$'\r'/}
}

# check_pty NAME CODE CMD...: CMD (a client's `run -it`/`exec -it` of sh) on
# a pty: the shell must see a terminal on stdin, run what is typed, and its
# exit code CODE must come back through the client
check_pty() {
    local name=$1 code=$2
    shift 2
    pty_run "test -t 0 && echo tty-\$((6*7)); exit $code"$'\n' "$@"
    if [ "$RC" -eq "$code" ] && grep -q 'tty-42' <<<"$OUT"; then
        ok "$name"
    else
        notok "$name" "exit $RC: $OUT"
    fi
}

# --- cleanup ---------------------------------------------------------------

# on_exit CMD: run CMD (a string, eval'd) at exit, last registered first
on_exit() { CLEANUPS+=("$1"); }

run_cleanups() {
    local i
    trap - EXIT INT TERM HUP
    for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do
        eval "${CLEANUPS[$i]}" >/dev/null 2>&1 || true
    done
}

finish() {
    local rc=$?
    if [ "$FAILED" -gt 0 ] || [ "$rc" -ne 0 ]; then
        dump_diagnostics
    fi
    run_cleanups
    printf '# %s: wall time %ss\n' "$SCRIPT_NAME" "$((SECONDS - START_SECONDS))"
    if [ "$rc" -ne 0 ] && [ "$FAILED" -eq 0 ]; then
        # the script died outside a check (setup failed): count it
        FAILED=1
        printf 'not ok - %s setup (exit %s)\n' "$SCRIPT_NAME" "$rc"
    fi
    printf '%s passed, %s failed\n' "$PASSED" "$FAILED"
    [ "$FAILED" -eq 0 ]
    exit $?
}

# stop_pid PIDFILE_OR_PID: TERM, wait up to 20 s, then KILL
stop_pid() {
    local pid=$1 i
    [ -f "$pid" ] && pid=$(cat "$pid")
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.2
    done
    kill -KILL "$pid" 2>/dev/null
    sleep 0.2
}

# kill_leftovers: KILL every process that still runs in our private mount
# namespace (shims, conmon, containers the client failed to reap) except this
# shell; everything started after `clients_init` lives in that namespace.
kill_leftovers() {
    local ns p
    ns=$(readlink /proc/$$/ns/mnt)
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [ "$p" = "$$" ] && continue
        [ "$(readlink "/proc/$p/ns/mnt" 2>/dev/null)" = "$ns" ] || continue
        # our own ancestors (the shell that ran us) are in other namespaces
        kill -KILL "$p" 2>/dev/null
    done
}

# remove_cgroup NAME: KILL whatever still runs under cgroup NAME (a parent
# this script owns) and rmdir it with everything below it, in every hierarchy
remove_cgroup() {
    local name=$1 h i
    # a frozen container cannot die: thaw it first
    [ -d "/sys/fs/cgroup/freezer/$name" ] &&
        find "/sys/fs/cgroup/freezer/$name" -name freezer.state -exec sh -c 'for f; do echo THAWED >"$f"; done' _ {} + 2>/dev/null
    for ((i = 0; i < 3; i++)); do
        for h in /sys/fs/cgroup/*/"$name" /sys/fs/cgroup/"$name"; do
            [ -d "$h" ] || continue
            find "$h" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null
        done
    done
    sleep 0.2
    for h in /sys/fs/cgroup/*/"$name" /sys/fs/cgroup/"$name"; do
        [ -d "$h" ] || continue
        find "$h" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
}

dump_diagnostics() {
    if [ -s "$CALLS_LOG" ]; then
        log "last runtime calls ($CALLS_LOG):"
        tail -n 25 "$CALLS_LOG" | sed 's/^/#   /'
    fi
    local f
    for f in "${DIAG_LOGS[@]}"; do
        [ -s "$f" ] || continue
        log "tail of $f:"
        tail -n 25 "$f" | sed 's/^/#   /'
    done
}
DIAG_LOGS=()

# --- setup -----------------------------------------------------------------

# clients_init: root check, private mount namespace, temp dir, traps, the
# runtime wrapper, the pty helper and the busybox rootfs ($ROOTFS).
clients_init() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "$SCRIPT_NAME: needs root" >&2
        exit 2
    fi
    # Re-run this script in a private mount namespace (once).
    if [ -z "${LEARNRT_CLIENTS_NS:-}" ]; then
        export LEARNRT_CLIENTS_NS=1
        exec unshare --mount --propagation private -- bash "$(readlink -f "$0")" "$@"
    fi
    START_SECONDS=$SECONDS
    T=$(mktemp -d "${TMPDIR:-/tmp}/learnrt-$SCRIPT_NAME.XXXXXX")
    on_exit 'if [ -z "${KEEP_TMP:-}" ]; then rm -rf "$T"; else echo "# kept $T" >&2; fi'
    trap finish EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP

    # Private /run: our tmpfs is torn down with the namespace; processes
    # started here see their own /run/containerd, /run/docker, /run/learnrt...
    mount -n -t tmpfs -o mode=755 learnrt-clients-run /run
    mkdir -p /run/lock /run/user
    on_exit 'kill_leftovers'

    # Every runtime call a client makes is appended to $CALLS_LOG, then the
    # real binary is exec'd (same pid, same argv). The wrapper is named
    # `learnrt` so that clients that key behaviour on the runtime's name
    # (podman's runtime_supports_json) see the name learnrt will have.
    CALLS_LOG=${CALLS_LOG:-$T/calls.log}
    : >"$CALLS_LOG"
    mkdir -p "$T/bin"
    RUNTIME="$T/bin/learnrt"
    cat >"$RUNTIME" <<EOF
#!/bin/bash
{ printf '%s' "\${0##*/}"; printf ' %q' "\$@"; printf '\n'; } >>'$CALLS_LOG'
exec '$LEARNRT' "\$@"
EOF
    chmod 755 "$RUNTIME"

    write_pty_helper
    make_rootfs
    log "$SCRIPT_NAME: runtime $LEARNRT, temp dir $T"
}

# make_rootfs: $ROOTFS = a busybox root filesystem (BUSYBOX_ROOTFS, or the
# one `$LEARNRT mkbundle` builds from Debian's busybox-static)
make_rootfs() {
    if [ -n "${BUSYBOX_ROOTFS:-}" ]; then
        ROOTFS=$(readlink -f "$BUSYBOX_ROOTFS")
    else
        "$LEARNRT" mkbundle "$T/bb" >"$T/mkbundle.log" 2>&1 || {
            cat "$T/mkbundle.log" >&2
            echo "$SCRIPT_NAME: '$LEARNRT mkbundle' failed (set BUSYBOX_ROOTFS to use a ready rootfs)" >&2
            exit 1
        }
        ROOTFS=$T/bb/rootfs
    fi
    [ -x "$ROOTFS/bin/busybox" ] || {
        echo "$SCRIPT_NAME: no bin/busybox in $ROOTFS" >&2
        exit 1
    }
}

# overlay_works: can this machine mount overlayfs on $T's filesystem?
overlay_works() {
    local d=$T/ovl-probe r=0
    mkdir -p "$d/l" "$d/u" "$d/w" "$d/m"
    mount -t overlay overlay -o "lowerdir=$d/l,upperdir=$d/u,workdir=$d/w" "$d/m" 2>/dev/null || r=1
    [ "$r" -eq 0 ] && umount "$d/m"
    rm -rf "$d"
    return "$r"
}

# hard_ulimit nofile|nproc: the hard limit podman's runtime will run with
# (podman's defaults exceed them and raising a limit needs CAP_SYS_RESOURCE,
# absent from this VM's bounding set). Podman clamps its own RLIMIT_NPROC to
# kernel.pid_max (seen here: 32768 while the shell's hard limit is 96365),
# and conmon and the runtime inherit that, so nproc is the smaller of the two.
hard_ulimit() {
    local v pidmax
    case $1 in
    nofile) v=$(ulimit -Hn) ;;
    nproc)
        v=$(ulimit -Hu)
        pidmax=$(cat /proc/sys/kernel/pid_max)
        if [ "$v" = unlimited ] || [ "$v" -gt "$pidmax" ]; then v=$pidmax; fi
        ;;
    esac
    [ "$v" = unlimited ] && v=-1
    echo "$v"
}

# runtime_called SUBCOMMAND: did any client call the runtime with it?
runtime_called() {
    grep -Eq "^learnrt( --?[^ ]+( [^-][^ ]*)?)* $1( |\$)" "$CALLS_LOG"
}

# check_runtime_state_empty: `$LEARNRT list -q` is empty in every --root the
# clients used (and in the default root when a client gave none)
check_runtime_state_empty() {
    local roots root left=""
    roots=$(grep -Eo -- ' --root [^ ]+' "$CALLS_LOG" | sort -u | cut -d' ' -f3)
    grep -Eq -- ' --root ' "$CALLS_LOG" && ! grep -Eqv -- ' --root ' "$CALLS_LOG" || roots="$roots default"
    for root in $roots; do
        if [ "$root" = default ]; then
            left+=$("$LEARNRT" list -q 2>&1) || left+=" (list failed)"
        else
            left+=$("$LEARNRT" --root "$root" list -q 2>&1) || left+=" ($root: list failed)"
        fi
    done
    check_eq "no container left in the runtime's state (roots: $(echo $roots))" "" "$left"
}

write_pty_helper() {
    cat >"$T/pty_run.py" <<'EOF'
# pty_run.py TIMEOUT INPUT CMD...: run CMD on a new pty; once it prints
# anything, type INPUT; echo all output; exit with CMD's exit code.
import os, pty, select, signal, sys, time

timeout, text, argv = float(sys.argv[1]), sys.argv[2], sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
deadline = time.monotonic() + timeout
sent = False
first_output = None
buf = b""
while True:
    left = deadline - time.monotonic()
    if left <= 0:
        os.kill(pid, signal.SIGKILL)
        sys.stdout.write(buf.decode(errors="replace") + "\n[pty_run: timeout]\n")
        os.waitpid(pid, 0)
        sys.exit(124)
    r, _, _ = select.select([fd], [], [], min(left, 0.2))
    if r:
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: the other side is closed
            data = b""
        if not data:
            break
        buf += data
        if first_output is None:
            first_output = time.monotonic()
    # type once there was output (the prompt) and it paused for 0.3 s
    if not sent and first_output is not None and not r and time.monotonic() - first_output > 0.3:
        os.write(fd, text.encode())
        sent = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(buf.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)
EOF
}

# start_containerd DIR: a private containerd with everything under DIR
# (config, root, state, sockets, opt); sets CTD_SOCK and CTD_PID. Shim
# sockets still go to /run/containerd/s, which is our private tmpfs.
start_containerd() {
    local d=$1
    mkdir -p "$d"
    cat >"$d/config.toml" <<TOML
version = 2
root = "$d/root"
state = "$d/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$d/containerd.sock"
[ttrpc]
  address = "$d/containerd.sock.ttrpc"
[debug]
  address = "$d/debug.sock"
  level = "info"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt"
TOML
    CTD_SOCK=$d/containerd.sock
    # shims inherit TMPDIR: their process.json and pty sockets stay in DIR too
    mkdir -p "$d/tmp"
    TMPDIR=$d/tmp containerd --config "$d/config.toml" >"$d/containerd.log" 2>&1 &
    CTD_PID=$!
    on_exit "stop_pid $CTD_PID"
    DIAG_LOGS+=("$d/containerd.log")
    if ! wait_for 30 ctr --address "$CTD_SOCK" version; then
        echo "containerd did not start:" >&2
        tail -n 30 "$d/containerd.log" >&2
        exit 1
    fi
}

#!/usr/bin/env bash
# learnrt vs runc vs crun, in the same run, with ratios vs crun.
#
#   sudo scripts/bench.sh [--runs N] [--warmup N] [--rss-runs N]
#                         [--runtimes "learnrt runc crun"] [--allow-missing]
#
# Times with hyperfine (a fresh container id per run, a private --root each):
#   RT run                 `run` of /bin/true in a busybox bundle (terminal false)
#   RT create/start/delete `create && start && delete -f` of the same bundle
#   learnrt --explain run  (explain output to /dev/null) and --trace /dev/null run:
#                          what tracing costs
#   floor                  `unshare -m -u -i -p -n -f chroot rootfs /bin/true`:
#                          the bare kernel work, what no runtime can beat
# plus CPU time (user+sys) and peak RSS of each; see scripts/README.md.
# Env: LEARNRT (default target/release/learnrt, built when missing), RUNC, CRUN.
# Exit status: non-zero if a runtime is not available, unless --allow-missing.
set -euo pipefail

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }

RUNS=30 WARMUP=5 RSS_RUNS=10 ALLOW_MISSING=0 RUNTIMES="learnrt runc crun"
ARGS=("$@")
while [ $# -gt 0 ]; do
    case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --rss-runs) RSS_RUNS=$2; shift 2 ;;
    --runtimes) RUNTIMES=$2; shift 2 ;;
    --allow-missing) ALLOW_MISSING=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
if [ "$(id -u)" -ne 0 ]; then
    echo "bench.sh: needs root (runtimes create namespaces and mounts)" >&2
    exit 1
fi
for tool in hyperfine python3 unshare chroot /usr/bin/time; do
    command -v "$tool" >/dev/null || {
        echo "bench.sh: $tool not found (apt-get install hyperfine python3 util-linux coreutils time)" >&2
        exit 1
    }
done

# --- 0. A private mount namespace, under a reaper -----------------------------
# crun 1.8 refuses the cgroup v1 "hybrid" layout (cgroup2 mounted at
# /sys/fs/cgroup/unified beside the v1 controllers) unless it sees no v2
# controllers there. We hide /sys/fs/cgroup/unified/cgroup.controllers behind
# /dev/null in a private mount namespace and run *every* runtime in that same
# namespace, so all are timed alike and no command gets a wrapper of its own.
# The namespace, and the bind mount, vanish when the benchmark ends.
# The reaper (PR_SET_CHILD_SUBREAPER) adopts the container inits that
# `create` leaves behind and reaps them: where pid 1 does not reap orphans,
# they would pile up as zombies.
read -r -d '' REAPER <<'PY' || true
import ctypes, os, signal, sys
PR_SET_CHILD_SUBREAPER = 36
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
    sys.exit("bench.sh: prctl(PR_SET_CHILD_SUBREAPER): " + os.strerror(ctypes.get_errno()))
main = os.fork()
if main == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
for s in (signal.SIGINT, signal.SIGTERM):
    signal.signal(s, lambda n, f: os.kill(main, n))
rc = 1
while True:
    try:
        pid, status = os.wait()
    except ChildProcessError:
        break
    if pid == main:
        rc = os.waitstatus_to_exitcode(status)
        rc = rc if rc >= 0 else 128 - rc
        break
while True:  # orphans that have exited by now
    try:
        pid, _ = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        break
    if pid == 0:
        print("bench.sh: warning: processes left running by a runtime", file=sys.stderr)
        break
sys.exit(rc)
PY
if [ -z "${LEARNRT_BENCH_INNER:-}" ]; then
    export LEARNRT_BENCH_INNER=1
    exec python3 -c "$REAPER" unshare --mount --propagation private bash "$0" "${ARGS[@]}"
fi

REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
LEARNRT=${LEARNRT:-target/release/learnrt}
RUNC=${RUNC:-runc}
CRUN=${CRUN:-crun}
case "$LEARNRT" in /*) ;; *) LEARNRT=$REPO/$LEARNRT ;; esac

if [ "$(stat -f -c %T /sys/fs/cgroup)" = tmpfs ] && [ -e /sys/fs/cgroup/unified/cgroup.controllers ]; then
    mount --bind /dev/null /sys/fs/cgroup/unified/cgroup.controllers
    CGROUP_NOTE="cgroup v1 hybrid: /sys/fs/cgroup/unified/cgroup.controllers masked (private mount namespace, for crun)"
else
    CGROUP_NOTE="cgroup layout: $(stat -f -c %T /sys/fs/cgroup), nothing masked"
fi

W=$(mktemp -d /tmp/learnrt-bench.XXXXXX)
# Cgroups named like our container ids (runc and crun name them after the id
# when config.json gives no cgroupsPath): none may be left at the end.
our_cgroups() {
    find /sys/fs/cgroup -mindepth 2 -maxdepth 4 -type d 2>/dev/null |
        grep -E '/(smoke-[0-9]+|[rceto][0-9]+)$' | sort || true
}
cgroups_before=$(our_cgroups)

rt_bin() {
    case "$1" in
    learnrt) echo "$LEARNRT" ;;
    runc) echo "$RUNC" ;;
    crun) echo "$CRUN" ;;
    *) echo "bench.sh: unknown runtime $1" >&2; exit 2 ;;
    esac
}

cleanup() {
    local rc=$? rt bin id after
    set +e
    for rt in $RUNTIMES; do
        bin=$(rt_bin "$rt")
        for id in $(ls "$W/root-$rt" 2>/dev/null); do
            "$bin" --root "$W/root-$rt" delete -f "$id" >/dev/null 2>&1
        done
    done
    umount "$W/ro-bin" 2>/dev/null
    if grep -qF " $W/" /proc/self/mountinfo; then
        echo "bench.sh: mounts left under $W, not removing it:" >&2
        grep -F " $W/" /proc/self/mountinfo >&2
    else
        rm -rf --one-file-system "$W"
    fi
    after=$(comm -13 <(echo "$cgroups_before") <(our_cgroups))
    if [ -n "$after" ]; then
        echo "bench.sh: warning: cgroups left behind by a runtime:" >&2
        echo "$after" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. The learnrt binary and the bundle -------------------------------------
declare -A MISSING=()
wants() { [[ " $RUNTIMES " == *" $1 "* ]]; }
if wants learnrt && [ ! -x "$LEARNRT" ]; then
    if [ "$LEARNRT" = "$REPO/target/release/learnrt" ]; then
        echo "== building learnrt: cargo build --release"
        if ! cargo build --release --quiet >"$W/cargo.log" 2>&1; then
            MISSING[learnrt]="cargo build --release failed: $(grep -m1 -E '^error' "$W/cargo.log" || tail -n1 "$W/cargo.log")"
        fi
    else
        MISSING[learnrt]="$LEARNRT: no such executable"
    fi
fi

B=$W/bundle
BUNDLE_NOTE="bundle: learnrt mkbundle"
if [ -x "$LEARNRT" ] && "$LEARNRT" mkbundle "$B" >"$W/mkbundle.log" 2>&1 && [ -f "$B/config.json" ]; then
    :
else
    if [ -x "$LEARNRT" ]; then
        why="learnrt mkbundle failed: $(grep -m1 . "$W/mkbundle.log" | cut -c1-200 || true)"
    else
        why="no learnrt binary"
    fi
    # So that runc and crun can still be measured while learnrt cannot:
    # the busybox image layout by hand (learnrt will be reported missing).
    BUNDLE_NOTE="bundle: busybox-static + runc spec ($why)"
    rm -rf "$B"
    mkdir -p "$B/rootfs"
    (
        cd "$B/rootfs"
        mkdir -p bin dev etc home proc root sys tmp usr/sbin var/spool/mail var/www
        chmod 1777 tmp
        cp /bin/busybox bin/busybox
        for a in $(bin/busybox --list); do
            [ "$a" = busybox ] || ln bin/busybox "bin/$a" 2>/dev/null || ln -s busybox "bin/$a"
        done
        printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >etc/passwd
        printf 'root:x:0:\nnogroup:x:65534:\n' >etc/group
    )
    "$RUNC" spec --bundle "$B"
fi
# The benchmark's process: /bin/true, no terminal.
python3 - "$B/config.json" <<'PY'
import json, sys
path = sys.argv[1]
with open(path) as f:
    config = json.load(f)
config["process"]["args"] = ["/bin/true"]
config["process"]["terminal"] = False
with open(path, "w") as f:
    json.dump(config, f, indent=2)
PY

# --- 2. Which runtimes work ---------------------------------------------------
for rt in $RUNTIMES; do
    bin=$(rt_bin "$rt")
    mkdir -p "$W/root-$rt"
    [ -n "${MISSING[$rt]:-}" ] && continue
    if ! command -v "$bin" >/dev/null; then
        MISSING[$rt]="$bin: not found"
    elif ! "$bin" --root "$W/root-$rt" run --bundle "$B" "smoke-$$" </dev/null >"$W/smoke-$rt.log" 2>&1; then
        MISSING[$rt]="\`run\` of /bin/true failed: $(grep -m1 . "$W/smoke-$rt.log" | cut -c1-200 || true)"
        "$bin" --root "$W/root-$rt" delete -f "smoke-$$" >/dev/null 2>&1 || true
    fi
done
for rt in $RUNTIMES; do
    if [ -n "${MISSING[$rt]:-}" ]; then echo "$rt: not available: ${MISSING[$rt]}"; fi
done

# --- 3. What to measure -------------------------------------------------------
# One line per benchmark: name|shell command. hyperfine runs it with sh -c
# (and subtracts the cost of that shell from wall, user and system time);
# `$$`, the pid of that shell, makes every run's container id fresh.
: >"$W/commands"
add() { printf '%s|%s\n' "$1" "$2" >>"$W/commands"; }
add "floor" "unshare -m -u -i -p -n -f chroot $B/rootfs /bin/true"
for rt in $RUNTIMES; do
    [ -n "${MISSING[$rt]:-}" ] && continue
    R="$(rt_bin "$rt") --root $W/root-$rt"
    add "$rt run" "$R run --bundle $B r\$\$"
    add "$rt create/start/delete" "$R create --bundle $B c\$\$ && $R start c\$\$ && $R delete -f c\$\$"
    if [ "$rt" = learnrt ]; then
        add "learnrt --explain run" "$R --explain run --bundle $B e\$\$ 2>/dev/null"
        add "learnrt --trace /dev/null run" "$R --trace /dev/null run --bundle $B t\$\$"
        # The same binary installed on a read-only mount: learnrt then needs
        # no re-exec to protect itself (CVE-2019-5736), which shows what
        # that protection costs. (This private mount namespace only.)
        mkdir -p "$W/ro-bin"
        cp "$(rt_bin learnrt)" "$W/ro-bin/learnrt"
        if mount --bind "$W/ro-bin" "$W/ro-bin" && mount -o remount,bind,ro "$W/ro-bin"; then
            add "learnrt run, binary on a ro mount" "$W/ro-bin/learnrt --root $W/root-$rt run --bundle $B o\$\$"
        fi
    fi
done

# --- 4. Time ------------------------------------------------------------------
echo "== $CGROUP_NOTE"
echo "== $BUNDLE_NOTE"
echo "== $(nproc) cpus, $(uname -r); hyperfine: $WARMUP warmup + $RUNS runs each; peak RSS over $RSS_RUNS runs"
FAILED=()
i=0
while IFS='|' read -r name cmd; do
    i=$((i + 1))
    printf -- '-- %s\n' "$name"
    if ! hyperfine --style none --warmup "$WARMUP" --runs "$RUNS" -n "$name" \
        --export-json "$W/time-$i.json" "$cmd" </dev/null >"$W/hyperfine-$i.log" 2>&1; then
        echo "   failed: $(grep -m1 -iE 'error|non-zero' "$W/hyperfine-$i.log" | cut -c1-200 || true)"
        rm -f "$W/time-$i.json"
        FAILED+=("$name")
    fi
done <"$W/commands"

# --- 5. Peak RSS and the table ------------------------------------------------
# Peak RSS: GNU time's %M, ru_maxrss from wait4(): the largest resident set
# of the runtime process *or of any descendant it waited for*. With `run`,
# runc and crun wait for the container init, so the figure covers it too
# (before it execs /bin/true, the init is a copy of the runtime). time forks
# the command from its own small image: about 1 MiB is the smallest %M seen.
# A create/start/delete cycle reports its largest command.
python3 - "$W" "$RSS_RUNS" <<'PY'
import json, os, shlex, statistics, subprocess, sys

w, rss_runs = sys.argv[1], int(sys.argv[2])
bench = []
with open(os.path.join(w, "commands")) as f:
    for line in f:
        if line.strip():
            name, cmd = line.rstrip("\n").split("|", 1)
            bench.append((name, cmd))

def peak_rss_kib(cmd, run_id):
    """Largest %M (GNU time) among the commands of a `a && b && c` chain."""
    out = os.path.join(w, "rss.tmp")
    peak = 0
    for part in cmd.replace("$$", str(run_id)).split(" && "):
        part = part.replace(" 2>/dev/null", "")  # all stdio goes to /dev/null
        argv = ["/usr/bin/time", "-f", "%M", "-o", out] + shlex.split(part)
        done = subprocess.run(argv, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if done.returncode != 0:
            return None
        with open(out) as f:
            peak = max(peak, int(f.read().split()[-1]))
    return peak

rows = []
for i, (name, cmd) in enumerate(bench, 1):
    path = os.path.join(w, f"time-{i}.json")
    if not os.path.exists(path):
        rows.append((name, None))
        continue
    r = json.load(open(path))["results"][0]
    rss = [peak_rss_kib(cmd, 900000000 + os.getpid() * 100 + k) for k in range(rss_runs)]
    rss = [v for v in rss if v]
    rows.append((name, {
        "wall": r["mean"] * 1e3,
        "sd": (r.get("stddev") or 0.0) * 1e3,
        "cpu": (r["user"] + r["system"]) * 1e3,
        "rss": statistics.median(rss) / 1024 if rss else None,
    }))

def crun_row(name):
    kind = "create/start/delete" if name.endswith("create/start/delete") else "run"
    for n, d in rows:
        if n == f"crun {kind}" and d:
            return d
    return None

def ratio(v, base, key):
    if v is None or not base or not base.get(key):
        return "     -"
    return f"{v / base[key]:5.2f}x"

print()
print(f"{'':32} {'wall ms':>17} {'CPU ms':>7} {'RSS MiB':>8} | {'vs crun: wall':>13} {'CPU':>6} {'RSS':>6}")
for name, d in rows:
    if d is None:
        print(f"{name:32} {'failed':>17}")
        continue
    b = crun_row(name)
    rss = f"{d['rss']:8.1f}" if d["rss"] is not None else f"{'-':>8}"
    print(f"{name:32} {d['wall']:8.2f} ± {d['sd']:5.2f} {d['cpu']:7.2f} {rss} | "
          f"{ratio(d['wall'], b, 'wall'):>13} {ratio(d['cpu'], b, 'cpu'):>6} {ratio(d['rss'], b, 'rss'):>6}")
print()
print("wall: hyperfine mean ± sd. CPU: user+sys of the command and the children it waited for.")
print("RSS: median of GNU time %M (ru_maxrss: the command or any descendant it waited for).")
print("Ratios: against crun's row of the same kind (floor and the learnrt variants: crun run).")
PY

status=0
for rt in $RUNTIMES; do
    if [ -n "${MISSING[$rt]:-}" ]; then
        echo "$rt: not available: ${MISSING[$rt]}"
        [ "$ALLOW_MISSING" = 1 ] || status=1
    fi
done
if [ "${#FAILED[@]}" -gt 0 ]; then
    echo "failed during the benchmark: ${FAILED[*]}"
    status=1
fi
exit "$status"

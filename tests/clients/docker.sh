#!/bin/bash
# Docker (Debian docker.io 20.10) runs its containers with $LEARNRT.
#
#   sudo LEARNRT=target/debug/learnrt tests/clients/docker.sh
#   sudo LEARNRT=/usr/sbin/runc BUSYBOX_ROOTFS=/path/to/rootfs tests/clients/docker.sh
#
# A private containerd and dockerd (own config, sockets, data and exec roots,
# pid file; no iptables, no bridge) with the runtime registered as `learnrt`
# in daemon.json; the busybox image is imported offline; every container runs
# with --runtime=learnrt --network none.
. "$(dirname "$(readlink -f "$0")")/lib.sh"
clients_init "$@"

DOCKER=${DOCKER:-/usr/bin/docker} # Debian's client (another may be first in PATH)
CGROUP_PARENT=learnrt-clients-docker-$$
export DOCKER_HOST=unix://$T/docker.sock
export DOCKER_CONFIG=$T/docker-client

# dockerd writes its trust key to /etc/docker: give it a private one
[ -d /etc/docker ] && mount -n -t tmpfs -o mode=755 learnrt-clients-etc-docker /etc/docker

start_containerd "$T/containerd"

if overlay_works; then driver=overlay2; else driver=vfs; fi
# learnrt-traced: the same runtime with LEARNRT_TRACE set in its environment
# (daemon.json cannot set a runtime's environment: a wrapper does)
TRACE_FILE=$T/docker-trace.jsonl
cat >"$T/bin/learnrt-traced" <<EOF
#!/bin/sh
LEARNRT_TRACE='$TRACE_FILE' exec '$RUNTIME' "\$@"
EOF
chmod 755 "$T/bin/learnrt-traced"
cat >"$T/daemon.json" <<EOF
{
  "data-root": "$T/docker-data",
  "exec-root": "$T/docker-exec",
  "pidfile": "$T/docker.pid",
  "hosts": ["$DOCKER_HOST"],
  "containerd": "$CTD_SOCK",
  "iptables": false,
  "ip-forward": false,
  "ip-masq": false,
  "bridge": "none",
  "userland-proxy": false,
  "storage-driver": "$driver",
  "exec-opts": ["native.cgroupdriver=cgroupfs"],
  "cgroup-parent": "$CGROUP_PARENT",
  "runtimes": {
    "learnrt": { "path": "$RUNTIME" },
    "learnrt-traced": { "path": "$T/bin/learnrt-traced" }
  }
}
EOF
dockerd --config-file "$T/daemon.json" >"$T/dockerd.log" 2>&1 &
DOCKERD_PID=$!
on_exit "remove_cgroup $CGROUP_PARENT"
on_exit "stop_pid $DOCKERD_PID"
DIAG_LOGS+=("$T/dockerd.log")
if ! wait_for 60 "$DOCKER" version; then
    echo "dockerd did not start:" >&2
    tail -n 30 "$T/dockerd.log" >&2
    exit 1
fi
log "dockerd up (storage driver $driver)"

# --- image, offline ---------------------------------------------------------
check "docker import of the busybox rootfs" \
    sh -c "tar -C '$ROOTFS' -c . | '$DOCKER' import -c 'CMD [\"sh\"]' - busybox:latest"

d() { "$DOCKER" "$@"; }
R=(--runtime=learnrt --network none)

# --- the tutorial's own steps -----------------------------------------------
# TRANSCRIPTS_DIR=DIR: keep what the book shows, as this run produced it
if [ -n "${TRANSCRIPTS_DIR:-}" ]; then
    mkdir -p "$TRANSCRIPTS_DIR"
    "$DOCKER" info 2>/dev/null | grep -E '^ *(Runtimes|Default Runtime|Cgroup Driver|Cgroup Version|Storage Driver):' \
        | sed "s#$T#<tmp>#g" >"$TRANSCRIPTS_DIR/docker-info.txt"
    "$DOCKER" run --runtime=learnrt --network none --rm busybox echo hello from learnrt \
        >"$TRANSCRIPTS_DIR/docker-run.txt" 2>&1
fi
check_has "docker info lists learnrt" '(^|[ ,])learnrt([ ,]|$)' \
    "$DOCKER" info --format '{{range $k, $v := .Runtimes}}{{$k}} {{end}}'
check "docker run -dit --name=c1 busybox" "$DOCKER" run -dit --name=c1 "${R[@]}" busybox
check_out "c1 runs with runtime learnrt" learnrt "$DOCKER" inspect -f '{{.HostConfig.Runtime}}' c1
if runtime_called create; then ok "dockerd called learnrt create"; else notok "dockerd called learnrt create" "$(cat "$CALLS_LOG")"; fi
check "docker export c1 > c1.tar" sh -c "'$DOCKER' export c1 > '$T/c1.tar'"
tar -tf "$T/c1.tar" >"$T/c1.list" 2>&1
if [ -s "$T/c1.tar" ] && grep -Eqx '(\./)?bin/busybox' "$T/c1.list"; then
    ok "c1.tar is non-empty and holds bin/busybox"
else
    notok "c1.tar is non-empty and holds bin/busybox" "$(ls -l "$T/c1.tar" 2>&1)"
fi
check "docker rm -f c1" "$DOCKER" rm -f c1

# --- run --rm: output and exit codes ----------------------------------------
check_out "docker run --rm prints hello" hello "$DOCKER" run --rm "${R[@]}" busybox echo hello
check_rc "docker run --rm exit code 3" 3 "$DOCKER" run --rm "${R[@]}" busybox sh -c 'exit 3'
check_rc_has "docker run of a missing command: exit 127, error names it" 127 'no/such/cmd' "$DOCKER" run --rm "${R[@]}" busybox /no/such/cmd
check_out "env, workdir, user, hostname" "bar /tmp 65534:65534 box1" \
    "$DOCKER" run --rm "${R[@]}" -e FOO=bar -w /tmp -u 65534:65534 -h box1 busybox \
    sh -c 'echo $FOO $(pwd) $(id -u):$(id -g) $(hostname)'
check_has "--read-only: writing / fails" 'Read-only file system' \
    "$DOCKER" run --rm "${R[@]}" --read-only busybox sh -c 'touch /x 2>&1; true'
check_out "--read-only: a --tmpfs is still writable" ok \
    "$DOCKER" run --rm "${R[@]}" --read-only --tmpfs /scratch busybox sh -c 'touch /scratch/x && echo ok'
mkdir -p "$T/vol" && echo from-host >"$T/vol/in"
check_out "-v bind mount: read and write" from-host \
    "$DOCKER" run --rm "${R[@]}" -v "$T/vol:/data" busybox sh -c 'cat /data/in; echo from-container > /data/out'
check_out "-v bind mount: the host sees the write" from-container cat "$T/vol/out"
check_has "-v :ro bind mount is read-only" 'Read-only file system' \
    "$DOCKER" run --rm "${R[@]}" -v "$T/vol:/data:ro" busybox sh -c 'touch /data/x 2>&1; true'

# --- resources, read back inside --------------------------------------------
check_out "-m 32m: memory.limit_in_bytes inside" 33554432 \
    "$DOCKER" run --rm "${R[@]}" -m 32m busybox sh -c \
    'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max'
check_out "--pids-limit 50: pids.max inside" 50 \
    "$DOCKER" run --rm "${R[@]}" --pids-limit 50 busybox sh -c \
    'cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max'

# --- terminals ----------------------------------------------------------------
check_pty "docker run -it: a shell on a tty, exit code 3" 3 "$DOCKER" run -it --rm "${R[@]}" busybox sh

# --- a long-running container: exec, top, pause, stats, update --------------
check "docker run -d (sleeper)" "$DOCKER" run -d --name s1 "${R[@]}" -m 32m busybox sleep 1000
check_out "docker exec prints" in-s1 "$DOCKER" exec s1 echo in-s1
check_rc "docker exec exit code 5" 5 "$DOCKER" exec s1 sh -c 'exit 5'
check_rc_has "docker exec of a missing command: exit 126/127, error names it" 0 'rc=12[67] .*no/such/cmd' \
    sh -c "out=\$('$DOCKER' exec s1 /no/such/cmd 2>&1); echo rc=\$? \$out"
check_out "docker exec -u -w -e" "65534 /tmp v" "$DOCKER" exec -u 65534 -w /tmp -e X=v s1 sh -c 'echo $(id -u) $(pwd) $X'
check_pty "docker exec -it: a shell on a tty, exit code 4" 4 "$DOCKER" exec -it s1 sh
check_has "docker top lists sleep 1000" 'sleep 1000' "$DOCKER" top s1
check "docker pause" "$DOCKER" pause s1
check_out "state is paused" paused "$DOCKER" inspect -f '{{.State.Status}}' s1
check_fails_with "docker exec into a paused container is refused" 'paused' "$DOCKER" exec s1 true
check "docker unpause" "$DOCKER" unpause s1
check_out "state is running again" running "$DOCKER" inspect -f '{{.State.Status}}' s1
check_out "exec works after unpause" back "$DOCKER" exec s1 echo back
check_has "docker stats --no-stream shows a memory figure" 's1 .*[0-9.]+[KMG]i?B / 32MiB' \
    "$DOCKER" stats --no-stream --format '{{.Name}} {{.MemUsage}}' s1
check "docker update -m 48m" "$DOCKER" update -m 48m s1
check_out "update -m read back inside" 50331648 \
    "$DOCKER" exec s1 sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max'

# --- stop, kill, restart, logs, wait, rm -f ----------------------------------
# sleep as pid 1 ignores TERM, so stop has to escalate to KILL
check "docker stop -t 1 (TERM ignored, then KILL)" "$DOCKER" stop -t 1 s1
check_out "stopped container exited 137" "exited 137" "$DOCKER" inspect -f '{{.State.Status}} {{.State.ExitCode}}' s1
check "docker run -d (TERM handler)" "$DOCKER" run -d --name s2 "${R[@]}" busybox \
    sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done'
check "docker stop delivers TERM" "$DOCKER" stop -t 20 s2
check_out "TERM handler exited 0" "exited 0" "$DOCKER" inspect -f '{{.State.Status}} {{.State.ExitCode}}' s2

check "docker restart of a stopped container" "$DOCKER" restart -t 1 s1
check_out "restarted container runs" running "$DOCKER" inspect -f '{{.State.Status}}' s1
check_out "exec into the restarted container" again "$DOCKER" exec s1 echo again
check "docker restart of a running container" "$DOCKER" restart -t 1 s1
check_out "it runs again" running "$DOCKER" inspect -f '{{.State.Status}}' s1
check "docker kill" "$DOCKER" kill s1
check_out "docker wait after kill prints 137" 137 "$DOCKER" wait s1
check_out "killed container exited 137" "exited 137" "$DOCKER" inspect -f '{{.State.Status}} {{.State.ExitCode}}' s1

check "docker run -d (logger, exits 7)" "$DOCKER" run -d --name l1 "${R[@]}" busybox \
    sh -c 'echo out-line; echo err-line >&2; sleep 1; exit 7'
check_out "docker wait prints exit code 7" 7 "$DOCKER" wait l1
check_out "docker logs holds stdout and stderr" $'out-line\nerr-line' sh -c "'$DOCKER' logs l1 2>&1 | sort -r"

check "docker run -d (to remove)" "$DOCKER" run -d --name r1 "${R[@]}" busybox sleep 1000
check "docker rm -f of a running container" "$DOCKER" rm -f r1 s1 s2 l1
check_out "no containers left" "" "$DOCKER" ps -aq

# --- LEARNRT_TRACE: see what Docker asked learnrt to do ----------------------
check_out "docker run with LEARNRT_TRACE in the runtime's environment" traced \
    "$DOCKER" run --rm --runtime=learnrt-traced --network none busybox echo traced
if ! "$LEARNRT" --version 2>/dev/null | grep -q learnrt; then
    ok "LEARNRT_TRACE file holds the pivot_root stage # skip: $LEARNRT is not learnrt"
elif grep -q '"stage":"pivot_root"' "$TRACE_FILE" 2>/dev/null; then
    ok "LEARNRT_TRACE file holds the pivot_root stage"
else
    notok "LEARNRT_TRACE file holds the pivot_root stage" "$(head -c 2000 "$TRACE_FILE" 2>&1)"
fi
if [ -n "${TRANSCRIPTS_DIR:-}" ]; then
    sed "s#$T#<tmp>#g" "$TRACE_FILE" >"$TRANSCRIPTS_DIR/docker-trace.jsonl" 2>/dev/null
fi

# --- nothing left behind ------------------------------------------------------
check_runtime_state_empty

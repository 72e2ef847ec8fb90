#!/usr/bin/env bash
# A private Docker that knows learnrt, for one command (or a shell), then gone.
#
#   lessons/14-docker-runtime/private-docker.sh                 # a shell: type docker commands
#   lessons/14-docker-runtime/private-docker.sh docker info     # one command
#
# For a classroom machine whose own docker you must not touch, or that has no
# docker service at all (only the docker.io package). Everything runs in a
# private mount namespace with its own /run and /etc/docker, under one temp dir:
# a containerd and a dockerd with learnrt registered in daemon.json as
# "learnrt", no network setup (iptables off, no bridge: use --network none),
# and busybox:latest imported offline from the busybox tree `learnrt mkbundle`
# builds. Inside, DOCKER_HOST points at it, and every call docker makes to
# learnrt is appended to $CALLS_LOG (`cat $CALLS_LOG`).
#
# The set-up helpers are the client tests' own (tests/clients/lib.sh):
# tests/clients/docker.sh is the same daemon, driven through 58 checks.
set -u
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
. "$here/../lib.sh" # LEARNRT: the binary the labs use
export LEARNRT=$(readlink -f "$(command -v "$LEARNRT" || echo "$LEARNRT")")
for tool in dockerd containerd docker ctr unshare; do
    command -v "$tool" >/dev/null 2>&1 || { echo "private-docker: $tool is not installed (apt-get install docker.io)" >&2; exit 3; }
done
. "$here/../../tests/clients/lib.sh"
clients_init "$@" # re-runs this script in a private mount namespace; sets $T, $RUNTIME, $ROOTFS
# The client tests' finish() prints a test tally; here, just clean up.
finish() { local rc=$?; run_cleanups; exit "$rc"; }

# Debian's client (another docker may come first in PATH): `docker` below is it.
DOCKER=${DOCKER:-/usr/bin/docker}
[ -x "$DOCKER" ] || DOCKER=$(command -v docker)
mkdir -p "$T/client-bin" && ln -s "$DOCKER" "$T/client-bin/docker"
export PATH=$T/client-bin:$PATH
export DOCKER_HOST=unix://$T/docker.sock DOCKER_CONFIG=$T/docker-client CALLS_LOG
CGROUP_PARENT=learnrt-lab14-$$
[ -d /etc/docker ] && mount -n -t tmpfs -o mode=755 learnrt-lab14-etc-docker /etc/docker
start_containerd "$T/containerd"
if overlay_works; then driver=overlay2; else driver=vfs; fi
cat >"$T/daemon.json" <<EOF
{
  "data-root": "$T/docker-data", "exec-root": "$T/docker-exec", "pidfile": "$T/docker.pid",
  "hosts": ["$DOCKER_HOST"], "containerd": "$CTD_SOCK",
  "iptables": false, "ip-forward": false, "ip-masq": false, "bridge": "none",
  "userland-proxy": false, "storage-driver": "$driver",
  "exec-opts": ["native.cgroupdriver=cgroupfs"], "cgroup-parent": "$CGROUP_PARENT",
  "runtimes": { "learnrt": { "path": "$RUNTIME" } }
}
EOF
dockerd --config-file "$T/daemon.json" >"$T/dockerd.log" 2>&1 &
on_exit "remove_cgroup $CGROUP_PARENT"
on_exit "stop_pid $!"
if ! wait_for 60 "$DOCKER" version; then
    echo "private-docker: dockerd did not start:" >&2
    tail -n 20 "$T/dockerd.log" >&2
    exit 1
fi
tar -C "$ROOTFS" -c . | "$DOCKER" import -c 'CMD ["sh"]' - busybox:latest >/dev/null || exit 1
# What learnrt saw so far is only `learnrt --version` and `features`: start clean.
: >"$CALLS_LOG"

if [ $# -eq 0 ]; then
    echo "A private docker with runtime learnrt. Try:"
    echo "  docker info | grep -i runtime"
    echo "  docker run --rm --runtime=learnrt --network none busybox echo hello"
    echo "  cat \$CALLS_LOG        # what docker asked learnrt to do"
    echo "exit (or Ctrl-D) stops it and removes everything."
    PS1='(private docker) \w # ' bash --norc -i
else
    "$@"
fi

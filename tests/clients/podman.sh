#!/bin/bash
# Podman (Debian podman 4.3 with conmon) runs its containers with $LEARNRT.
#
#   sudo LEARNRT=target/debug/learnrt tests/clients/podman.sh
#   sudo LEARNRT=/usr/sbin/runc BUSYBOX_ROOTFS=/path/to/rootfs tests/clients/podman.sh
#
# Self-contained configuration: containers.conf and storage.conf in the temp
# dir (own root, runroot, tmpdir, cgroupfs manager, file events logger, no
# network), the busybox tree imported with `podman import`, and
# `--runtime <path>` naming the runtime under test.
. "$(dirname "$(readlink -f "$0")")/lib.sh"
clients_init "$@"

P=$T/podman
# as root, podman keeps its blob-info cache in /var/lib/containers/cache
# whatever --root says: hide the host's from it
mkdir -p /var/lib/containers
mount -n -t tmpfs -o mode=700 learnrt-clients-var-lib-containers /var/lib/containers
CGROUP_PARENT=learnrt-clients-podman-$$
mkdir -p "$P"
if overlay_works; then driver=overlay; else driver=vfs; fi

# The runtime's name is the basename of --runtime (our wrapper is `learnrt`):
# podman passes --log-format=json --log only to runtimes named in
# runtime_supports_json. Podman's default ulimits (nofile/nproc 1048576)
# exceed the hard limits here and raising them needs CAP_SYS_RESOURCE, which
# this VM's bounding set lacks: default to the host's hard limits.
cat >"$P/containers.conf" <<EOF
[containers]
netns = "none"
default_ulimits = ["nofile=$(hard_ulimit nofile):$(hard_ulimit nofile)", "nproc=$(hard_ulimit nproc):$(hard_ulimit nproc)"]

[network]
network_config_dir = "$P/net"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$P/events.log"
tmp_dir = "$P/tmp"
volume_path = "$P/volumes"
static_dir = "$P/static"
runtime_supports_json = ["crun", "runc", "kata", "runsc", "krun", "learnrt"]
# conmon makes its console sockets in TMPDIR (else /tmp)
conmon_env_vars = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TMPDIR=$P/tmp-files"]
EOF
cat >"$P/storage.conf" <<EOF
[storage]
driver = "$driver"
graphroot = "$P/root"
runroot = "$P/run"
EOF
export CONTAINERS_CONF=$P/containers.conf
export CONTAINERS_STORAGE_CONF=$P/storage.conf
export CONTAINERS_REGISTRIES_CONF=$P/registries.conf
: >"$P/registries.conf"
export TMPDIR=$P/tmp-files # podman import stages the tarball here
mkdir -p "$TMPDIR"

# `pm` is podman with every path flag explicit, as an executable so that the
# check helpers can put it under a timeout and on a pty
cat >"$T/bin/pm" <<EOF
#!/bin/sh
exec podman --root '$P/root' --runroot '$P/run' --tmpdir '$P/tmp' --storage-driver $driver \\
    --cgroup-manager cgroupfs --events-backend file --runtime '$RUNTIME' "\$@"
EOF
chmod 755 "$T/bin/pm"
PM=$T/bin/pm
on_exit "remove_cgroup $CGROUP_PARENT"
on_exit "'$PM' rm -af -t 0; '$PM' system prune -f; umount -R '$P/root/overlay' '$P/run'; true"
DIAG_LOGS+=("$P/events.log")
R=(--cgroup-parent "/$CGROUP_PARENT")

check "podman import of the busybox rootfs" \
    sh -c "tar -C '$ROOTFS' -c . | '$PM' import -c 'CMD [\"sh\"]' - busybox:latest"
check_has "podman info shows the runtime's path" "$RUNTIME" "$PM" info --format '{{.Host.OCIRuntime.Path}}'

# --- run --------------------------------------------------------------------
check_out "podman run --rm prints hello" hello "$PM" run --rm "${R[@]}" busybox echo hello
if runtime_called create; then ok "podman called learnrt create"; else notok "podman called learnrt create" "$(cat "$CALLS_LOG")"; fi
if grep -q -- '--log-format=json' "$CALLS_LOG"; then
    ok "runtime_supports_json: podman passed --log-format=json"
else
    notok "runtime_supports_json: podman passed --log-format=json" "$(head -n 5 "$CALLS_LOG")"
fi
check_rc "podman run --rm exit code 3" 3 "$PM" run --rm "${R[@]}" busybox sh -c 'exit 3'
check_out "env, workdir, user, hostname" "bar /tmp 65534:65534 box1" \
    "$PM" run --rm "${R[@]}" -e FOO=bar -w /tmp -u 65534:65534 -h box1 busybox \
    sh -c 'echo $FOO $(pwd) $(id -u):$(id -g) $(hostname)'
check_out "the default ulimit (nofile) applies" "$(hard_ulimit nofile)" \
    "$PM" run --rm "${R[@]}" busybox sh -c 'ulimit -n'

check_pty "podman run -it: a shell on a tty, exit code 3" 3 "$PM" run -it --rm "${R[@]}" busybox sh

# --- a long-running container ----------------------------------------------
check "podman run -d" "$PM" run -d --name s1 "${R[@]}" busybox sleep 1000
check_out "podman exec prints" in-s1 "$PM" exec s1 echo in-s1
check_rc "podman exec exit code 5" 5 "$PM" exec s1 sh -c 'exit 5'
check_pty "podman exec -it: a shell on a tty, exit code 4" 4 "$PM" exec -it s1 sh
check_has "podman top lists sleep 1000" 'sleep 1000' "$PM" top s1
check "podman pause" "$PM" pause s1
check_out "state is paused" paused "$PM" inspect -f '{{.State.Status}}' s1
check "podman unpause" "$PM" unpause s1
check_out "state is running again" running "$PM" inspect -f '{{.State.Status}}' s1
check_out "exec works after unpause" back "$PM" exec s1 echo back
# sleep as pid 1 ignores TERM: stop escalates to KILL
check "podman stop -t 1" "$PM" stop -t 1 s1
check_out "stopped container exited 137" "exited 137" "$PM" inspect -f '{{.State.Status}} {{.State.ExitCode}}' s1
check "podman start of the stopped container" "$PM" start s1
check_out "it runs again" running "$PM" inspect -f '{{.State.Status}}' s1
check "podman kill" "$PM" kill s1
check_out "podman wait after kill prints 137" 137 "$PM" wait s1
check "podman rm" "$PM" rm s1

check "podman run -d (logger, exits 7)" "$PM" run -d --name l1 "${R[@]}" busybox sh -c 'echo out-line; sleep 1; exit 7'
check_out "podman wait prints exit code 7" 7 "$PM" wait l1
check_out "podman logs" out-line "$PM" logs l1
check "podman run -d (to remove)" "$PM" run -d --name r1 "${R[@]}" busybox sleep 1000
check "podman rm -f of a running container" "$PM" rm -f -t 1 r1 l1
check_out "no containers left" "" "$PM" ps -aq

check_runtime_state_empty

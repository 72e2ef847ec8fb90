#!/bin/bash
# containerd (Debian containerd 1.6, ctr) runs its containers with $LEARNRT,
# reached as the runc shim's binary (`ctr run --runc-binary`, which sets the
# io.containerd.runc.v2 shim's BinaryName option, the same option Kubernetes'
# RuntimeClass reaches through CRI).
#
#   sudo LEARNRT=target/debug/learnrt tests/clients/containerd.sh
#   sudo LEARNRT=/usr/sbin/runc BUSYBOX_ROOTFS=/path/to/rootfs tests/clients/containerd.sh
#
# A private containerd (config, root, state, sockets in the temp dir); the
# shims' sockets go to the hard-coded /run/containerd/s, which is a private
# tmpfs here (lib.sh runs every script in its own mount namespace).
. "$(dirname "$(readlink -f "$0")")/lib.sh"
clients_init "$@"

start_containerd "$T/containerd"
export CONTAINERD_ADDRESS=$CTD_SOCK
# ctr's default cgroup path is /<namespace>/<id>: a namespace of our own
export CONTAINERD_NAMESPACE=learnrt-clients-ctr-$$
on_exit "remove_cgroup $CONTAINERD_NAMESPACE"
if overlay_works; then export CONTAINERD_SNAPSHOTTER=overlayfs; else export CONTAINERD_SNAPSHOTTER=native; fi
IMG=docker.io/library/busybox:latest

# oci_archive ROOTFS OUT.tar: an OCI image layout (one uncompressed layer,
# config, manifest, index) packed as a tar, the format `ctr image import` reads
oci_archive() {
    local rootfs=$1 out=$2 dir=$T/oci
    mkdir -p "$dir/blobs/sha256"
    tar -C "$rootfs" -cf "$dir/layer.tar" .
    python3 - "$dir" "$IMG" <<'EOF'
import hashlib, json, os, sys
d, name = sys.argv[1], sys.argv[2]
def put(data):
    h = hashlib.sha256(data).hexdigest()
    with open(os.path.join(d, "blobs", "sha256", h), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + h, "size": len(data)}
layer = open(os.path.join(d, "layer.tar"), "rb").read()
os.remove(os.path.join(d, "layer.tar"))
l = put(layer)
config = {
    "architecture": "amd64", "os": "linux",
    "config": {"Cmd": ["sh"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
    "rootfs": {"type": "layers", "diff_ids": [l["digest"]]},
}
c = put(json.dumps(config).encode())
manifest = {
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": dict(c, mediaType="application/vnd.oci.image.config.v1+json"),
    "layers": [dict(l, mediaType="application/vnd.oci.image.layer.v1.tar")],
}
m = put(json.dumps(manifest).encode())
index = {"schemaVersion": 2, "manifests": [dict(m,
    mediaType="application/vnd.oci.image.manifest.v1+json",
    platform={"architecture": "amd64", "os": "linux"},
    annotations={"io.containerd.image.name": name, "org.opencontainers.image.ref.name": "latest"})]}
json.dump(index, open(os.path.join(d, "index.json"), "w"))
json.dump({"imageLayoutVersion": "1.0.0"}, open(os.path.join(d, "oci-layout"), "w"))
EOF
    tar -C "$dir" -cf "$out" oci-layout index.json blobs
}

check "OCI archive of the busybox rootfs" oci_archive "$ROOTFS" "$T/busybox-oci.tar"
check "ctr image import" ctr image import "$T/busybox-oci.tar"
check_has "the image is listed" "^$IMG " ctr image ls

B=(--runc-binary "$RUNTIME")

# --- run ----------------------------------------------------------------------
check_out "ctr run --rm prints hello" hello ctr run --rm "${B[@]}" "$IMG" t1 echo hello
if runtime_called create; then ok "the shim called learnrt create"; else notok "the shim called learnrt create" "$(cat "$CALLS_LOG")"; fi
check_rc "ctr run --rm exit code 3" 3 ctr run --rm "${B[@]}" "$IMG" t2 sh -c 'exit 3'
check_pty "ctr run -t: a shell on a tty, exit code 3" 3 ctr run --rm -t "${B[@]}" "$IMG" t3 sh

# --- a long-running task ----------------------------------------------------
task_status() { ctr task ls | awk -v id="$1" '$1 == id { print $3 }'; }
check "ctr run -d" ctr run -d "${B[@]}" "$IMG" s1 sleep 1000
check_out "task s1 is RUNNING" RUNNING task_status s1
check_out "ctr task exec prints" in-s1 ctr task exec --exec-id e1 s1 echo in-s1
check_rc "ctr task exec exit code 5" 5 ctr task exec --exec-id e2 s1 sh -c 'exit 5'
check_pty "ctr task exec -t: a shell on a tty, exit code 4" 4 ctr task exec -t --exec-id e3 s1 sh
check_has "ctr task ps lists the init pid" "^$(ctr task ls | awk '$1 == "s1" { print $2 }')( |\$)" ctr task ps s1
check "ctr task pause" ctr task pause s1
check_out "task s1 is PAUSED" PAUSED task_status s1
check "ctr task resume" ctr task resume s1
check_out "task s1 is RUNNING again" RUNNING task_status s1
check_out "exec works after resume" back ctr task exec --exec-id e4 s1 echo back
# (ctr 1.6 has no `task update`: the shim's update path is exercised by docker.sh)
check "ctr task kill -s SIGKILL" ctr task kill -s SIGKILL s1
if wait_for 20 sh -c '[ "$(ctr task ls | awk '\''$1 == "s1" { print $3 }'\'')" = STOPPED ]'; then
    ok "task s1 is STOPPED"
else
    notok "task s1 is STOPPED" "$(ctr task ls 2>&1)"
fi
check_has "ctr task delete reports exit code 137" 'exit code 137' ctr task delete s1
check "ctr container delete" ctr container delete s1

# kill --all: the init and an exec'd process both get the signal
check "ctr run -d (for kill --all)" ctr run -d "${B[@]}" "$IMG" s2 sleep 1000
check "ctr task exec --detach (a second process)" ctr task exec -d --exec-id e6 s2 sleep 999
check_has "both processes are in the task" 'sleep 999' sh -c "ctr task exec --exec-id e7 s2 ps -o args"
check "ctr task kill --all -s SIGKILL" ctr task kill --all -s SIGKILL s2
if wait_for 20 sh -c '[ "$(ctr task ls | awk '\''$1 == "s2" { print $3 }'\'')" = STOPPED ]'; then
    ok "task s2 is STOPPED"
else
    notok "task s2 is STOPPED" "$(ctr task ls 2>&1)"
fi
if grep -Eq ' kill --all [^ ]+ 9$' "$CALLS_LOG"; then ok "the shim called learnrt kill --all ID 9"; else notok "the shim called learnrt kill --all ID 9" "$(grep ' kill ' "$CALLS_LOG")"; fi
check "ctr task delete s2" ctr task delete s2
check "ctr container delete s2" ctr container delete s2

# delete of a running task needs --force
check "ctr run -d (to force-delete)" ctr run -d "${B[@]}" "$IMG" s3 sleep 1000
check_fails_with "ctr task delete of a running task is refused" 'running|stopped' ctr task delete s3
check "ctr task delete --force of a running task" ctr task delete --force s3
check "ctr container delete s3" ctr container delete s3

check_out "no tasks left" "" sh -c "ctr task ls -q"
check_out "no containers left" "" sh -c "ctr container ls -q"
check_runtime_state_empty

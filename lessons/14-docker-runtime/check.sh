#!/usr/bin/env bash
# Lab 14: a high-level runtime (docker or podman) calls learnrt.
#
# Which docker: the machine's own when it already knows a runtime "learnrt";
# otherwise a private one (private-docker.sh: its own containerd and dockerd in
# a private mount namespace, learnrt registered, gone afterwards) when the
# docker.io package is installed; otherwise podman --runtime; otherwise skip.
. "$(dirname "$0")/../lib.sh"
lesson 14
here=$(cd "$(dirname "$0")" && pwd)
lr=$(readlink -f "$(command -v "$LEARNRT" || echo "$LEARNRT")")

# The commands the student types, run against whichever docker we use.
# $1 = how to run a command against that docker ("" or the private-docker.sh path).
try_docker() {
    local via=$1 out
    out=$($via sh -c '
        docker info 2>/dev/null | grep -E "^ *(Runtimes|Default Runtime):"
        echo "--- run"
        docker run --rm --runtime=learnrt --network none '"$2"' echo hello-from-learnrt 2>&1
        echo "--- calls"
        [ -n "${CALLS_LOG:-}" ] && cat "$CALLS_LOG"' </dev/null 2>&1)
    local rc=$?
    if [ $rc -eq 3 ]; then return 3; fi # private-docker: docker.io not installed
    local runtimes=${out%%--- run*} ran=${out#*--- run} calls=${out#*--- calls}
    ran=${ran%%--- calls*}
    if echo "$runtimes" | grep -qw learnrt; then
        ok "docker info lists learnrt among its runtimes: $(echo "$runtimes" | grep Runtimes | xargs)"
        info "$(echo "$runtimes" | grep 'Default Runtime' | xargs) — --runtime=learnrt picks ours for one container"
    else
        bad "docker info does not list learnrt: $(echo $out | head -c 300)"
        return 1
    fi
    if echo "$ran" | grep -qx hello-from-learnrt; then
        ok "docker run --runtime=learnrt printed hello-from-learnrt"
    else
        bad "docker run --runtime=learnrt failed: $(echo "$ran" | tail -3)"
        return 1
    fi
    if [ -n "$via" ]; then
        if echo "$calls" | grep -q ' create --bundle '; then
            ok "docker (through containerd's shim) called: $(echo "$calls" | grep -o 'learnrt .* create --bundle' | sed 's/ --root [^ ]*//; s/ --log [^ ]*//' | head -1) <dir>, then start, delete"
        else
            bad "the calls log does not show learnrt create: $(echo $calls | head -c 300)"
        fi
    fi
}

# 1. This machine's docker, already set up for learnrt (lab README, daemon.json).
if have docker && timeout 10 docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"learnrt"'; then
    info "using this machine's docker"
    if docker image inspect "$LAB_IMAGE" >/dev/null 2>&1; then img=$LAB_IMAGE; else img=busybox; fi
    try_docker "" "$img"
    finish
fi

# 2. A private docker, made for this check and gone after it.
if have dockerd && have containerd; then
    info "this machine's docker does not know learnrt: using a private one ($here/private-docker.sh)"
    try_docker "$here/private-docker.sh" busybox
    rc=$?
    [ $rc -ne 3 ] && finish
fi

# 3. podman takes a runtime's path on the command line.
if have podman && timeout 10 podman info >/dev/null 2>&1; then
    if ! podman image inspect "$LAB_IMAGE" >/dev/null 2>&1; then
        skip "podman has no image $LAB_IMAGE (lab 1 imports it): skipping"; finish
    fi
    if ! base=$(timeout 60 podman run --rm "$LAB_IMAGE" echo hello 2>&1); then
        skip "podman cannot run containers on this machine even with its default runtime ($(echo "$base" | tail -1)): skipping"
        finish
    fi
    out=$(timeout 60 podman --runtime "$lr" run --rm "$LAB_IMAGE" echo hello-from-learnrt 2>&1)
    if echo "$out" | grep -qx hello-from-learnrt; then ok "podman ran $LAB_IMAGE through learnrt"
    else bad "podman could not run $LAB_IMAGE through learnrt: $(echo "$out" | tail -3)"; fi
    finish
fi

skip "no docker.io (dockerd, containerd) and no working podman here: read the lab, nothing to check"
finish

#!/usr/bin/env bash
# Lab 14: a high-level runtime (docker or podman) calls learnrt.
. "$(dirname "$0")/../lib.sh"
lesson 14

e=$(engine)
if [ "$e" = none ]; then
    skip "no working docker or podman: nothing to check (read the lab)"
    finish
fi
if ! $e image inspect "$LAB_IMAGE" >/dev/null 2>&1; then
    bad "$e has no image $LAB_IMAGE — do lab 1 first"
    finish
fi
# First: can this engine run a container at all, with its own runtime?
if ! base=$(timeout 60 $e run --rm "$LAB_IMAGE" echo hello 2>&1); then
    skip "$e cannot run containers on this machine even with its default runtime ($(echo "$base" | tail -1)): skipping"
    finish
fi
ok "$e runs $LAB_IMAGE with its default runtime"
lr=$(readlink -f "$(command -v "$LEARNRT" || echo "$LEARNRT")")
if [ "$e" = docker ]; then
    if docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"learnrt"'; then
        ok "docker knows a runtime named learnrt"
        out=$(timeout 60 docker run --rm --runtime=learnrt "$LAB_IMAGE" echo hello-from-learnrt 2>&1)
    else
        bad "docker has no runtime learnrt — add {\"runtimes\": {\"learnrt\": {\"path\": \"$lr\"}}} to /etc/docker/daemon.json and restart docker"
        finish
    fi
else
    out=$(timeout 60 podman --runtime "$lr" run --rm "$LAB_IMAGE" echo hello-from-learnrt 2>&1)
fi
if echo "$out" | grep -qx hello-from-learnrt; then
    ok "$e ran $LAB_IMAGE through learnrt"
else
    bad "$e could not run $LAB_IMAGE through learnrt: $(echo "$out" | tail -3)"
fi
finish

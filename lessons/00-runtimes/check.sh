#!/usr/bin/env bash
# Lab 0: learnrt is installed and can explain itself.
. "$(dirname "$0")/../lib.sh"
lesson 0

if out=$(lrt --version 2>&1); then
    ok "learnrt runs: $(echo "$out" | head -1)"
else
    bad "learnrt does not run ($LEARNRT) — run: cargo install --path . (in the learnrt repo), or set LEARNRT=/path/to/learnrt"
    finish
fi

if [ "$(id -u)" = 0 ]; then
    ok "you are root (a runtime needs root for most of its work)"
else
    bad "you are not root — run the labs as root: sudo -i"
fi

if out=$(lrt explain 2>&1) && [ "$(echo "$out" | grep -c .)" -ge 5 ]; then
    ok "learnrt explain lists $(echo "$out" | grep -c .) lines of stages"
else
    bad "learnrt explain printed no stage list — run: learnrt explain"
fi

e=$(engine)
case "$e" in
    docker) info "docker's default low-level runtime: $(docker info --format '{{.DefaultRuntime}}' 2>/dev/null)" ;;
    podman) info "podman's low-level runtime: $(podman info --format '{{.Host.OCIRuntime.Name}}' 2>/dev/null)" ;;
    *) info "no working docker or podman: labs 1-3 and 14 use their offline path" ;;
esac
finish

#!/usr/bin/env bash
# Lab 3: c1.tar holds a root filesystem.
. "$(dirname "$0")/../lib.sh"
lesson 3

tar=$LAB_DIR/c1.tar
e=$(engine)
if [ "$e" = none ]; then fix="tar -C $LAB_BUSYBOX/rootfs -cf $tar ."; else fix="$e export $LAB_CTR > $tar"; fi
if [ ! -s "$tar" ]; then
    bad "$tar is missing — run: mkdir -p $LAB_DIR && $fix"
    finish
fi
if ! list=$(tar tf "$tar" 2>/dev/null); then
    bad "$tar is not a tar file — run: $fix"
    finish
fi
ok "$tar is a tar of $(echo "$list" | grep -c .) entries"
if echo "$list" | grep -Eq '^(\./)?bin/sh$'; then
    ok "it holds bin/sh, so the container has a shell"
else
    bad "$tar has no bin/sh — run: $fix"
fi
finish

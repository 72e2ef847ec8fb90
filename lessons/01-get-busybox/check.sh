#!/usr/bin/env bash
# Lab 1: a busybox image (docker/podman) or a busybox tree (offline).
. "$(dirname "$0")/../lib.sh"
lesson 1

if [ -x "$LAB_BUSYBOX/rootfs/bin/sh" ] || [ -L "$LAB_BUSYBOX/rootfs/bin/sh" ]; then
    ok "busybox tree built in $LAB_BUSYBOX/rootfs"
else
    bad "$LAB_BUSYBOX/rootfs/bin/sh is missing — run: $(lrt_hint mkbundle "$LAB_BUSYBOX")"
fi

e=$(engine)
if [ "$e" = none ]; then
    skip "no working docker or podman: the busybox tree stands in for the image"
elif $e image inspect "$LAB_IMAGE" >/dev/null 2>&1; then
    ok "$e has the image $LAB_IMAGE"
else
    bad "$e has no image $LAB_IMAGE — run: tar -C $LAB_BUSYBOX/rootfs -c . | $e import -c 'CMD [\"sh\"]' - $LAB_IMAGE"
fi
finish

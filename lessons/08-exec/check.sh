#!/usr/bin/env bash
# Lab 8: exec works, and runs inside the container.
. "$(dirname "$0")/../lib.sh"
lesson 8

if ! exists "$LAB_ID"; then
    if [ -n "$CHECK_ALL" ]; then
        skip "container $LAB_ID is gone (lab 9 deletes it): check lab 8 before lab 9"
    else
        bad "container $LAB_ID does not exist — do lab 7 first: cd $LAB_DIR && $(lrt_hint create $LAB_ID)"
    fi
    finish
fi
if out=$(lrt exec "$LAB_ID" ls / 2>&1) && echo "$out" | grep -qw aa.txt; then
    ok "ls / inside $LAB_ID shows aa.txt"
else
    bad "ls / inside $LAB_ID does not show aa.txt (got: $(echo $out)) — run: touch $LAB_DIR/rootfs/aa.txt, and check $(lrt_hint exec $LAB_ID ls /)"
fi
pid=$(state_field "$LAB_ID" pid)
host_mnt=$(readlink /proc/self/ns/mnt)
init_mnt=$(readlink "/proc/$pid/ns/mnt" 2>/dev/null)
exec_mnt=$(lrt exec "$LAB_ID" readlink /proc/self/ns/mnt 2>/dev/null | tr -d '\r')
if [ -n "$exec_mnt" ] && [ "$exec_mnt" = "$init_mnt" ] && [ "$exec_mnt" != "$host_mnt" ]; then
    ok "exec joined the container's mount namespace ($exec_mnt; the host's is $host_mnt)"
else
    bad "exec's mount namespace is ${exec_mnt:-unknown}, the init's is ${init_mnt:-unknown}, the host's is $host_mnt — exec must join the init's"
fi
finish

#!/usr/bin/env bash
# Lab 7: container c1 exists, created from the lab's bundle.
. "$(dirname "$0")/../lib.sh"
lesson 7

if ! exists "$LAB_ID"; then
    if [ -n "$CHECK_ALL" ]; then
        skip "container $LAB_ID is gone (lab 9 deletes it): check lab 7 right after doing it"
    else
        bad "container $LAB_ID does not exist — run: cd $LAB_DIR && $(lrt_hint create $LAB_ID)"
    fi
    finish
fi
status=$(state_field "$LAB_ID" status)
case "$status" in
    created) ok "container $LAB_ID exists, status created" ;;
    running) ok "container $LAB_ID exists, status running (it was started: fine)" ;;
    *) bad "container $LAB_ID is $status — run: $(lrt_hint delete -f $LAB_ID); cd $LAB_DIR && $(lrt_hint create $LAB_ID)" ;;
esac
bundle=$(state_field "$LAB_ID" bundle)
if [ "$bundle" -ef "$LAB_DIR" ]; then
    ok "its bundle is $bundle"
else
    bad "its bundle is $bundle, not $LAB_DIR — create it from $LAB_DIR (cd there first, or use -b $LAB_DIR)"
fi
pid=$(state_field "$LAB_ID" pid)
if [ -n "$pid" ] && [ -d "/proc/$pid" ]; then
    ok "its init process $pid is alive"
else
    bad "its init process (${pid:-no pid}) is not alive — run: $(lrt_hint delete -f $LAB_ID), then create it again"
fi
if lrt list 2>/dev/null | grep -q "^$LAB_ID[[:space:]]"; then
    ok "learnrt list shows $LAB_ID"
else
    bad "learnrt list does not show $LAB_ID — run: $(lrt_hint list)"
fi
finish

#!/usr/bin/env bash
# Lab 9: c1 deleted, nothing left behind, bundle kept.
. "$(dirname "$0")/../lib.sh"
lesson 9

if exists "$LAB_ID"; then
    bad "container $LAB_ID still exists — run: $(lrt_hint delete $LAB_ID)   (add -f if it is running)"
else
    ok "container $LAB_ID is deleted"
fi
if lrt list 2>/dev/null | grep -q "^$LAB_ID[[:space:]]"; then
    bad "learnrt list still shows $LAB_ID — run: $(lrt_hint delete -f $LAB_ID)"
else
    ok "learnrt list does not show $LAB_ID"
fi
if [ -e "$LAB_DIR/rootfs/aa.txt" ] && [ -f "$LAB_DIR/config.json" ]; then
    ok "the bundle $LAB_DIR is still there: delete removes the container, not the bundle"
else
    bad "the bundle $LAB_DIR is incomplete — redo labs 4-6"
fi
finish

#!/usr/bin/env bash
# Lab 11: a chroot jail can be escaped; a container made with pivot_root cannot.
. "$(dirname "$0")/../lib.sh"
lesson 11
here=$(cd "$(dirname "$0")" && pwd)

if ! have python3; then
    bad "python3 is needed for escape.py — run: apt-get install python3"
    finish
fi
b=$(mktemp -d /tmp/learnrt-lab11.XXXXXX)
id=check11-$$
trap 'gone $id; rm -rf "$b"' EXIT
fresh_bundle "$b" || { bad "learnrt mkbundle $b failed"; finish; }

out=$(python3 "$here/escape.py" chroot "$b/rootfs" 2>&1)
if echo "$out" | grep -qx ESCAPED; then
    ok "chroot: the escape works (a chroot only moves /; the host's tree is still there)"
else
    bad "chroot: the escape did not work here: $(echo $out)"
fi

if ! lrt create -b "$b" "$id" >/dev/null 2>&1 </dev/null; then
    bad "learnrt create failed — run: $(lrt_hint --explain create -b $b $id)"
    finish
fi
pid=$(state_field "$id" pid)
out=$(python3 "$here/escape.py" ns "$pid" 2>&1)
if echo "$out" | grep -qx "STILL INSIDE"; then
    ok "pivot_root: the same trick stays inside the container (the old root was unmounted)"
else
    bad "pivot_root: escape.py got out of container $id: $(echo $out)"
fi
if grep -q . "/proc/$pid/mountinfo" && ! awk '$5 == "/" {print $4}' "/proc/$pid/mountinfo" | grep -qx /; then
    ok "the container's mount table has no mount of the host's / (cat /proc/$pid/mountinfo)"
else
    info "the container's / comes from: $(awk '$5 == "/" {print $4}' "/proc/$pid/mountinfo" | head -1)"
fi
finish

#!/usr/bin/env bash
# Lab 12: without CAP_NET_ADMIN / CAP_SYS_ADMIN, root in the container cannot
# change network links or mount; with them it can.
. "$(dirname "$0")/../lib.sh"
lesson 12

have python3 || { bad "python3 is needed to edit config.json — run: apt-get install python3"; finish; }
b=$(mktemp -d /tmp/learnrt-lab12.XXXXXX)
id=check12-$$
trap 'gone $id; rm -rf "$b"' EXIT
fresh_bundle "$b" || { bad "learnrt mkbundle $b failed"; finish; }

# try CAP COMMAND...: run COMMAND in a fresh container, with CAP added when not "none".
try() {
    local cap=$1; shift
    cp "$b/config.json" "$b/config.orig" 2>/dev/null || true
    json_edit "$b/config.json" "
c['process']['args'] = ['sh', '-c', '''$*''']
cap = '$cap'
if cap != 'none':
    for k in ('bounding', 'effective', 'permitted'):
        s = c['process'].setdefault('capabilities', {}).setdefault(k, [])
        if cap not in s: s.append(cap)
"
    gone "$id"
    lrt run -b "$b" "$id" </dev/null 2>&1
    local rc=$?
    gone "$id"
    mv "$b/config.orig" "$b/config.json"
    return $rc
}

caps=$(tr -d ' \t\n' < "$b/config.json" | grep -o '"bounding":\[[^]]*' | grep -o 'CAP_[A-Z_]*' | xargs)
info "default bounding set: $caps"

if [ ! -e "$b/rootfs/bin/ip" ] && [ ! -L "$b/rootfs/bin/ip" ]; then
    skip "no ip in this rootfs (not busybox): skipping the CAP_NET_ADMIN part"
else
    # A new network namespace starts with lo down, and busybox ip only calls
    # the kernel when the flags change: so bring it *up*, which always asks.
    if out=$(try none 'ip link set lo up && ip link show lo'); then
        bad "ip link set lo up worked without CAP_NET_ADMIN: $(echo $out)"
    else
        ok "without CAP_NET_ADMIN: ip link set lo up fails ($(echo "$out" | tail -1))"
    fi
    if out=$(try CAP_NET_ADMIN 'ip link set lo up && ip link show lo') && echo "$out" | grep -q '<.*UP.*>'; then
        ok "with CAP_NET_ADMIN: ip link set lo up works (lo is UP in the container's own network namespace)"
    else
        bad "with CAP_NET_ADMIN added, ip link set lo up still fails: $(echo $out)"
    fi
fi

if out=$(try none 'mount -t tmpfs none /dev'); then
    bad "mount -t tmpfs worked without CAP_SYS_ADMIN: $(echo $out)"
else
    ok "without CAP_SYS_ADMIN: mount -t tmpfs fails ($(echo "$out" | tail -1))"
fi
if out=$(try CAP_SYS_ADMIN 'mount -t tmpfs none /dev && echo mounted'); then
    ok "with CAP_SYS_ADMIN: mount -t tmpfs works"
else
    bad "with CAP_SYS_ADMIN added, mount -t tmpfs still fails: $(echo $out)"
fi
finish

#!/usr/bin/env bash
# Lab 13: memory and pids limits from config.json land in the container's cgroup.
. "$(dirname "$0")/../lib.sh"
lesson 13

have python3 || { bad "python3 is needed to edit config.json — run: apt-get install python3"; finish; }
b=$(mktemp -d /tmp/learnrt-lab13.XXXXXX)
id=check13-$$
trap 'gone $id; rm -rf "$b"' EXIT
fresh_bundle "$b" || { bad "learnrt mkbundle $b failed"; finish; }
json_edit "$b/config.json" "
r = c.setdefault('linux', {}).setdefault('resources', {})
r['memory'] = {'limit': 67108864}
r['pids'] = {'limit': 16}
"
if ! lrt create -b "$b" "$id" >/dev/null 2>&1 </dev/null; then
    bad "learnrt create failed — run: $(lrt_hint --explain create -b $b $id)"
    finish
fi
pid=$(state_field "$id" pid)

# cgroup v2 has one line "0::/path"; v1 has one line per controller.
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    p=$(grep '^0::' /proc/$pid/cgroup | cut -d: -f3)
    mem=/sys/fs/cgroup$p/memory.max; pids=/sys/fs/cgroup$p/pids.max
    info "cgroup v2: the container's cgroup is /sys/fs/cgroup$p"
else
    mem=/sys/fs/cgroup/memory$(grep ':memory:' /proc/$pid/cgroup | cut -d: -f3)/memory.limit_in_bytes
    pids=/sys/fs/cgroup/pids$(grep ':pids:' /proc/$pid/cgroup | cut -d: -f3)/pids.max
    info "cgroup v1: one directory per controller"
fi
v=$(cat "$mem" 2>/dev/null)
if [ "$v" = 67108864 ]; then ok "memory limit 64 MiB is in $mem"
else bad "$mem holds '${v:-nothing}', want 67108864 (linux.resources.memory.limit)"; fi
v=$(cat "$pids" 2>/dev/null)
if [ "$v" = 16 ]; then ok "pids limit 16 is in $pids"
else bad "$pids holds '${v:-nothing}', want 16 (linux.resources.pids.limit)"; fi

out=$(lrt exec "$id" sh -c 'i=0; while [ $i -lt 30 ]; do sleep 2 & i=$((i+1)); done; wait' 2>&1 </dev/null)
if echo "$out" | grep -qiE "fork|resource temporarily unavailable"; then
    ok "30 background sleeps hit the pids limit: $(echo "$out" | grep -iE 'fork|unavailable' | head -1)"
else
    bad "30 background sleeps did not hit the pids limit (output: $(echo $out | head -c 200))"
fi
finish

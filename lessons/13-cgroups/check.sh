#!/usr/bin/env bash
# Lab 13: memory and pids limits from config.json land in the container's cgroup,
# and the kernel enforces them: too many forks fail, too much memory is OOM-killed.
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

# dd's buffer is bs bytes, filled from /dev/zero: 32 MiB fits under 64 MiB,
# 100 MiB does not, and the kernel's OOM killer ends dd (SIGKILL, exit 137).
out=$(lrt exec "$id" sh -c 'dd if=/dev/zero of=/dev/null bs=32M count=1 2>/dev/null && echo fits' 2>&1 </dev/null)
if [ "$out" = fits ]; then ok "dd with a 32 MiB buffer runs under the 64 MiB limit"
else bad "dd with a 32 MiB buffer failed under a 64 MiB limit: $(echo $out | head -c 200)"; fi
out=$(lrt exec "$id" sh -c 'dd if=/dev/zero of=/dev/null bs=100M count=1 2>/dev/null; echo "exit $?"' 2>&1 </dev/null)
case "$out" in
    *"exit 137"*) ok "dd with a 100 MiB buffer was killed by the OOM killer (exit 137 = 128 + SIGKILL)" ;;
    *) bad "dd with a 100 MiB buffer was not stopped by the 64 MiB limit (output: $(echo $out | head -c 200))" ;;
esac
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    ev=$(grep '^oom_kill ' "${mem%/*}/memory.events" 2>/dev/null | cut -d' ' -f2)
    [ "${ev:-0}" -gt 0 ] && info "memory.events counts it: oom_kill $ev"
else
    ev=$(grep '^oom_kill ' "${mem%/*}/memory.oom_control" 2>/dev/null | cut -d' ' -f2)
    [ "${ev:-0}" -gt 0 ] && info "memory.oom_control counts it: oom_kill $ev"
fi

# The sleeps outlive this exec (pid 1 of the container adopts them), so this
# test comes last: until they end, the container has no pids to spare.
# No `wait`, and the sleeps do not hold our pipe: the checker need not sit
# them out; delete -f ends them.
out=$(lrt exec "$id" sh -c 'i=0; while [ $i -lt 30 ]; do sleep 5 >/dev/null 2>&1 & i=$((i+1)); done' 2>&1 </dev/null)
if echo "$out" | grep -qiE "fork|resource temporarily unavailable"; then
    ok "30 background sleeps hit the pids limit: $(echo "$out" | grep -iE 'fork|unavailable' | head -1)"
else
    bad "30 background sleeps did not hit the pids limit (output: $(echo $out | head -c 200))"
fi
finish

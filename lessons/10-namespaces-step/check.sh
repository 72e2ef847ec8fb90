#!/usr/bin/env bash
# Lab 10: a created container lives in new namespaces, the ones config.json asks for.
. "$(dirname "$0")/../lib.sh"
lesson 10

b=$(mktemp -d /tmp/learnrt-lab10.XXXXXX)
id=check10-$$
trap 'gone $id; gone $id-step; rm -rf "$b"' EXIT
fresh_bundle "$b" || { bad "learnrt mkbundle $b failed"; finish; }
if ! lrt create -b "$b" "$id" >/dev/null 2>&1 </dev/null; then
    bad "learnrt create failed — run: $(lrt_hint --explain create -b $b $id) to see which stage"
    finish
fi
pid=$(state_field "$id" pid)
ok "made a test container $id, init pid $pid"

wanted=$(tr -d ' \t\n' < "$b/config.json" | grep -o '"namespaces":\[[^]]*' | grep -o '"type":"[a-z]*' | cut -d'"' -f4)
for t in mount uts ipc pid network cgroup user; do
    case $t in mount) n=mnt ;; network) n=net ;; *) n=$t ;; esac
    host=$(readlink /proc/self/ns/$n 2>/dev/null) || continue
    mine=$(readlink /proc/$pid/ns/$n 2>/dev/null)
    if echo "$wanted" | grep -qx "$t"; then
        if [ "$mine" != "$host" ]; then ok "$n: new ($mine; host $host), as config.json asks"
        else bad "$n: config.json asks for a new $t namespace, but the init shares the host's $host"; fi
    else
        if [ "$mine" = "$host" ]; then ok "$n: shared with the host (config.json does not ask for it)"
        else bad "$n: the init has its own ($mine) though config.json does not ask for one"; fi
    fi
done

nspid=$(grep '^NSpid:' /proc/$pid/status | cut -d: -f2 | xargs)
case "$nspid" in
    *" 1") ok "the init is pid $pid on the host and pid 1 inside (NSpid: $nspid)" ;;
    *) bad "NSpid is '$nspid': the init should be pid 1 in its own pid namespace" ;;
esac

if lrt --step create -b "$b" "$id-step" </dev/null >/dev/null 2>&1; then
    bad "--step ran without a terminal; it should refuse and say why"
elif exists "$id-step"; then
    bad "--step refused, but left container $id-step behind"
else
    ok "--step refuses to run without a terminal, and leaves nothing behind"
fi
finish

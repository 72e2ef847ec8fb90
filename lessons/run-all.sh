#!/usr/bin/env bash
# Do every lab's commands, in order, in a temp work dir, and run each lab's
# checker right after it. This is what CI runs; a teacher can run it to see
# that a machine is ready for the class.
#
#   LEARNRT=/path/to/learnrt lessons/run-all.sh
#
# Optional: LEARNRT_ROOT (state root; default a temp dir), LEARNRT_LAB_ENGINE
# (docker|podman|none; default: the first that works), KEEP=1 keeps the work dir.
set -u
here=$(cd "$(dirname "$0")" && pwd)

: "${LEARNRT:?set LEARNRT to the learnrt binary}"
LEARNRT=$(readlink -f "$(command -v "$LEARNRT" || echo "$LEARNRT")")
[ -x "$LEARNRT" ] || { echo "run-all: $LEARNRT is not executable" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "run-all: the labs need root" >&2; exit 2; }

work=$(mktemp -d /tmp/learnrt-labs.XXXXXX)
export LEARNRT
export LEARNRT_ROOT=${LEARNRT_ROOT:-$work/state}
export LEARNRT_LAB_DIR=$work/c1
export LEARNRT_LAB_BUSYBOX=$work/busybox
export LEARNRT_LAB_CTR=learnrt-lab-$$
export LEARNRT_LAB_IMAGE=learnrt-lab-busybox:run$$
export LEARNRT_CHECK_ALL=
. "$here/lib.sh"
lesson run-all

failed=()
engine_used=$(engine)

cleanup() {
    lrt delete -f c1 >/dev/null 2>&1
    if [ "$engine_used" != none ]; then
        $engine_used rm -f "$LEARNRT_LAB_CTR" >/dev/null 2>&1
        $engine_used rmi "$LEARNRT_LAB_IMAGE" >/dev/null 2>&1
    fi
    if [ -z "${KEEP:-}" ]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT

# step TEXT: show what we are about to type.
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
    say() { printf '\n\033[1m## %s\033[0m\n' "$*"; }
else
    say() { printf '\n## %s\n' "$*"; }
fi
# run CMD...: show it as a student would type it, then run it.
run() { local shown="$*"; echo "\$ ${shown/#lrt /learnrt }"; "$@"; }
# check N: run lab N's checker, remember failures.
check() {
    if ! bash "$here/check" "$1"; then failed+=("$1"); fi
}

# The engine's part can fail on a machine where it cannot run containers
# (a sandbox, some CI runners). Then we go on offline, like the tutorial.
no_engine() {
    echo "($engine_used failed here: going on without it)"
    engine_used=none
    export LEARNRT_LAB_ENGINE=none
    _engine=none
}
export LEARNRT_LAB_ENGINE=$engine_used

say "Lab 0: runtimes"
run lrt --version
run lrt explain
check 0

say "Lab 1: get busybox"
run lrt mkbundle "$LEARNRT_LAB_BUSYBOX"
if [ "$engine_used" != none ]; then
    echo "\$ tar -C $LEARNRT_LAB_BUSYBOX/rootfs -c . | $engine_used import -c 'CMD [\"sh\"]' - $LEARNRT_LAB_IMAGE"
    tar -C "$LEARNRT_LAB_BUSYBOX/rootfs" -c . | $engine_used import -c 'CMD ["sh"]' - "$LEARNRT_LAB_IMAGE" || no_engine
fi
check 1

say "Lab 2: run a container"
if [ "$engine_used" != none ]; then
    run $engine_used run -dit --name="$LEARNRT_LAB_CTR" "$LEARNRT_LAB_IMAGE" </dev/null ||
        { $engine_used rm -f "$LEARNRT_LAB_CTR" >/dev/null 2>&1
          run $engine_used create --name="$LEARNRT_LAB_CTR" "$LEARNRT_LAB_IMAGE" || no_engine; }
fi
check 2

say "Lab 3: export it"
run mkdir -p "$LEARNRT_LAB_DIR"
if [ "$engine_used" != none ]; then
    echo "\$ $engine_used export $LEARNRT_LAB_CTR > $LEARNRT_LAB_DIR/c1.tar"
    $engine_used export "$LEARNRT_LAB_CTR" > "$LEARNRT_LAB_DIR/c1.tar" || no_engine
fi
if [ "$engine_used" = none ]; then
    run tar -C "$LEARNRT_LAB_BUSYBOX/rootfs" -cf "$LEARNRT_LAB_DIR/c1.tar" .
fi
check 3

say "Lab 4: the bundle directory"
run mkdir -p "$LEARNRT_LAB_DIR/rootfs"
check 4

say "Lab 5: unpack"
run tar xf "$LEARNRT_LAB_DIR/c1.tar" -C "$LEARNRT_LAB_DIR/rootfs"
run touch "$LEARNRT_LAB_DIR/rootfs/aa.txt"
check 5

say "Lab 6: config.json"
run cd "$LEARNRT_LAB_DIR"
run lrt spec
run sed -i 's/"terminal": *true/"terminal": false/' config.json
check 6

say "Lab 7: create"
run lrt --explain create c1 </dev/null
run lrt list
check 7

say "Lab 8: exec"
# exec -t needs a terminal: script(1) gives it one, and we type for the student.
if have script; then
    echo "\$ learnrt exec -t c1 /bin/sh    (typing: ls /; exit)"
    printf 'ls /\nexit\n' | timeout 60 script -qfec "$(printf '%q ' "$LEARNRT" --root "$LEARNRT_ROOT" exec -t c1 /bin/sh)" /dev/null |
        tr -d '\r' | tee "$work/exec-t.out"
    grep -qw aa.txt "$work/exec-t.out" || echo "(exec -t did not show aa.txt)"
else
    run lrt --explain exec c1 ls /
fi
check 8

say "Lab 9: delete"
run lrt --explain delete c1
run lrt list
check 9

say "Lab 10: namespaces, step by step"
if have script; then
    # --step waits for Enter before each stage: press it 40 times.
    echo "\$ learnrt --step create c10    (pressing Enter at each stage)"
    yes '' | head -40 | timeout 120 script -qfec "$(printf '%q ' "$LEARNRT" --root "$LEARNRT_ROOT" --step create c10)" /dev/null |
        tr -d '\r' | tail -20
    run lrt state c10 || failed+=("10 (--step create)"); echo
    lrt delete -f c10 >/dev/null 2>&1
fi
check 10

say "Lab 11: pivot_root vs chroot"
run python3 "$here/11-pivot-root-vs-chroot/escape.py" chroot "$LEARNRT_LAB_DIR/rootfs"
check 11

say "Lab 12: capabilities"
check 12

say "Lab 13: cgroups"
check 13

say "Lab 14: learnrt under docker/podman"
check 14

echo
if [ ${#failed[@]} -eq 0 ]; then
    echo "run-all: every lab passes"
else
    echo "run-all: failing labs: ${failed[*]}"
    exit 1
fi

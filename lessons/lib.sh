# Shared by every lessons/NN-*/check.sh (sourced, not run).
#
# Settings, all from the environment:
#   LEARNRT_LAB_DIR     the tutorial's bundle directory          (default /c1)
#   LEARNRT_ROOT        learnrt's state root, passed as --root   (default: learnrt's own)
#   LEARNRT             the learnrt binary                        (default: learnrt on PATH,
#                       else target/release or target/debug of this repo)
#   LEARNRT_LAB_ENGINE  docker | podman | none                    (default: the first that works)
#   LEARNRT_LAB_IMAGE   image name for labs 1-3 and 14            (default busybox)
#   LEARNRT_LAB_CTR     docker/podman container name of lab 2     (default c1)
#   LEARNRT_LAB_BUSYBOX where lab 1 builds the busybox tree       (default $LEARNRT_LAB_DIR-busybox)
#   LEARNRT_CHECK_ALL   set by `lessons/check all`

set -u

LESSONS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_DIR=${LEARNRT_LAB_DIR:-/c1}
LAB_DIR=${LAB_DIR%/}
LAB_BASE=$(dirname "$LAB_DIR")
LAB_BASE=${LAB_BASE%/}
LAB_ID=c1
LAB_CTR=${LEARNRT_LAB_CTR:-c1}
LAB_IMAGE=${LEARNRT_LAB_IMAGE:-busybox}
LAB_BUSYBOX=${LEARNRT_LAB_BUSYBOX:-$LAB_DIR-busybox}
CHECK_ALL=${LEARNRT_CHECK_ALL:-}

if [ -z "${LEARNRT:-}" ]; then
    if command -v learnrt >/dev/null 2>&1; then
        LEARNRT=$(command -v learnrt)
    elif [ -x "$LESSONS_DIR/../target/release/learnrt" ]; then
        LEARNRT=$LESSONS_DIR/../target/release/learnrt
    elif [ -x "$LESSONS_DIR/../target/debug/learnrt" ]; then
        LEARNRT=$LESSONS_DIR/../target/debug/learnrt
    else
        LEARNRT=learnrt
    fi
fi

LESSON=?
_failed=0

lesson() { LESSON=$1; }
ok()     { echo "[lesson $LESSON] ✓ $*"; }
bad()    { echo "[lesson $LESSON] ✗ $*"; _failed=1; }
skip()   { echo "[lesson $LESSON] ○ $*"; }
info()   { echo "[lesson $LESSON]   $*"; }
finish() { exit "$_failed"; }

# learnrt with the lab's state root.
lrt() {
    if [ -n "${LEARNRT_ROOT:-}" ]; then
        "$LEARNRT" --root "$LEARNRT_ROOT" "$@"
    else
        "$LEARNRT" "$@"
    fi
}

# How the student would type it (for fix hints).
lrt_hint() {
    if [ -n "${LEARNRT_ROOT:-}" ]; then echo "learnrt --root $LEARNRT_ROOT $*"; else echo "learnrt $*"; fi
}

have() { command -v "$1" >/dev/null 2>&1; }

# The high-level runtime the labs use: docker, podman or none.
engine() {
    if [ -n "${_engine:-}" ]; then echo "$_engine"; return; fi
    _engine=none
    case "${LEARNRT_LAB_ENGINE:-auto}" in
        docker|podman|none) _engine=$LEARNRT_LAB_ENGINE ;;
        *)
            for e in docker podman; do
                if have "$e" && timeout 10 "$e" info >/dev/null 2>&1; then _engine=$e; break; fi
            done ;;
    esac
    echo "$_engine"
}

# A field of `learnrt state ID` ("status", "pid", "bundle"), or nothing.
state_field() {
    lrt state "$1" 2>/dev/null | tr -d '\n' |
        grep -o "\"$2\": *\"\{0,1\}[^\",}]*" | head -1 | sed 's/.*: *"\{0,1\}//'
}

exists() { lrt state "$1" >/dev/null 2>&1; }

# Edit a JSON file with a Python statement on `c` (the parsed document).
json_edit() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
path, stmt = sys.argv[1], sys.argv[2]
with open(path) as f:
    c = json.load(f)
exec(stmt)
with open(path, "w") as f:
    json.dump(c, f, indent=2)
    f.write("\n")
EOF
}

# A fresh bundle for the extra labs: learnrt mkbundle DIR (terminal false).
fresh_bundle() {
    local out
    rm -rf "$1"
    out=$(lrt mkbundle "$1" 2>&1) || { echo "$out" >&2; return 1; }
}

# Delete a container the checker made, whatever state it is in.
gone() { lrt delete -f "$1" >/dev/null 2>&1 || true; }

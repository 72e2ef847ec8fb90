#!/usr/bin/env bash
# Lab 2: docker/podman made a container from the image.
. "$(dirname "$0")/../lib.sh"
lesson 2

e=$(engine)
if [ "$e" = none ]; then
    skip "no working docker or podman: nothing to run here (read the lab, then go on)"
    finish
fi
if status=$($e inspect --format '{{.State.Status}}' "$LAB_CTR" 2>/dev/null); then
    ok "$e has a container $LAB_CTR (status: $status)"
    image=$($e inspect --format '{{.Config.Image}}' "$LAB_CTR" 2>/dev/null)
    case "$image" in
        *"${LAB_IMAGE%:*}"*) ok "it was made from $image" ;;
        *) bad "it was made from $image, not $LAB_IMAGE — run: $e rm -f $LAB_CTR; $e run -dit --name=$LAB_CTR $LAB_IMAGE" ;;
    esac
else
    bad "$e has no container $LAB_CTR — run: $e run -dit --name=$LAB_CTR $LAB_IMAGE"
fi
finish

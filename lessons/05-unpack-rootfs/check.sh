#!/usr/bin/env bash
# Lab 5: c1.tar unpacked into rootfs, and aa.txt made.
. "$(dirname "$0")/../lib.sh"
lesson 5

r=$LAB_DIR/rootfs
if [ -e "$r/bin/sh" ] || [ -L "$r/bin/sh" ]; then
    ok "rootfs unpacked into $r"
else
    bad "$r/bin/sh is missing — run: tar xf $LAB_DIR/c1.tar -C $r"
fi
if [ -f "$r/aa.txt" ]; then
    ok "$r/aa.txt is there, to recognise this rootfs from inside"
else
    bad "$r/aa.txt is missing — run: touch $r/aa.txt"
fi
finish

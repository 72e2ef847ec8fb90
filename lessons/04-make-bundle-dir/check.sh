#!/usr/bin/env bash
# Lab 4: the bundle directory and its rootfs.
. "$(dirname "$0")/../lib.sh"
lesson 4

if [ -d "$LAB_DIR/rootfs" ]; then
    ok "$LAB_DIR/rootfs is a directory"
else
    bad "$LAB_DIR/rootfs is missing — run: mkdir -p $LAB_DIR/rootfs"
fi
finish

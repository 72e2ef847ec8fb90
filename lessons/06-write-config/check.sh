#!/usr/bin/env bash
# Lab 6: config.json from `learnrt spec`, with terminal false.
. "$(dirname "$0")/../lib.sh"
lesson 6

cfg=$LAB_DIR/config.json
if [ ! -f "$cfg" ]; then
    bad "$cfg is missing — run: cd $LAB_DIR && $(lrt_hint spec)"
    finish
fi
ok "$cfg exists"
if have python3; then
    if ! err=$(python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$cfg" 2>&1); then
        bad "$cfg is not valid JSON: ${err##*$'\n'} — fix it, or rm it and run: $(lrt_hint spec)"
        finish
    fi
    terminal=$(python3 -c 'import json,sys; print(str(json.load(open(sys.argv[1]))["process"].get("terminal", False)).lower())' "$cfg")
    rootpath=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["root"]["path"])' "$cfg")
else
    terminal=$(tr -d ' \t\n' < "$cfg" | grep -o '"terminal":[a-z]*' | head -1 | cut -d: -f2)
    rootpath=$(tr -d ' \t\n' < "$cfg" | grep -o '"root":{[^}]*' | grep -o '"path":"[^"]*' | cut -d'"' -f4)
fi
if [ "$terminal" = false ]; then
    ok "process.terminal is false"
else
    bad "process.terminal is ${terminal:-missing} — run: sed -i 's/\"terminal\": true/\"terminal\": false/' $cfg"
fi
case "$rootpath" in /*) full=$rootpath ;; *) full=$LAB_DIR/$rootpath ;; esac
if [ -d "$full" ]; then
    ok "root.path is \"$rootpath\" and $full exists"
else
    bad "root.path is \"$rootpath\" but $full is missing — set root.path to \"rootfs\""
fi
finish

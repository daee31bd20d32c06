#!/usr/bin/python3
"""Last step of the hand-made unit sandbox (see unitsandbox.py): runs as the
service user, already inside the private mount/IPC/UTS namespaces and with
no capabilities, and applies what systemd applies last before exec'ing the
daemon: PrivateUsers= (a user namespace mapping only our own uid and gid),
UMask=, and one seccomp filter standing for SystemCallFilter=,
SystemCallArchitectures=native, SystemCallErrorNumber=, MemoryDenyWriteExecute=,
RestrictAddressFamilies=, RestrictNamespaces= and LockPersonality=.

Usage: sandbox_exec.py POLICY.json -- PROGRAM ARGS...
The policy (written by unitsandbox.py) holds the allowed syscall numbers
and which of the options above to enforce. Python standard library only.
"""
import ctypes
import json
import os
import struct
import sys

libc = ctypes.CDLL(None, use_errno=True)

PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
CLONE_NEWUSER = 0x10000000

SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
AUDIT_ARCH_X86_64 = 0xC000003E

# BPF opcodes
LD_W_ABS = 0x20    # BPF_LD | BPF_W | BPF_ABS
JEQ_K = 0x15       # BPF_JMP | BPF_JEQ | BPF_K
JGE_K = 0x35       # BPF_JMP | BPF_JGE | BPF_K
JSET_K = 0x45      # BPF_JMP | BPF_JSET | BPF_K
AND_K = 0x54       # BPF_ALU | BPF_AND | BPF_K
RET_K = 0x06       # BPF_RET | BPF_K

OFF_NR, OFF_ARCH = 0, 4


def off_arg(i):
    """Offset of the low 32 bits of syscall argument i (little endian)."""
    return 16 + 8 * i


def ins(code, k=0, jt=0, jf=0):
    return (code, jt, jf, k)


def errno_ret(e):
    return ins(RET_K, SECCOMP_RET_ERRNO | (e & 0xFFFF))


def arg_rule(nr, body):
    """Runs body (ending in RET) for syscall nr; other syscalls skip it."""
    return [ins(LD_W_ABS, OFF_NR), ins(JEQ_K, nr, 0, len(body))] + body


def build_filter(policy):
    deny = policy["errno"]
    prog = [
        ins(LD_W_ABS, OFF_ARCH),
        ins(JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        ins(RET_K, SECCOMP_RET_KILL_PROCESS),
        ins(LD_W_ABS, OFF_NR),
        ins(JGE_K, 0x40000000, 0, 1),  # x32 ABI: not native
        errno_ret(deny),
    ]
    if policy.get("memory_deny_write_execute"):
        # PROT_WRITE|PROT_EXEC (6) together: refused, like systemd does.
        for nr, argi in policy["mdwe_calls"]:
            prog += arg_rule(nr, [
                ins(LD_W_ABS, off_arg(argi)),
                ins(AND_K, 6),
                ins(JEQ_K, 6, 0, 1),
                errno_ret(1),  # EPERM
                ins(LD_W_ABS, OFF_NR),
            ])
    if policy.get("address_families"):
        fams = policy["address_families"]
        body = [ins(LD_W_ABS, off_arg(0))]
        for i, fam in enumerate(fams):
            # jump to the ALLOW after the EAFNOSUPPORT return
            body.append(ins(JEQ_K, fam, len(fams) - i, 0))
        body += [errno_ret(97), ins(RET_K, SECCOMP_RET_ALLOW)]
        prog += arg_rule(policy["nr_socket"], body)
    if policy.get("restrict_namespaces"):
        for nr in policy["ns_calls"]:
            prog += arg_rule(nr, [errno_ret(1)])
        prog += arg_rule(policy["nr_clone"], [
            ins(LD_W_ABS, off_arg(0)),
            ins(JSET_K, policy["ns_flags"], 0, 1),
            errno_ret(1),
            ins(LD_W_ABS, OFF_NR),
        ])
        # glibc falls back to clone() when clone3() says ENOSYS.
        prog += arg_rule(policy["nr_clone3"], [errno_ret(38)])
    if policy.get("lock_personality"):
        prog += arg_rule(policy["nr_personality"], [
            ins(LD_W_ABS, off_arg(0)),
            ins(JEQ_K, 0xFFFFFFFF, 2, 0),  # query
            ins(JEQ_K, 0, 1, 0),           # PER_LINUX
            errno_ret(1),
            ins(RET_K, SECCOMP_RET_ALLOW),
        ])
    prog.append(ins(LD_W_ABS, OFF_NR))
    for nr in sorted(set(policy["allow"])):
        prog += [ins(JEQ_K, nr, 0, 1), ins(RET_K, SECCOMP_RET_ALLOW)]
    prog.append(errno_ret(deny))
    if len(prog) > 4096:
        sys.exit("sandbox_exec: seccomp program too long")
    return prog


def install_filter(prog):
    raw = b"".join(struct.pack("=HBBI", c, jt, jf, k) for c, jt, jf, k in prog)
    buf = ctypes.create_string_buffer(raw, len(raw))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(prog), ctypes.cast(buf, ctypes.c_void_p))
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(NO_NEW_PRIVS)")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(SECCOMP)")


def private_users():
    """A user namespace where only our uid and gid are mapped (to
    themselves); supplementary groups keep working but show as nobody,
    as under systemd's PrivateUsers=yes."""
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(CLONE_NEWUSER) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWUSER)")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"{uid} {uid} 1\n")
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny\n")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"{gid} {gid} 1\n")
    # A new user namespace starts with a full bounding set; systemd drops
    # CapabilityBoundingSet= after creating it, so do the same.
    # (/proc/sys may be hidden by ProcSubset=pid: stop at the first EINVAL.)
    for cap in range(64):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            if ctypes.get_errno() == 22:
                break
            raise OSError(ctypes.get_errno(), f"prctl(CAPBSET_DROP, {cap})")


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit("usage: sandbox_exec.py POLICY.json -- PROGRAM ARGS...")
    with open(sys.argv[1]) as f:
        policy = json.load(f)
    argv = sys.argv[3:]
    if policy.get("private_users"):
        try:
            private_users()
        except OSError as e:
            print(f"sandbox_exec: warning: no PrivateUsers= here: {e}", file=sys.stderr)
    if policy.get("umask") is not None:
        os.umask(policy["umask"])
    prog = build_filter(policy) if policy.get("seccomp") else None
    if prog:
        install_filter(prog)
    os.execv(argv[0], argv)


if __name__ == "__main__":
    main()

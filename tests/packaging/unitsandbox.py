"""Starts a service the way its systemd unit would, on machines where no
systemd runs as PID 1 (CI containers): reads the unit's [Service] section
and rebuilds by hand as much of its sandbox as the kernel lets root do.

Emulated: ExecStart= (same command line), User=, Group=,
SupplementaryGroups=, UMask=, StateDirectory=/LogsDirectory= (created and
chowned, the only writable places), ProtectSystem=strict (every mount
read-only), ProtectHome=yes, PrivateTmp=yes, ProtectKernelTunables=,
ProtectControlGroups=, ProtectProc=/ProcSubset= (a fresh /proc with
hidepid/subset), PrivateIPC=, ProtectHostname= (IPC and UTS namespaces),
PrivateMounts=, NoNewPrivileges=, CapabilityBoundingSet=/AmbientCapabilities=
(all dropped), PrivateUsers=, and through one seccomp filter
SystemCallFilter=, SystemCallArchitectures=native, SystemCallErrorNumber=,
MemoryDenyWriteExecute=, RestrictAddressFamilies=, RestrictNamespaces=,
LockPersonality=. The environment is the one systemd gives (NOTIFY_SOCKET,
WATCHDOG_USEC, STATE_DIRECTORY, ...).

Not emulated (reported by not_emulated()): DevicePolicy=/DeviceAllow= (would
need the host's device cgroup), RestrictSUIDSGID=, RemoveIPC=,
KeyringMode=, ProtectClock=/ProtectKernelModules=/ProtectKernelLogs= beyond
what the seccomp filter and /proc subset=pid already take away, and
Restart=/WatchdogSec= supervision.
"""
import grp
import json
import os
import platform
import pwd
import re
import shlex
import shutil
import subprocess

HANDLED = {
    "Type", "NotifyAccess", "ExecStart", "ExecReload", "WatchdogSec", "Restart", "RestartSec",
    "RestartPreventExitStatus", "TimeoutStopSec", "SyslogIdentifier",
    "User", "Group", "SupplementaryGroups", "UMask", "StateDirectory", "StateDirectoryMode",
    "LogsDirectory", "LogsDirectoryMode", "ProtectSystem", "ProtectHome", "PrivateTmp",
    "PrivateMounts", "PrivateIPC", "PrivateUsers", "NoNewPrivileges", "CapabilityBoundingSet",
    "AmbientCapabilities", "ProtectKernelTunables", "ProtectControlGroups", "ProtectHostname",
    "ProtectProc", "ProcSubset", "RestrictAddressFamilies", "RestrictNamespaces",
    "LockPersonality", "MemoryDenyWriteExecute", "SystemCallArchitectures", "SystemCallFilter",
    "SystemCallErrorNumber",
}
NOT_EMULATED = {
    "DevicePolicy", "DeviceAllow", "RestrictSUIDSGID", "RemoveIPC", "KeyringMode",
    "ProtectClock", "ProtectKernelModules", "ProtectKernelLogs", "RestrictRealtime",
}

AF = {"AF_UNIX": 1, "AF_LOCAL": 1, "AF_INET": 2, "AF_INET6": 10, "AF_NETLINK": 16,
      "AF_PACKET": 17}
ERRNO = {"EPERM": 1, "EACCES": 13, "ENOSYS": 38}
NS_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 \
    | 0x40000000  # NEWNS NEWCGROUP NEWUTS NEWIPC NEWUSER NEWPID NEWNET
UNISTD = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"


def parse_unit(path, instance=None):
    """Returns {key: [values]} of the [Service] section, with %i expanded."""
    out, section = {}, None
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            if section != "Service" or "=" not in line:
                continue
            key, value = line.split("=", 1)
            if instance is not None:
                value = value.replace("%i", instance)
            if not value.strip():
                out[key.strip()] = []  # an empty assignment resets a list, as systemd does
                continue
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def last(unit, key, default=None):
    return unit[key][-1] if unit.get(key) else default


def yes(unit, key):
    return last(unit, key, "no").lower() in ("yes", "true", "1", "on", "strict", "invisible")


def not_emulated(unit, namespaces=True):
    out = sorted(k for k in unit if k in NOT_EMULATED or k not in HANDLED)
    if not seccomp_supported():
        out.append("seccomp options (the filter is written for x86_64 only)")
    if not namespaces:
        out.append("mount/IPC/UTS namespaces (unshare is not permitted here)")
    return out


def namespaces_permitted():
    """Whether this machine (container) lets root make mount namespaces."""
    p = subprocess.run(["unshare", "--mount", "--propagation", "private", "--ipc", "--uts",
                        "--", "mount", "-t", "tmpfs", "tmpfs", "/mnt"], capture_output=True)
    return p.returncode == 0


def syscall_numbers():
    nums = {}
    with open(UNISTD) as f:
        for line in f:
            m = re.match(r"#define __NR_(\w+)\s+(\d+)", line)
            if m:
                nums[m.group(1)] = int(m.group(2))
    return nums


def expand_filter_set(spec, _seen=None):
    """Syscall names of a SystemCallFilter= item list, groups expanded
    recursively with this machine's systemd-analyze."""
    seen = set() if _seen is None else _seen
    names = set()
    for item in spec.split():
        if not item.startswith("@"):
            names.add(item)
            continue
        if item in seen:
            continue
        seen.add(item)
        out = subprocess.run(["systemd-analyze", "syscall-filter", item], check=True,
                             capture_output=True, text=True).stdout
        for line in out.splitlines()[1:]:  # the first line is the group's name
            line = line.strip()
            if line.startswith("@"):
                names |= expand_filter_set(line, seen)
            elif line and not line.startswith("#"):
                names.add(line)
    return names


def seccomp_supported():
    return platform.machine() == "x86_64" and os.path.exists(UNISTD)


def seccomp_policy(unit):
    if not seccomp_supported():
        return {"seccomp": False, "private_users": yes(unit, "PrivateUsers"),
                "umask": int(last(unit, "UMask", "0022"), 8)}
    nums = syscall_numbers()
    allow = None
    for spec in unit.get("SystemCallFilter", []):
        if spec.startswith("~"):
            if allow is not None:
                allow -= expand_filter_set(spec[1:])
        else:
            names = expand_filter_set(spec)
            allow = names if allow is None else allow | names
    policy = {
        "seccomp": True,
        "errno": ERRNO.get(last(unit, "SystemCallErrorNumber", "EPERM"), 1),
        "allow": sorted(nums[n] for n in (allow or nums) if n in nums),
        "memory_deny_write_execute": yes(unit, "MemoryDenyWriteExecute"),
        "mdwe_calls": [[nums["mmap"], 2], [nums["mprotect"], 2], [nums["pkey_mprotect"], 2]],
        "nr_socket": nums["socket"],
        "restrict_namespaces": yes(unit, "RestrictNamespaces"),
        "ns_calls": [nums["unshare"], nums["setns"]],
        "nr_clone": nums["clone"],
        "nr_clone3": nums["clone3"],
        "ns_flags": NS_FLAGS,
        "lock_personality": yes(unit, "LockPersonality"),
        "nr_personality": nums["personality"],
        "private_users": yes(unit, "PrivateUsers"),
        "umask": int(last(unit, "UMask", "0022"), 8),
    }
    if unit.get("RestrictAddressFamilies"):
        fams = " ".join(unit["RestrictAddressFamilies"]).split()
        policy["address_families"] = sorted({AF[f] for f in fams})
    if not unit.get("SystemCallFilter"):
        policy["allow"] = sorted(nums.values())
    return policy


def _dirs(unit, key, base):
    mode = int(last(unit, key + "Mode", "0755"), 8)
    return [(os.path.join(base, d), mode) for v in unit.get(key, []) for d in v.split()]


def prepare(unit, workdir, helper, env_extra, namespaces=True):
    """Creates the state/log directories and writes the policy; returns the
    argv that runs the unit's ExecStart= in the sandbox (as root)."""
    user = pwd.getpwnam(last(unit, "User"))
    group = grp.getgrnam(last(unit, "Group", user.pw_name))
    sup = [grp.getgrnam(g).gr_gid for v in unit.get("SupplementaryGroups", []) for g in v.split()]
    writable = _dirs(unit, "StateDirectory", "/var/lib") + _dirs(unit, "LogsDirectory", "/var/log")
    for path, mode in writable:
        os.makedirs(path, exist_ok=True)
        os.chown(path, user.pw_uid, group.gr_gid)
        os.chmod(path, mode)

    os.makedirs(workdir, exist_ok=True)
    os.chmod(workdir, 0o755)
    policy_path = os.path.join(workdir, "policy.json")
    with open(policy_path, "w") as f:
        json.dump(seccomp_policy(unit), f)
    os.chmod(policy_path, 0o644)
    helper_copy = os.path.join(workdir, "sandbox_exec.py")
    shutil.copy(helper, helper_copy)
    os.chmod(helper_copy, 0o755)

    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
        "USER": user.pw_name, "LOGNAME": user.pw_name, "HOME": user.pw_dir,
        "SHELL": user.pw_shell,
    }
    if unit.get("StateDirectory"):
        env["STATE_DIRECTORY"] = ":".join(p for p, _ in _dirs(unit, "StateDirectory", "/var/lib"))
    if unit.get("LogsDirectory"):
        env["LOGS_DIRECTORY"] = ":".join(p for p, _ in _dirs(unit, "LogsDirectory", "/var/log"))
    env.update(env_extra)

    sh = ["set -e"]
    # Mount namespace: writable dirs stay writable, everything else read-only.
    if yes(unit, "PrivateTmp"):
        sh += ["mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp",
               "mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /var/tmp"]
    if yes(unit, "ProtectHome"):
        for d in ("/home", "/root", "/run/user"):
            sh.append(f"if [ -d {d} ]; then mount -t tmpfs -o ro,mode=000 tmpfs {d}; fi")
    for path, _ in writable:
        sh.append(f"mount --bind {shlex.quote(path)} {shlex.quote(path)}")
    if yes(unit, "ProtectProc") or last(unit, "ProcSubset") == "pid":
        opts = []
        if last(unit, "ProtectProc") in ("invisible", "noaccess", "ptraceable"):
            opts.append("hidepid=" + last(unit, "ProtectProc"))
        if last(unit, "ProcSubset") == "pid":
            opts.append("subset=pid")
        sh.append("mount -t proc -o " + ",".join(opts) + " proc /proc || "
                  "echo 'warning: no private /proc (ProtectProc=, ProcSubset=)' >&2")
    if last(unit, "ProtectSystem") == "strict":
        keep = {p for p, _ in writable} | {"/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/proc"}
        if yes(unit, "PrivateTmp"):
            keep |= {"/tmp", "/var/tmp"}
        # Remount every mount point read-only, the writable ones aside.
        sh.append("awk '{print $5}' /proc/self/mountinfo | sort -u | while read -r mp; do "
                  "case \"$mp\" in " + "|".join(shlex.quote(k) for k in sorted(keep)) +
                  ") continue;; esac; "
                  "mount -o remount,bind,ro \"$mp\" 2>/dev/null || true; done")
    cmd = shlex.split(last(unit, "ExecStart"))
    setpriv = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={group.gr_gid}",
               "--groups=" + ",".join(str(g) for g in sup) if sup else "--clear-groups"]
    if yes(unit, "NoNewPrivileges"):
        setpriv.append("--nnp")
    if "CapabilityBoundingSet" in unit and last(unit, "CapabilityBoundingSet") == "":
        setpriv += ["--bounding-set=-all", "--inh-caps=-all"]
    envargs = ["env", "-i"] + [f"{k}={v}" for k, v in sorted(env.items())]
    final = envargs + setpriv + ["--", "/usr/bin/python3", helper_copy, policy_path, "--"] + cmd
    sh.append("exec " + " ".join(shlex.quote(a) for a in final))

    if not namespaces:
        return ["/bin/sh", "-c", sh[0] + "\n" + sh[-1]]
    ns = ["unshare", "--mount", "--propagation", "private"]
    if yes(unit, "PrivateIPC"):
        ns.append("--ipc")
    if yes(unit, "ProtectHostname"):
        ns.append("--uts")
    return ns + ["--", "/bin/sh", "-c", "\n".join(sh)]

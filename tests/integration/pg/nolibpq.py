"""Running a program as on a machine without libpq: in a private mount
namespace (unshare) where libpq.so.5 is /dev/null, so the PostgreSQL sink's
dlopen() fails as it does when the libpq5 package is not installed. Nothing
outside that one process tree sees the mount."""
import os
import shutil
import subprocess


def libpq_path():
    """The file the dynamic loader opens for libpq.so.5, or None."""
    ldconfig = shutil.which("ldconfig") or "/sbin/ldconfig"
    try:
        out = subprocess.run([ldconfig, "-p"], capture_output=True, text=True, timeout=10).stdout
    except OSError:
        return None
    for line in out.splitlines():
        name, _, path = line.strip().partition(" => ")
        if name.startswith("libpq.so.5 "):
            return os.path.realpath(path)
    return None


def mapped(pid):
    """True when libpq is mapped into process pid."""
    with open("/proc/%d/maps" % pid) as f:
        return "/libpq.so" in f.read()


def prefix():
    """The argv prefix that runs a program without libpq, or None when this
    machine does not allow it (libpq not found, no unshare or no user
    namespaces)."""
    lib = libpq_path()
    if not lib or not shutil.which("unshare"):
        return None
    argv = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
            'mount --bind /dev/null "$0" && exec "$@"', lib]
    try:
        r = subprocess.run(argv + ["true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return argv if r.returncode == 0 else None

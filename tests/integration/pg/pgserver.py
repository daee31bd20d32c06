"""A throw-away PostgreSQL server for the tests (standard library only).

Debian's server binaries (/usr/lib/postgresql/<version>/bin) run from a
temporary directory: initdb, then postgres listening on a unix socket in
that directory only (no TCP). postgres refuses to run as root, so under
root the server runs as an unprivileged system user (nobody) through
runuser. Authentication is trust; the superuser is "km".
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile

USER = "km"


def find_bindir():
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                  key=lambda d: int(d.split("/")[-2]) if d.split("/")[-2].isdigit() else 0)
    for d in reversed(dirs):
        if os.path.exists(os.path.join(d, "initdb")) and os.path.exists(os.path.join(d, "pg_ctl")):
            return d
    return None


SKIPPED = 77  # ctest's SKIP_RETURN_CODE for the PostgreSQL tests


def exit_unless_installed():
    """Ends the test as skipped (77) where no server binaries are installed."""
    if not find_bindir():
        print("PostgreSQL server binaries not found: skipped")
        sys.exit(SKIPPED)


class Server:
    def __init__(self):
        self.bindir = find_bindir()
        if not self.bindir:
            raise FileNotFoundError("no PostgreSQL server binaries under /usr/lib/postgresql")
        self.tmp = tempfile.mkdtemp(prefix="km-pg-")
        self.data = os.path.join(self.tmp, "data")
        self.sock = os.path.join(self.tmp, "sock")
        self.log = os.path.join(self.tmp, "server.log")
        os.mkdir(self.sock)
        self.runas = []
        if os.geteuid() == 0:
            import pwd
            pw = pwd.getpwnam("nobody")
            for p in (self.tmp, self.sock):
                os.chown(p, pw.pw_uid, pw.pw_gid)
            self.runas = ["runuser", "-u", "nobody", "--"]
        self.running = False

    def _run(self, args, check=True):
        cmd = self.runas + [os.path.join(self.bindir, args[0])] + args[1:]
        r = subprocess.run(cmd, cwd=self.tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=60)
        if check and r.returncode != 0:
            raise RuntimeError("%s failed (%d):\n%s" % (" ".join(cmd), r.returncode, r.stdout))
        return r

    def init(self):
        self._run(["initdb", "-D", self.data, "-U", USER, "--auth=trust", "--no-locale",
                   "-E", "UTF8", "--no-sync"])
        return self

    def start(self):
        opts = "-c listen_addresses='' -k %s -c fsync=off -c synchronous_commit=off" % self.sock
        self._run(["pg_ctl", "-D", self.data, "-l", self.log, "-o", opts, "-w", "-t", "30", "start"])
        self.running = True
        return self

    def stop(self):
        if self.running:
            self._run(["pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "30", "stop"], check=False)
            self.running = False

    def psql(self, sql, db="postgres"):
        """Runs one statement with psql; returns rows as lists of strings ('' for NULL)."""
        r = subprocess.run(["psql", "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                            "-h", self.sock, "-U", USER, "-d", db, "-c", sql],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError("psql: %s\n%s" % (sql, r.stderr))
        return [line.split("\t") for line in r.stdout.splitlines()]

    def createdb(self, name):
        self.psql('CREATE DATABASE "%s"' % name)

    def server_log(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ""

    def cleanup(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

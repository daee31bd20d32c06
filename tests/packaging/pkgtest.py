#!/usr/bin/env python3
"""Packaging tests for kaifa-meter, one subcommand per ctest test (see
cmake/packaging.cmake, label "packaging"):

  cpack    builds the .deb with `cpack -G DEB` and checks its control data;
           every program the units run (ExecReload=/bin/kill) comes from a
           package the .deb depends on, or an essential one
  prefix   `cmake --install --prefix DIR` installs the same files as the .deb,
           and its units pass `systemd-analyze security` (no root needed)
  install  installs the .deb with apt-get (root), checks user and modes
  files    every file the man pages name is in `dpkg -L`, and the reverse;
           `kaifa-meterd --version`, `man -l` on each page
  units    `systemd-analyze verify` and `security` (<= 1.5) on the installed units
  sandbox  runs the daemon exactly as kaifa-meter.service does (same user,
           command line, environment and as much of the sandbox as this
           machine allows, see unitsandbox.py): it reads a pty and publishes
           to a mosquitto broker on 127.0.0.1
  noproc   the installed postinst run where /proc is not mounted (as in
           debootstrap and pi-gen chroots: a private mount namespace with
           /proc unmounted) exits 0 and sets the config directory's owner
           and mode
  purge    `apt-get purge` (dpkg --purge) leaves nothing behind

Tests needing root exit 77 (skipped) without it. Python standard library only.
"""
import argparse
import glob
import grp
import gzip
import os
import pty
import pwd
import re
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import tty

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import unitsandbox  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = "kaifa-meter"
SKIP = 77
MAX_EXPOSURE = 1.5
UNITDIR = "/usr/lib/systemd/system"
UNITS = ["kaifa-meter.service", "kaifa-meter@.service"]
CONF = "/etc/kaifa-meter/kaifa-meter.conf"
MAN_PAGES = ["/usr/share/man/man1/kaifa-meter.1.gz", "/usr/share/man/man8/kaifa-meterd.8.gz",
             "/usr/share/man/man5/kaifa-meter.conf.5.gz"]
CAPTURE = "captures/smidsrod/KFM_001/MA304H3E-1-ok.bin"


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def run(cmd, check_rc=True, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    p = subprocess.run(cmd, **kw)
    if check_rc and p.returncode != 0:
        raise Failure(f"{' '.join(cmd)} exited {p.returncode}\n{p.stdout}{p.stderr}")
    return p


def need_root():
    if os.geteuid() != 0:
        print("skipped: needs root (installs a package)")
        sys.exit(SKIP)


def need_our_install(args):
    """The tests after `install` check the package this build installed."""
    need_root()
    if not os.path.exists(os.path.join(args.state, "installed-by-test")):
        print(f"skipped: packaging_deb_install did not install {PKG} from this build")
        sys.exit(SKIP)


def the_deb(args):
    debs = glob.glob(os.path.join(args.build, f"{PKG}_*.deb"))
    check(len(debs) == 1, f"expected one {PKG}_*.deb in {args.build}, found {debs}")
    return debs[0]


def deb_files(deb):
    """Paths of the regular files and symlinks in the .deb, absolute."""
    out = run(["dpkg-deb", "--contents", deb]).stdout
    files = {}
    for line in out.splitlines():
        f = line.split()
        mode, owner, path = f[0], f[1], f[5]
        if mode[0] in "-l":
            files[path[1:]] = (mode, owner)
    return files


def installed_files():
    out = run(["dpkg", "-L", PKG]).stdout.splitlines()
    return {p for p in out if os.path.isfile(p) or os.path.islink(p)}


def man_file_paths(text):
    """Paths listed under .SH FILES of a roff man page (.TP/.I entries)."""
    paths, in_files, prev = [], False, ""
    for line in text.splitlines():
        if line.startswith(".SH"):
            in_files = line.split(None, 1)[1].strip('"') == "FILES"
        elif in_files and prev == ".TP":
            # ".I /path"; ".IR /etc/kaifa-meter/ name .conf" has a placeholder
            m = re.match(r"\.I (?:\\%)?(/\S+)$", line)
            if m and "\\f" not in m.group(1):
                paths.append(m.group(1))
        prev = line
    return paths


def exposure(unit_arg, root=None):
    cmd = ["systemd-analyze", "security", "--offline=true",
           f"--threshold={int(MAX_EXPOSURE * 10)}", "--no-pager"]
    if root:
        cmd.append(f"--root={root}")
    p = run(cmd + [unit_arg], check_rc=False)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", p.stdout)
    check(m, f"no exposure level for {unit_arg}:\n{p.stdout}{p.stderr}")
    level = float(m.group(1))
    print(f"{unit_arg}: exposure {level}")
    check(level <= MAX_EXPOSURE, f"{unit_arg} exposure {level} > {MAX_EXPOSURE}:\n{p.stdout}")
    check(p.returncode == 0, f"systemd-analyze security exited {p.returncode}: {p.stderr}")
    return level


# ---------------------------------------------------------------- cpack

def t_cpack(args):
    for old in glob.glob(os.path.join(args.build, f"{PKG}_*.deb")):
        os.unlink(old)
    run(["cpack", "-G", "DEB"], cwd=args.build)
    deb = the_deb(args)
    depends = run(["dpkg-deb", "-f", deb, "Depends"]).stdout
    print("Depends:", depends.strip())
    for lib in ("libc6", "libserialport0", "libjson-c5"):
        check(lib in depends, f"shlibdeps did not add {lib}: {depends}")
    # libpq is loaded with dlopen() for the PostgreSQL output: not linked,
    # so named by hand
    recommends = run(["dpkg-deb", "-f", deb, "Recommends"]).stdout
    check("libpq5" in depends_names(recommends) and "libpq5" not in depends_names(depends),
          f"libpq5 must be recommended (dlopen), not a dependency: Depends {depends.strip()}, "
          f"Recommends {recommends.strip()}")
    with tempfile.TemporaryDirectory() as ctl:
        run(["dpkg-deb", "--control", deb, ctl])
        with open(os.path.join(ctl, "conffiles")) as f:
            check(f.read().split() == [CONF], "conffiles must list exactly " + CONF)
        for s in ("postinst", "prerm", "postrm"):
            mode = os.stat(os.path.join(ctl, s)).st_mode
            check(mode & 0o111, f"{s} is not executable")
            run(["sh", "-n", os.path.join(ctl, s)])
            if shutil.which("shellcheck"):  # optional: not in CI's package list
                run(["shellcheck", "-s", "sh", os.path.join(ctl, s)])
    files = deb_files(deb)
    check(CONF in files, f"{CONF} missing from the package")
    check(files[CONF] == ("-rw-r-----", "root/root"),
          f"{CONF} must be 0640 in the package (group set by postinst), is {files[CONF]}")
    for u in UNITS:
        check(f"{UNITDIR}/{u}" in files, f"{u} missing from the package")
    check_unit_programs(deb, depends)
    return 0


def depends_names(depends):
    """Package names in a Depends field ("libc6 (>= 2.34), procps | x")."""
    names = set()
    for alt in re.split(r"[,|]", depends):
        alt = alt.strip()
        if alt:
            names.add(re.split(r"[\s(:]", alt)[0])
    return names


def check_unit_programs(deb, depends):
    """Each Exec*= of the packaged units that is not our daemon names a
    program of a package the .deb depends on, or of an essential package:
    `systemctl reload` must work on a minimal system (/bin/kill is procps's)."""
    deps = depends_names(depends)
    with tempfile.TemporaryDirectory() as root:
        run(["dpkg-deb", "--extract", deb, root])
        for u in UNITS:
            unit = unitsandbox.parse_unit(os.path.join(root, UNITDIR.lstrip("/"), u))
            for key in ("ExecStartPre", "ExecStart", "ExecStartPost", "ExecReload", "ExecStop", "ExecStopPost"):
                for cmd in unit.get(key, []):
                    prog = cmd.lstrip("-@:+!").split()[0]
                    if os.path.lexists(os.path.join(root, prog.lstrip("/"))):
                        continue  # one of ours
                    check(prog.startswith("/"), f"{u}: {key}={cmd}: not an absolute path")
                    p = run(["dpkg-query", "-S", prog], check_rc=False)
                    check(p.returncode == 0, f"{u}: {key}={cmd}: no installed package has {prog}")
                    owners = {o.strip() for o in p.stdout.split(":", 1)[0].split(",")}
                    essential = {o for o in owners if run(["dpkg-query", "-W", "-f=${Essential}", o],
                                                         check_rc=False).stdout.strip() == "yes"}
                    check(owners & deps or essential,
                          f"{u}: {key}={cmd}: {prog} is in {sorted(owners)}, neither essential nor in "
                          f"Depends: {depends.strip()}")
                    print(f"{u}: {key} runs {prog} from {sorted(owners)}: "
                          f"{'essential' if essential else 'a dependency'}")


# ---------------------------------------------------------------- prefix

def rel_from_deb(path):
    """Where a packaged file lands under a `cmake --install --prefix DIR`."""
    if path.startswith("/usr/"):
        return path[len("/usr/"):]
    return path.lstrip("/")  # /etc/x -> etc/x


def t_prefix(args):
    deb = the_deb(args)
    want = {rel_from_deb(p) for p in deb_files(deb)}
    with tempfile.TemporaryDirectory(prefix="km-prefix-") as prefix:
        run(["cmake", "--install", args.build, "--prefix", prefix])
        got = set()
        for d, _, names in os.walk(prefix):
            for n in names:
                got.add(os.path.relpath(os.path.join(d, n), prefix))
        missing, extra = sorted(want - got), sorted(got - want)
        check(not missing and not extra,
              f"cmake --install differs from the .deb:\n  only in .deb: {missing}\n"
              f"  only in prefix: {extra}")
        print(f"cmake --install --prefix installs the same {len(got)} files as the .deb")
        unit = os.path.join(prefix, "lib/systemd/system/kaifa-meter.service")
        with open(unit) as f:
            text = f.read()
        exec_start = unitsandbox.last(unitsandbox.parse_unit(unit), "ExecStart")
        want_exec = f"{prefix}/sbin/kaifa-meterd -c {prefix}/etc/kaifa-meter/kaifa-meter.conf"
        check(exec_start == want_exec, f"ExecStart={exec_start}, want {want_exec}")
        check("@" not in re.sub(r"kaifa-meter@|@system-service|@privileged|@resources|%i", "",
                                text), "unsubstituted @VAR@ in the unit")
        for u in UNITS:
            exposure(os.path.join(prefix, "lib/systemd/system", u))
    return 0


# ---------------------------------------------------------------- install

def t_install(args):
    need_root()
    deb = the_deb(args)
    marker = os.path.join(args.state, "installed-by-test")
    if os.path.exists(marker):
        os.unlink(marker)
    p = run(["dpkg-query", "-W", "-f=${Status}", PKG], check_rc=False)
    if "installed" in p.stdout.split():
        # Someone's own installation (or another build's test run): hands off.
        print(f"skipped: {PKG} is already installed here; the tests will not touch it")
        return SKIP
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    p = run(["apt-get", "install", "-y", "--no-install-recommends",
             "-o", "DPkg::Lock::Timeout=120", "./" + os.path.basename(deb)],
            cwd=os.path.dirname(deb), env=env)
    os.makedirs(args.state, exist_ok=True)
    with open(marker, "w") as f:
        f.write(deb + "\n")
    print(p.stdout[-2000:], p.stderr[-2000:])
    status = run(["dpkg-query", "-W", "-f=${Status}", PKG]).stdout
    check(status == "install ok installed", f"dpkg status: {status}")
    with open(os.path.join(args.state, "dpkg-L"), "w") as f:
        f.write("\n".join(sorted(installed_files())) + "\n")
    # The user, and a config only root and its group may read.
    user = pwd.getpwnam("kaifa-meter")
    gid = grp.getgrnam("kaifa-meter").gr_gid
    check(user.pw_uid < 1000 and user.pw_gid == gid, "kaifa-meter must be a system user")
    for path, mode in ((CONF, 0o640), ("/etc/kaifa-meter", 0o750)):
        st = os.stat(path)
        check((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, gid, mode),
              f"{path}: owner {st.st_uid}:{st.st_gid} mode {oct(st.st_mode)}, "
              f"want root:kaifa-meter {oct(mode)}")
    # Installed, not enabled: the config must be edited first.
    for u in ("kaifa-meter.service", "kaifa-meter@x.service"):
        p = run(["systemctl", "is-enabled", u], check_rc=False)
        check(p.stdout.strip() == "disabled", f"{u} is '{p.stdout.strip()}' after install")
    print("installed; user kaifa-meter; config 0640 root:kaifa-meter; units disabled")
    return 0


# ---------------------------------------------------------------- files

def t_files(args):
    need_our_install(args)
    files = installed_files()
    named = set()
    for page in MAN_PAGES:
        check(page in files, f"{page} not installed")
        with gzip.open(page, "rt") as f:
            text = f.read()
        for path in man_file_paths(text):
            named.add(path)
            if path.startswith("/var/"):
                continue  # made by systemd at start (StateDirectory=)
            check(path in files, f"{os.path.basename(page)} names {path}, not in dpkg -L {PKG}")
        p = run(["man", "--warnings", "-l", page], env=dict(os.environ, MANWIDTH="80"))
        check("NAME" in p.stdout and len(p.stdout) > 500, f"man -l {page} printed too little")
        check(not p.stderr.strip(), f"man -l {page} warned:\n{p.stderr}")
        name = os.path.basename(page)[:-3].rsplit(".", 1)[0]
        p = run(["man", "-w", name])
        check(p.stdout.strip() == page, f"man -w {name} found {p.stdout.strip()}, not {page}")
    # The reverse: every file outside /usr/share is documented in FILES.
    undocumented = sorted(f for f in files if not f.startswith("/usr/share/") and f not in named)
    check(not undocumented, f"installed but named in no man page's FILES: {undocumented}")
    for exe in ("/usr/sbin/kaifa-meterd", "/usr/bin/kaifa-meter"):
        p = run([exe, "--version"])
        check(re.search(r"\d+\.\d+\.\d+", p.stdout), f"{exe} --version printed {p.stdout!r}")
        print(p.stdout.strip())
    print(f"{len(named)} paths named by the man pages, all where they say")
    return 0


# ---------------------------------------------------------------- units

def t_units(args):
    need_our_install(args)
    for u in UNITS:
        path = os.path.join(UNITDIR, u)
        exposure(path)
        target = path if "@." not in u else os.path.join(UNITDIR, "kaifa-meter@check.service")
        p = run(["systemd-analyze", "verify", "--man=yes", target], check_rc=False)
        noise = [l for l in (p.stdout + p.stderr).splitlines() if "kaifa-meter" in l]
        check(p.returncode == 0 and not noise,
              f"systemd-analyze verify {target}: rc {p.returncode}\n{p.stdout}{p.stderr}")
        print(f"systemd-analyze verify {target}: ok")
    unit = unitsandbox.parse_unit(os.path.join(UNITDIR, UNITS[0]))
    check(unitsandbox.last(unit, "ExecStart") == f"/usr/sbin/kaifa-meterd -c {CONF}",
          "unexpected ExecStart=")
    return 0


# ---------------------------------------------------------------- sandbox

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_lines_until(proc, pred, timeout, seen):
    """Reads proc's stdout lines into seen until pred(line) or timeout.
    Reads the raw fd, so no line waits in a Python buffer unseen by select."""
    fd = proc.stdout.fileno()
    buf = getattr(proc, "km_partial", b"")
    end = time.monotonic() + timeout
    found = False
    while True:
        while b"\n" in buf and not found:
            line, buf = buf.split(b"\n", 1)
            seen.append(line.decode(errors="replace"))
            found = pred(seen[-1])
        if found or time.monotonic() >= end:
            break
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buf += chunk
    proc.km_partial = buf
    return found


def notify_wait(sock, want, timeout, log):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r, _, _ = select.select([sock], [], [], 0.2)
        if r:
            msg = sock.recv(4096).decode(errors="replace")
            log.append(msg)
            if want in msg.split("\n"):
                return True
    return False


def meter_id_of(capture):
    out = run(["/usr/bin/kaifa-meter", "parse-file", capture, "--compact"]).stdout
    m = re.search(r'"meter_id":\s*\{[^}]*"value":\s*"(\d+)"', out)
    check(m, "no meter_id in the capture")
    return m.group(1)


def start_broker(work):
    """mosquitto on a free 127.0.0.1 port, with a password, so that the
    daemon's password_file is read through the sandbox too."""
    port = free_port()
    pwfile = os.path.join(work, "broker.passwd")
    run(["mosquitto_passwd", "-b", "-c", pwfile, "kaifa", "s3cret"])
    os.chmod(pwfile, 0o644)
    bconf = os.path.join(work, "broker.conf")
    with open(bconf, "w") as f:
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous false\n"
                f"password_file {pwfile}\npersistence false\n")
    os.chmod(bconf, 0o644)
    blog = open(os.path.join(work, "broker.log"), "w")
    broker = subprocess.Popen(["mosquitto", "-c", bconf], stdout=blog, stderr=subprocess.STDOUT)
    for _ in range(50):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return broker, port
        time.sleep(0.1)
    broker.kill()
    raise Failure("mosquitto did not start")


def sandbox_case(args, unit_name, instance, work, port, namespaces):
    """Runs the unit's ExecStart= in its (emulated) sandbox against a pty
    and the broker; asserts READY=1, a published value, the sandbox state of
    the process, and exit 0 with 'offline' on SIGTERM."""
    unit = unitsandbox.parse_unit(os.path.join(UNITDIR, unit_name), instance)
    conf = unitsandbox.last(unit, "ExecStart").split(" -c ", 1)[1]
    label = unit_name.replace("@.", f"@{instance}.")
    capture = os.path.join(args.source, "tests/data", CAPTURE)
    meter_id = meter_id_of(capture)
    procs, log, seen = [], [], []
    master, slave = pty.openpty()
    conf_backup = open(conf).read() if os.path.exists(conf) else None
    gid = grp.getgrnam("kaifa-meter").gr_gid
    mqtt_pw = "/etc/kaifa-meter/mqtt.password"
    dlog = open(os.path.join(work, f"daemon-{label}.log"), "w+")
    try:
        # The "serial port": a pty like /dev/ttyUSB0 (root:dialout 0660).
        tty.setraw(slave)
        dev = os.ttyname(slave)
        os.chown(dev, 0, grp.getgrnam("dialout").gr_gid)
        os.chmod(dev, 0o660)
        # The config the unit names, 0640 root:kaifa-meter like the packaged one.
        for path, text in ((mqtt_pw, "s3cret\n"),
                           (conf, f"[serial]\nport = {dev}\n\n[mqtt]\nhost = 127.0.0.1\n"
                                  f"port = {port}\nusername = kaifa\n"
                                  f"password_file = {mqtt_pw}\n\n[log]\nlevel = debug\n")):
            with open(path, "w") as f:
                f.write(text)
            os.chown(path, 0, gid)
            os.chmod(path, 0o640)

        nsock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        npath = os.path.join(work, f"notify-{label}")
        nsock.bind(npath)
        os.chmod(npath, 0o777)
        env = {"NOTIFY_SOCKET": npath, "WATCHDOG_USEC": "30000000",
               "INVOCATION_ID": "0123456789abcdef0123456789abcdef"}
        host_mntns = os.readlink("/proc/self/ns/mnt")
        argv = unitsandbox.prepare(unit, work, os.path.join(HERE, "sandbox_exec.py"), env,
                                   namespaces)
        if namespaces:  # never remount the host's file systems
            argv[-1] = (f'[ "$(readlink /proc/self/ns/mnt)" != "{host_mntns}" ] || '
                        f'{{ echo "not in a new mount namespace" >&2; exit 1; }}\n' + argv[-1])
        sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port),
                                "-u", "kaifa", "-P", "s3cret", "-t", f"kaifa/{meter_id}/#",
                                "-v"], stdout=subprocess.PIPE)
        procs.append(sub)
        daemon = subprocess.Popen(argv, stdout=dlog, stderr=subprocess.STDOUT)
        procs.append(daemon)

        check(notify_wait(nsock, "READY=1", 15, log),
              f"{label}: no READY=1 from the sandboxed daemon; notify: {log}")
        print(f"{label}: READY=1")
        with open(capture, "rb") as f:
            data = f.read()
        for i in range(0, len(data), 64):  # a meter trickles its frames
            os.write(master, data[i:i + 64])
            time.sleep(0.002)
        topic = f"kaifa/{meter_id}/power_active_import "
        got = read_lines_until(sub, lambda l: l.startswith(topic), 20, seen)
        check(got, f"{label}: no {topic.strip()} from the sandboxed daemon; got {seen[-20:]}")
        value = seen[-1].split(" ", 1)[1]
        check(re.fullmatch(r"\d+(\.\d+)?", value), f"power_active_import payload {value!r}")
        print(f"{label}: published {seen[-1]}")
        online = f"kaifa/{meter_id}/status online"
        check(online in seen or read_lines_until(sub, lambda l: l == online, 5, seen),
              f"{label}: no online status; seen: {seen}")

        # The sandbox, as the daemon's own /proc entry shows it.
        daemon_pid = find_daemon_pid(daemon.pid)
        st = proc_status(daemon_pid)
        user_uid = str(pwd.getpwnam("kaifa-meter").pw_uid)
        check(st["Uid"].split()[0] == user_uid, f"daemon runs as uid {st['Uid']}")
        check(st["CapEff"] == "0000000000000000" and st["CapBnd"] == "0000000000000000",
              f"daemon capabilities: eff {st['CapEff']} bnd {st['CapBnd']}")
        check(st["NoNewPrivs"] == "1" and
              st["Seccomp"] == ("2" if unitsandbox.seccomp_supported() else "0"),
              f"NoNewPrivs {st['NoNewPrivs']} Seccomp {st['Seccomp']}")
        print(f"{label}: pid {daemon_pid}, uid {user_uid}, no capabilities, no_new_privs, "
              f"seccomp {st['Seccomp']}")

        os.kill(daemon_pid, signal.SIGTERM)
        try:
            rc = daemon.wait(timeout=5)
        except subprocess.TimeoutExpired:
            raise Failure(f"{label}: the daemon did not stop within 5 s of SIGTERM")
        check(rc == 0, f"{label}: daemon exited {rc} after SIGTERM")
        offline = f"kaifa/{meter_id}/status offline"
        check(read_lines_until(sub, lambda l: l == offline, 5, seen),
              f"{label}: no 'offline' status after SIGTERM")
        print(f"{label}: SIGTERM -> exit 0, status offline")
    except Failure:
        dlog.seek(0)
        print(f"---- {label} daemon log\n" + dlog.read()[-4000:])
        raise
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    p.kill()
        os.close(master)
        os.close(slave)
        dlog.close()
        if conf_backup is None:
            os.unlink(conf)
        else:
            with open(conf, "w") as f:
                f.write(conf_backup)
        if os.path.exists(mqtt_pw):
            os.unlink(mqtt_pw)


def t_sandbox(args):
    need_our_install(args)
    unit = unitsandbox.parse_unit(os.path.join(UNITDIR, "kaifa-meter.service"))
    namespaces = unitsandbox.namespaces_permitted()
    print("not emulated here:", ", ".join(unitsandbox.not_emulated(unit, namespaces)))
    work = tempfile.mkdtemp(prefix="km-sandbox-", dir="/run")
    os.chmod(work, 0o755)
    try:
        for unit_name, instance in (("kaifa-meter.service", None),
                                    ("kaifa-meter@.service", "second")):
            # A fresh broker each time: no retained message of the last run.
            broker, port = start_broker(work)
            try:
                sandbox_case(args, unit_name, instance, work, port, namespaces)
            finally:
                broker.terminate()
                broker.wait(timeout=5)
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


def find_daemon_pid(launcher_pid):
    """unshare -> sh -> env -> setpriv -> python -> kaifa-meterd all exec in
    place, so the launcher's pid is the daemon's, unless unshare forked."""
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{launcher_pid}/comm") as f:
                if f.read().strip() == "kaifa-meterd":
                    return launcher_pid
        except FileNotFoundError:
            break
        time.sleep(0.1)
    raise Failure("cannot find the kaifa-meterd process")


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


# ---------------------------------------------------------------- purge

def t_purge(args):
    need_root()
    marker = os.path.join(args.state, "installed-by-test")
    if not os.path.exists(marker):
        print(f"{PKG} was not installed by this build's tests: nothing to purge")
        return 0
    os.unlink(marker)
    # What an admin would have done: enable both units.
    run(["systemctl", "enable", "kaifa-meter.service", "kaifa-meter@second.service"])
    links = glob.glob("/etc/systemd/system/*.wants/kaifa-meter*")
    check(len(links) == 2, f"systemctl enable made {links}")
    os.makedirs("/var/lib/kaifa-meter", exist_ok=True)
    run(["apt-get", "purge", "-y", "-o", "DPkg::Lock::Timeout=120", PKG],
        env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    p = run(["dpkg-query", "-W", "-f=${Status}", PKG], check_rc=False)
    check("installed" not in p.stdout.split(), f"still installed after purge: {p.stdout}")
    listed = os.path.join(args.state, "dpkg-L")
    left = []
    if os.path.exists(listed):
        with open(listed) as f:
            left = [l for l in f.read().split() if os.path.lexists(l)]
    left += [d for d in ("/etc/kaifa-meter", "/var/lib/kaifa-meter", "/var/log/kaifa-meter")
             if os.path.lexists(d)]
    left += glob.glob("/etc/systemd/system/*.wants/kaifa-meter*")
    check(not left, f"left behind by dpkg --purge: {left}")
    print("purged: no file, directory or enablement link left (the system user stays)")
    return 0


# ---------------------------------------------------------------- noproc

def t_noproc(args):
    """debootstrap and pi-gen configure packages in a chroot without /proc,
    where systemd-tmpfiles refuses to run: the postinst must still exit 0 and
    leave the config directory closed to all but root and kaifa-meter."""
    need_our_install(args)
    postinst = f"/var/lib/dpkg/info/{PKG}.postinst"
    check(os.path.exists(postinst), f"{postinst} missing")
    if run(["unshare", "--mount", "--propagation", "private", "true"], check_rc=False).returncode != 0:
        print("skipped: no mount namespaces here (unshare --mount)")
        return SKIP
    gid = grp.getgrnam("kaifa-meter").gr_gid
    os.chmod("/etc/kaifa-meter", 0o755)  # undone by the postinst, if it runs to the end
    os.chmod(CONF, 0o644)
    script = ('umount -l /proc || exit 99; [ ! -e /proc/self ] || exit 98; '
              f'DPKG_MAINTSCRIPT_PACKAGE={PKG} DPKG_MAINTSCRIPT_NAME=postinst "$0" configure')
    p = run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, postinst], check_rc=False)
    print(p.stdout, p.stderr)
    check(p.returncode not in (98, 99), f"could not unmount /proc in the namespace (rc {p.returncode})")
    check(p.returncode == 0, f"postinst configure without /proc exited {p.returncode}:\n{p.stdout}{p.stderr}")
    for path, mode in ((CONF, 0o640), ("/etc/kaifa-meter", 0o750)):
        st = os.stat(path)
        check((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, gid, mode),
              f"{path}: owner {st.st_uid}:{st.st_gid} mode {oct(st.st_mode)} after the postinst without /proc, "
              f"want root:kaifa-meter {oct(mode)}")
    print("postinst configure without /proc: exit 0, config directory 0750 and config 0640 root:kaifa-meter")
    return 0


TESTS = {"cpack": t_cpack, "prefix": t_prefix, "install": t_install, "files": t_files,
         "units": t_units, "sandbox": t_sandbox, "noproc": t_noproc, "purge": t_purge}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("test", choices=sorted(TESTS))
    ap.add_argument("--build", required=True, help="the CMake build directory")
    ap.add_argument("--source", required=True, help="the source directory")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    args.state = os.path.join(args.build, "packaging", "pkgtest")
    try:
        return TESTS[args.test](args)
    except Failure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

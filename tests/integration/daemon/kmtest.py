"""Helpers for the kaifa-meterd integration tests: a real mosquitto broker on
a free 127.0.0.1 port, a socat pty pair standing in for the meter's serial
port, the daemon on a temporary config, mosquitto_sub to read what arrived,
a NOTIFY_SOCKET listener, and a splitter that cuts a capture into its HDLC
frames so a test can replay any part of it. Python standard library only.

Environment (set by CTest from cmake/daemon.cmake):
  KM_DAEMON      path of the kaifa-meterd binary
  KM_SOURCE_DIR  the source tree (captures under tests/data/captures)
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SOURCE_DIR = os.environ.get(
    "KM_SOURCE_DIR",
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))
DAEMON = os.environ.get("KM_DAEMON", "kaifa-meterd")
CAPTURES = os.path.join(SOURCE_DIR, "tests", "data", "captures")
KAIFA_T4 = os.path.join(CAPTURES, "smidsrod", "KFM_001", "MA304T4-3-ok.bin")
METER_ID = "6970631400000233"

def _die_with_parent():
    """Child processes get SIGTERM when the test dies (a CTest timeout kills
    the test, not what it started)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


FAILURES = []
PASSED = [0]


def check(cond, what):
    """Records one assertion; the test fails at the end if any failed."""
    if cond:
        PASSED[0] += 1
        print("ok   - " + what)
    else:
        print("FAIL - " + what)
        FAILURES.append(what)
    return cond


def finish():
    print("%d passed, %d failed" % (PASSED[0], len(FAILURES)))
    for f in FAILURES:
        print("  failed: " + f)
    sys.exit(1 if FAILURES or not PASSED[0] else 0)


def need(*programs):
    for p in programs:
        if not shutil.which(p) and not os.path.exists(p):
            print("missing program: " + p)
            sys.exit(1)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# Waits end as soon as what they wait for is there; their limits only decide
# when to give up. On a loaded machine (CI shares two cores) everything takes
# longer, so the limits written in the tests are stretched by this factor.
TIMEOUT_SCALE = float(os.environ.get("KM_TEST_TIMEOUT_SCALE", "4"))


def wait_for(pred, timeout, step=0.05):
    end = time.monotonic() + timeout * TIMEOUT_SCALE
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


class Workdir:
    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="kmd-test-")

    def file(self, name):
        return os.path.join(self.path, name)

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


class Broker:
    """mosquitto on 127.0.0.1:port, no persistence: a restart forgets every
    retained message, so whatever is retained after one was sent again."""

    def __init__(self, work, port=None):
        self.work = work
        self.port = port or free_port()
        self.proc = None
        self.conf = work.file("mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n%s" % (self.port, os.environ.get("KM_BROKER_EXTRA", "")))

    def start(self):
        log = open(self.work.file("mosquitto.log"), "a")
        self.proc = subprocess.Popen(["mosquitto", "-c", self.conf], stdout=log, stderr=log,
                                     preexec_fn=_die_with_parent)
        ok = wait_for(self._accepts, 10)
        if not ok:
            raise RuntimeError("mosquitto did not start on port %d" % self.port)

    def _accepts(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def publish(self, topic, payload, retain=False):
        cmd = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.port), "-t", topic, "-m", payload]
        if retain:
            cmd.append("-r")
        subprocess.run(cmd, check=True, timeout=10)

    def retained(self, topics=("kaifa/#", "homeassistant/#"), wait=1.5):
        """Every retained message under topics: {topic: payload}."""
        cmd = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.port), "-v", "--retained-only",
               "-W", str(int(max(1, wait)))]
        for t in topics:
            cmd += ["-t", t]
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=30).stdout
        got = {}
        for line in out.decode("utf-8", "replace").splitlines():
            topic, _, payload = line.partition(" ")
            got[topic] = payload
        return got


class Subscriber:
    """A mosquitto_sub running in the background, printing topic and payload."""

    def __init__(self, work, broker, topics, name="sub.log"):
        self.path = work.file(name)
        self.log = open(self.path, "w")
        cmd = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-v"]
        for t in topics:
            cmd += ["-t", t]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        time.sleep(0.3)

    def lines(self):
        with open(self.path, "rb") as f:
            return [l.decode("utf-8", "replace").rstrip("\n") for l in f.readlines()]

    def messages(self):
        out = []
        for l in self.lines():
            t, _, p = l.partition(" ")
            out.append((t, p))
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        self.log.close()


class Pty:
    """A socat pty pair: the daemon reads `meter`, the test writes `feeder`."""

    def __init__(self, work, name="meter"):
        self.work = work
        self.meter = work.file(name)
        self.feeder = work.file(name + "-feeder")
        self.proc = None
        self.fd = None

    def start(self):
        log = open(self.work.file("socat.log"), "a")
        self.proc = subprocess.Popen(
            ["socat", "-d", "-d",
             "pty,raw,echo=0,link=" + self.meter,
             "pty,raw,echo=0,link=" + self.feeder],
            stdout=log, stderr=log, preexec_fn=_die_with_parent)
        if not wait_for(lambda: os.path.exists(self.meter) and os.path.exists(self.feeder), 10):
            raise RuntimeError("socat did not create the pty pair")
        self.fd = os.open(self.feeder, os.O_WRONLY | os.O_NOCTTY)

    def write(self, data, chunk=1024, pause=0.02):
        for i in range(0, len(data), chunk):
            os.write(self.fd, data[i:i + chunk])
            time.sleep(pause)

    def stop(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        self.proc = None
        wait_for(lambda: not os.path.exists(self.meter), 5)


class NotifyListener:
    """A NOTIFY_SOCKET that collects every sd_notify datagram. A thread keeps
    draining it, as systemd does: a unix datagram socket queues only a few
    messages, and sd_notify() blocks the sender when the queue is full."""

    def __init__(self, work):
        self.path = work.file("notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages = []  # (monotonic time, text)
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self):
        while self.running:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.messages.append((time.monotonic(), data.decode("utf-8", "replace")))

    def lines(self):
        with self.lock:
            msgs = list(self.messages)
        out = []
        for t, m in msgs:
            for l in m.split("\n"):
                if l:
                    out.append((t, l))
        return out

    def wait_line(self, pred, timeout):
        return wait_for(lambda: [l for t, l in self.lines() if pred(l)], timeout)

    def stop(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()


class Daemon:
    def __init__(self, work, config_text, env=None, name="daemon", preexec=None, wrap=None):
        self.work = work
        self.wrap = wrap or []  # argv prefix, e.g. to run it in another namespace
        self.conf = work.file(name + ".conf")
        self.logpath = work.file(name + ".log")
        with open(self.conf, "w") as f:
            f.write(config_text)
        self.env = dict(os.environ)
        for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM", "INVOCATION_ID"):
            self.env.pop(k, None)
        if env:
            self.env.update(env)
        self.preexec = preexec  # run in the child before exec (limits, signal dispositions)
        self.proc = None

    def _preexec(self):
        _die_with_parent()
        if self.preexec:
            self.preexec()

    def start(self):
        self.log = open(self.logpath, "w")
        self.proc = subprocess.Popen(self.wrap + [DAEMON, "-c", self.conf], stdout=self.log, stderr=self.log, env=self.env,
                                     preexec_fn=self._preexec)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=5):
        """SIGTERM; returns (exit code, seconds it took)."""
        if not self.proc:
            return None, 0
        if self.proc.poll() is not None:
            return self.proc.returncode, 0
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        return rc, time.monotonic() - t0

    def logtext(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")


def daemon_config(port_path, broker_port, extra=""):
    return ("[serial]\nport = %s\n\n[mqtt]\nhost = 127.0.0.1\nport = %d\nclient_id = kmd-test-%d\n%s\n"
            "[log]\nlevel = debug\n" % (port_path, broker_port, os.getpid(), extra))


# The derived values (issue 13, tests/integration/daemon/test_derived.py),
# published beside the meter's own under <prefix>/<id>/.
DERIVED = ("energy_import_this_hour", "energy_export_this_hour", "energy_import_last_hour",
           "energy_export_last_hour", "energy_import_today", "energy_export_today", "capacity_top3",
           "capacity_average", "capacity_average_projected", "capacity_step", "capacity_headroom")


def is_derived(name):
    """A derived value's topic level (or its /attributes)."""
    return name.split("/")[0] in DERIVED


def split_frames(data):
    """Cuts a capture into HDLC frames (flag to flag, both flags included)
    using the 11-bit length field; bytes between frames are dropped."""
    frames = []
    i = 0
    n = len(data)
    while i + 3 < n:
        if data[i] != 0x7E or (data[i + 1] & 0xF0) != 0xA0:
            i += 1
            continue
        length = ((data[i + 1] & 0x07) << 8) | data[i + 2]
        end = i + 1 + length
        if end < n and data[end] == 0x7E:
            frames.append(data[i:end + 1])
            i = end + 1
        else:
            i += 1
    return frames


def cli_readings(cli, capture):
    """The readings the CLI decodes from a capture, one dict per frame."""
    out = subprocess.run([cli, "parse-file", "--compact", capture], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, check=True, timeout=60).stdout
    return [json.loads(l) for l in out.decode().splitlines() if l.strip()]


def cleanup(*things):
    for t in things:
        if t is None:
            continue
        try:
            t.stop() if hasattr(t, "stop") else t.cleanup()
        except Exception as e:  # keep cleaning up the rest
            print("cleanup: %s" % e)

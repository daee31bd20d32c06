#!/usr/bin/env python3
"""`kaifa-meter serial` on real ptys: parity auto, the hint for a wrong
setting, and the same pty opened again and again with even parity.

Usage: test_serial_parity.py KAIFA_METER CAPTURES_DIR

- `simulate --pty` read with --parity auto: 8E1 gives frames at once, and
  stderr says so ("2400 8E1 gives good frames").
- The simulator's pty opened five times in a row with --parity even: each
  run decodes frames and ends with exit 0 on SIGTERM (Linux's pty keeps no
  parity bit; asking for it again used to fail with EINVAL).
- A socat pty pair with --parity auto: bytes that make no frame, so 8E1 is
  given up ("no valid frame in N bytes at 2400 8E1; trying 8N1"), then a
  Danish Kamstrup capture (an 8N1 meter): "2400 8N1 gives good frames" and
  its frames decode.
- A fixed --parity even on bytes that make no frame: one hint line, "no
  valid frame in N bytes at 2400 8E1: Kaifa and Aidon use 8E1, Kamstrup 8N1;
  try --parity none", once however long it goes on; with --parity none it
  says "try --parity even"; a run cut short before the limit still gets the
  hint when it ends.
Waits end as soon as what they wait for is there. Standard library only.
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

KM = sys.argv[1]
CAPTURES = sys.argv[2]
KAMSTRUP = os.path.join(CAPTURES, "amsreader", "kamstrup", "gh216-1.bin")
SCALE = float(os.environ.get("KM_TEST_TIMEOUT_SCALE", "4"))
children = []
failures = []
passed = [0]


def check(cond, what):
    print(("ok   - " if cond else "FAIL - ") + what, flush=True)
    if cond:
        passed[0] += 1
    else:
        failures.append(what)
    return cond


def wait_for(pred, timeout, step=0.05):
    end = time.monotonic() + timeout * SCALE
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def die_with_parent():
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Reader:
    """A child whose stdout and stderr lines are collected by threads."""

    def __init__(self, args):
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     preexec_fn=die_with_parent)
        children.append(self.proc)
        self.out, self.err = [], []
        self.threads = [threading.Thread(target=self._drain, args=(self.proc.stdout, self.out), daemon=True),
                        threading.Thread(target=self._drain, args=(self.proc.stderr, self.err), daemon=True)]
        for t in self.threads:
            t.start()

    @staticmethod
    def _drain(stream, into):
        for line in iter(stream.readline, b""):
            into.append(line.decode("utf-8", "replace").rstrip("\n"))

    def err_with(self, text):
        return [l for l in list(self.err) if text in l]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(10 * SCALE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        for t in self.threads:
            t.join(5)
        return rc


class PtyPair:
    """socat: the CLI reads `meter`, the test writes `feeder`."""

    def __init__(self, work):
        self.meter = os.path.join(work, "meter")
        self.feeder = os.path.join(work, "feeder")
        self.proc = subprocess.Popen(["socat", "pty,raw,echo=0,link=" + self.meter,
                                      "pty,raw,echo=0,link=" + self.feeder],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     preexec_fn=die_with_parent)
        children.append(self.proc)
        if not wait_for(lambda: os.path.exists(self.meter) and os.path.exists(self.feeder), 10):
            raise RuntimeError("socat made no pty pair")
        self.fd = os.open(self.feeder, os.O_WRONLY | os.O_NOCTTY)

    def write(self, data, chunk=512):
        for i in range(0, len(data), chunk):
            os.write(self.fd, data[i:i + chunk])

    def close(self):
        os.close(self.fd)
        self.proc.terminate()
        self.proc.wait(5)


def no_frames(n, seed=1):
    """Bytes that make no frame of any kind: no HDLC flag, no '/' or '!' of P1,
    no M-Bus start, no hex text."""
    rnd = random.Random(seed)
    banned = {0x7E, 0x68, 0x10, ord("/"), ord("!"), 0x0D, 0x0A} | set(b"0123456789abcdefABCDEF ")
    out = bytearray()
    while len(out) < n:
        b = rnd.randrange(256)
        if b not in banned:
            out.append(b)
    return bytes(out)


def json_frames(reader):
    got = []
    for line in list(reader.out):
        try:
            got.append(json.loads(line))
        except ValueError:
            pass
    return got


def test_simulator_auto(work):
    link = os.path.join(work, "sim-auto")
    sim = Reader([KM, "simulate", "--pty", "--link", link, "--speed", "20", "--duration", "120s"])
    try:
        check(bool(wait_for(lambda: os.path.islink(link), 10)), "simulate --pty made its link")
        cli = Reader([KM, "serial", link, "--parity", "auto", "--compact"])
        said = wait_for(lambda: cli.err_with("gives good frames"), 15)
        check(bool(said) and "2400 8E1 gives good frames" in said[0],
              "--parity auto on the simulator: stderr names 8E1 (%s)" % (said[0] if said else cli.err))
        check(bool(wait_for(lambda: len(json_frames(cli)) >= 3, 15)), "--parity auto: frames decode (%d)"
              % len(json_frames(cli)))
        check(not cli.err_with("trying"), "8E1 works at once: no other setting tried")
        rc = cli.stop()
        check(rc == 0, "SIGTERM: exit 0 (%s)" % rc)
    finally:
        sim.stop()


def test_reopen_even(work):
    link = os.path.join(work, "sim-even")
    sim = Reader([KM, "simulate", "--pty", "--link", link, "--speed", "50"])
    try:
        check(bool(wait_for(lambda: os.path.islink(link), 10)), "simulate --pty made its link")
        for run in range(5):
            cli = Reader([KM, "serial", link, "--parity", "even", "--compact"])
            got = wait_for(lambda: json_frames(cli) or cli.proc.poll() is not None, 15)
            n = len(json_frames(cli))
            rc = cli.stop()
            check(n >= 1 and rc == 0 and not cli.err_with("cannot open"),
                  "run %d: the simulator's pty opens with --parity even and decodes (%d frames, exit %s%s)"
                  % (run + 1, n, rc, "; " + " ".join(cli.err) if not got or rc else ""))
    finally:
        sim.stop()


def test_auto_falls_back_to_8n1(work):
    pty = PtyPair(work)
    cli = None
    try:
        cli = Reader([KM, "serial", pty.meter, "--parity", "auto", "--compact"])
        junk = no_frames(512)
        tried = wait_for(lambda: (pty.write(junk) or cli.err_with("trying 8N1")), 20, 0.01)
        check(bool(tried) and "no valid frame in" in tried[0] and "bytes at 2400 8E1; trying 8N1" in tried[0],
              "no frame at 8E1: stderr says so and tries 8N1 (%s)" % (tried[0] if tried else cli.err))
        check(not json_frames(cli), "no frame decoded from the junk")
        data = open(KAMSTRUP, "rb").read()
        kept = wait_for(lambda: (pty.write(data) or cli.err_with("gives good frames")), 20, 0.2)
        check(bool(kept) and "2400 8N1 gives good frames" in kept[0],
              "the Kamstrup frames decode at 8N1 and stderr names it (%s)" % (kept[0] if kept else cli.err))
        frames = wait_for(lambda: json_frames(cli), 10)
        check(bool(frames) and all(f.get("header", {}).get("transport") for f in frames),
              "its frames are decoded (%d)" % len(frames or []))
        check(len(cli.err_with("trying")) == 1, "one setting given up, one line (%d)" % len(cli.err_with("trying")))
        rc = cli.stop()
        check(rc == 0, "SIGTERM: exit 0 (%s)" % rc)
    finally:
        if cli:
            cli.stop()
        pty.close()


def test_hint(work, parity, other):
    pty = PtyPair(work)
    cli = None
    try:
        cli = Reader([KM, "serial", pty.meter, "--parity", parity])
        junk = no_frames(512, seed=2)
        want = "at 2400 8%s1: Kaifa and Aidon use 8E1, Kamstrup 8N1; try --parity %s" % (
            "E" if parity == "even" else "N", other)
        hint = wait_for(lambda: (pty.write(junk) or cli.err_with("no valid frame in")), 20, 0.01)
        check(bool(hint) and want in hint[0], "--parity %s on junk: the hint (%s)" % (parity, hint[0] if hint else cli.err))
        # the hint is given once: twice the limit more junk, read to its end, adds no line
        base = proc_read_bytes(cli.proc.pid)
        pty.write(no_frames(8192, seed=3))
        check(bool(wait_for(lambda: proc_read_bytes(cli.proc.pid) >= base + 8192, 10)),
              "--parity %s: the reader took 8192 more bytes" % parity)
        rc = cli.stop()
        check(rc == 0, "SIGTERM: exit 0 (%s)" % rc)
        check(len(cli.err_with("no valid frame")) == 1, "--parity %s: one hint line in all (%d)"
              % (parity, len(cli.err_with("no valid frame"))))
    finally:
        if cli:
            cli.stop()
        pty.close()


def test_hint_at_end(work):
    pty = PtyPair(work)
    cli = None
    try:
        cli = Reader([KM, "serial", pty.meter, "--stats"])
        # once it waits for input (in ppoll), what it reads from then on is the pty's
        check(bool(wait_for(lambda: waiting_in_poll(cli.proc.pid), 10)), "the reader waits for input")
        base = proc_read_bytes(cli.proc.pid)
        pty.write(no_frames(300, seed=4))
        read = wait_for(lambda: proc_read_bytes(cli.proc.pid) >= base + 300, 10)
        check(bool(read), "the reader took the 300 bytes")
        rc = cli.stop()
        hint = cli.err_with("no valid frame in 300 bytes at 2400 8E1")
        check(rc == 0 and bool(hint), "a run ended before the limit still gets the hint (%s)" % cli.err)
    finally:
        if cli:
            cli.stop()
        pty.close()


def waiting_in_poll(pid):
    """The process sits in ppoll(2) (x86-64 syscall 271, 73 on arm64)."""
    try:
        with open("/proc/%d/syscall" % pid) as f:
            return f.read().split()[0] in ("271", "73")
    except (OSError, IndexError):
        return False


def proc_read_bytes(pid):
    try:
        with open("/proc/%d/io" % pid) as f:
            for line in f:
                if line.startswith("rchar:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main():
    for p in ("socat",):
        if not shutil.which(p):
            print("missing program: " + p)
            return 1
    work = tempfile.mkdtemp(prefix="km-serial-")
    try:
        test_simulator_auto(work)
        test_reopen_even(work)
        test_auto_falls_back_to_8n1(work)
        test_hint(work, "even", "none")
        test_hint(work, "none", "even")
        test_hint_at_end(work)
    finally:
        for p in children:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (passed[0], len(failures)))
    for f in failures:
        print("  failed: " + f)
    return 1 if failures or not passed[0] else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Integration test of `kaifa-meter simulate` with the project's own decoder.

Usage: test_simulate.py KAIFA_METER CAPTURES_DIR

- One simulated hour at --speed 3600 piped into `parse-file - --stats`:
  exactly 1800 good frames, 1800 decoded, 0 checksum failures, 0 skipped
  bytes, and it takes about one second of real time.
- One-phase hour as JSON: 1440 list 1, 359 list 2, 1 list 3 at 00:00:10
  carrying the 00:00:00 clock; no L2/L3 values.
- --pty: the printed pty is read by `kaifa-meter serial`; frames decode.
- --replay: a real capture comes out frame for frame, at its meter's pace.
- --replay --stats counts the lists it replayed.
- SIGTERM ends simulate blocked writing to a pty nobody reads.
- Usage errors exit 64 with one line.
Standard library only; every child process is killed at the end.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
import tty

KM = sys.argv[1]
CAPTURES = sys.argv[2]
START = "2026-01-01T00:00:00"
children = []
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def spawn(args, **kw):
    p = subprocess.Popen(args, **kw)
    children.append(p)
    return p


def stats_of(text):
    """Parses the --stats lines ('good frames: 1800') into a dict."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([a-z ]+): (\d+)", line.strip())
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


def test_pipe_one_hour():
    t0 = time.monotonic()
    sim = spawn([KM, "simulate", "--speed", "3600", "--duration", "1h", "--start", START],
                stdout=subprocess.PIPE)
    dec = spawn([KM, "parse-file", "-", "--stats"], stdin=sim.stdout,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    sim.stdout.close()
    _, err = dec.communicate(timeout=30)
    sim.wait(timeout=5)
    elapsed = time.monotonic() - t0
    s = stats_of(err)
    check(sim.returncode == 0 and dec.returncode == 0, "pipe: both exit 0")
    check(s.get("good frames") == 1800, "pipe: 1800 good frames (got %s)" % s.get("good frames"))
    check(s.get("decoded frames") == 1800, "pipe: 1800 decoded frames")
    check(s.get("checksum failures") == 0, "pipe: no checksum failure")
    check(s.get("skipped bytes") == 0, "pipe: no skipped byte")
    check(0.8 < elapsed < 10, "pipe: paced to about 1 s of real time (%.2f s)" % elapsed)


def test_one_phase_json():
    sim = subprocess.run([KM, "simulate", "--phases", "1", "--speed", "0", "--duration", "1h",
                          "--start", START, "--seed", "7", "--stats"],
                         capture_output=True, timeout=30)
    check(sim.returncode == 0, "1-phase: simulate exits 0")
    check(b"frames written: 1800 (list 1: 1440, list 2: 359, list 3: 1)" in sim.stderr,
          "1-phase: simulate --stats counts 1440/359/1")
    dec = subprocess.run([KM, "parse-file", "-", "--compact"], input=sim.stdout,
                         capture_output=True, timeout=30)
    frames = [json.loads(line) for line in dec.stdout.decode().splitlines() if line.strip()]
    check(len(frames) == 1800, "1-phase: 1800 JSON frames (got %d)" % len(frames))
    lists = [len(f["data"]) for f in frames]
    check(lists.count(1) == 1440 and lists.count(9) == 359 and lists.count(14) == 1,
          "1-phase: 1440 x 1 item, 359 x 9 items, 1 x 14 items")
    l3 = [i for i, f in enumerate(frames) if "meter_timestamp" in f["data"]]
    check(l3 == [5], "1-phase: list 3 is the 6th frame, sent at 00:00:10 (%s)" % l3)
    if l3:
        d = frames[l3[0]]["data"]
        check(d["meter_timestamp"]["value"].startswith("2026-01-01 00:00:00"),
              "1-phase: list 3 clock is the freeze time 00:00:00 (%s)" % d["meter_timestamp"]["value"])
        check(d["meter_type"]["value"] == "MA105H2E", "1-phase: meter type MA105H2E")
        check(all(k not in d for k in ("phase_current_l2", "phase_voltage_l3")), "1-phase: no L2/L3")
        check(d["energy_active_cum_import"]["unit"] == "kWh" and
              d["energy_active_cum_import"]["value"] > 0, "1-phase: energy in kWh, positive")
    # same seed, same bytes; other seed, other bytes
    again = subprocess.run([KM, "simulate", "--phases", "1", "--speed", "0", "--duration", "1h",
                            "--start", START, "--seed", "7"], capture_output=True, timeout=30)
    other = subprocess.run([KM, "simulate", "--phases", "1", "--speed", "0", "--duration", "1h",
                            "--start", START, "--seed", "8"], capture_output=True, timeout=30)
    check(again.stdout == sim.stdout and other.stdout != sim.stdout,
          "seed: reproducible, and the seed matters")


def test_pty():
    sim = spawn([KM, "simulate", "--pty", "--speed", "10", "--duration", "60s", "--start", START],
                stdout=subprocess.PIPE, text=True)
    name = sim.stdout.readline().strip()
    check(name.startswith("/dev/pts/"), "pty: name printed (%s)" % name)
    dec = spawn([KM, "serial", name, "--compact"], stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True)
    try:
        out, err = dec.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        dec.kill()
        out, err = dec.communicate()
    sim.wait(timeout=5)
    frames = [json.loads(line) for line in out.splitlines() if line.strip()]
    # 30 frames written over 6 s; the reader may miss the first one or two
    check(25 <= len(frames) <= 30, "pty: serial decodes the frames (%d of 30)" % len(frames))
    check(any("meter_timestamp" in f["data"] for f in frames), "pty: the list 3 came through")


def test_replay():
    cap = os.path.join(CAPTURES, "smidsrod", "KFM_001", "MA304H3E-1-ok.bin")
    t0 = time.monotonic()
    sim = subprocess.run([KM, "simulate", "--replay", cap, "--speed", "10"], capture_output=True,
                         timeout=30)
    elapsed = time.monotonic() - t0
    check(sim.returncode == 0, "replay: exit 0")
    # the capture spans 26 s of meter time (15:46:14 .. 15:46:40): 2.6 s at speed 10
    check(2.3 < elapsed < 8, "replay: paced by the meter clock (%.2f s)" % elapsed)
    want = subprocess.run([KM, "parse-file", cap, "--compact"], capture_output=True, timeout=30)
    got = subprocess.run([KM, "parse-file", "-", "--compact"], input=sim.stdout,
                         capture_output=True, timeout=30)
    want_data = [json.loads(l)["data"] for l in want.stdout.decode().splitlines() if l.strip()]
    got_data = [json.loads(l)["data"] for l in got.stdout.decode().splitlines() if l.strip()]
    check(len(want_data) == 14 and got_data == want_data, "replay: the 14 frames, equal data")


def test_replay_stats():
    """--stats after --replay counts the frames of each list (it said 0, 0, 0).
    Kaifa lists are told by their name; Aidon's by what they carry (list 1:
    the power alone, list 3: with the energy registers, list 2: the rest)."""
    def kind(frame):
        m = re.match(r"KFM_001 list (\d)", frame.get("list", ""))
        if m:
            return int(m.group(1))
        if "energy_active_cum_import" in frame["data"]:
            return 3
        return 1 if len(frame["data"]) == 1 else 2
    for rel in (("smidsrod", "KFM_001", "MA304T4-3-ok.bin"), ("smidsrod", "AIDON_V0001", "6525-3-FC722-ok.bin")):
        cap = os.path.join(CAPTURES, *rel)
        dec = subprocess.run([KM, "parse-file", cap, "--compact"], capture_output=True, timeout=60)
        kinds = [kind(json.loads(l)) for l in dec.stdout.decode().splitlines() if l.strip()]
        want = "frames written: %d (list 1: %d, list 2: %d, list 3: %d), dropped: 0" % (
            len(kinds), kinds.count(1), kinds.count(2), kinds.count(3))
        sim = subprocess.run([KM, "simulate", "--replay", cap, "--speed", "0", "--stats"], capture_output=True,
                             timeout=60)
        got = sim.stderr.decode().strip()
        check(sim.returncode == 0 and got == want and kinds.count(3) > 0,
              "replay --stats: %s: %s (got %s)" % (rel[-1], want, got))


def wait_for(cond, timeout=60):
    """Polls cond() until it holds or the deadline passes: a wait for a state
    the test can see, never for a fixed time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return False


def proc_field(pid, name):
    """wchar from /proc/PID/io, or the state letter from /proc/PID/stat."""
    try:
        if name == "state":
            with open("/proc/%d/stat" % pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0]
        with open("/proc/%d/io" % pid) as f:
            return dict(line.split(": ") for line in f.read().splitlines()).get(name)
    except (FileNotFoundError, ProcessLookupError):
        return None


def test_signal_blocked_write():
    """SIGTERM ends simulate blocked in write() to a pty nobody reads (it
    retried the interrupted write forever). At --speed 0 it never sleeps,
    so once it has written and sleeps it is blocked in that write."""
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        sim = spawn([KM, "simulate", "--speed", "0", "--start", START], stdout=slave, stderr=subprocess.PIPE)
        ready = wait_for(lambda: sim.poll() is not None or
                         (int(proc_field(sim.pid, "wchar") or 0) > 0 and proc_field(sim.pid, "state") == "S"))
        check(ready and sim.poll() is None, "signal: simulate fills the pty and blocks")
        t0 = time.monotonic()
        sim.send_signal(signal.SIGTERM)
        try:
            _, err = sim.communicate(timeout=10)  # generous: a loaded machine must not fail it
            ended = True
        except subprocess.TimeoutExpired:
            sim.kill()
            _, err = sim.communicate()
            ended = False
        check(ended and sim.returncode == 0 and not err,
              "signal: SIGTERM ends simulate blocked writing to a pty nobody reads, exit 0 "
              "(%s after %.0f ms, rc %s, %r)" % ("ended" if ended else "killed", (time.monotonic() - t0) * 1000,
                                                 sim.returncode, err))
    finally:
        os.close(master)
        os.close(slave)


def test_timezone_dst():
    """--timezone Europe/Oslo over the autumn change: the hourly list comes
    every real hour, so the 02:00:00 stamp twice; --start is local time."""
    r = subprocess.run([KM, "simulate", "--timezone", "Europe/Oslo", "--start", "2026-10-25T00:30:00",
                        "--duration", "4h", "--speed", "0", "--seed", "5"], capture_output=True, timeout=30)
    dec = subprocess.run([KM, "parse-file", "--compact", "-"], input=r.stdout, capture_output=True, timeout=60)
    readings = [json.loads(l) for l in dec.stdout.decode().splitlines() if l.strip()]
    hourly = [x["notification_time"][:19] for x in readings if "energy_active_cum_import" in x["data"]]
    check(hourly == ["2026-10-25 01:00:00", "2026-10-25 02:00:00", "2026-10-25 02:00:00", "2026-10-25 03:00:00"],
          "timezone: the hourly lists of 25 October 2026 00:30-04:30 local (%s)" % hourly)
    check(readings and readings[0]["notification_time"].startswith("2026-10-25 00:30:00"),
          "timezone: the first frame at the --start local time")
    bad = subprocess.run([KM, "simulate", "--timezone", "Europe/Atlantis"], capture_output=True, timeout=10)
    check(bad.returncode == 64 and b"no zone 'Europe/Atlantis'" in bad.stderr, "timezone: unknown zone exits 64")


def test_usage():
    for args in (["--phases", "2"], ["--duration", "soon"], ["--speed", "-1"], ["--start", "x"],
                 ["--bogus"], ["--pty", "--output", "x"], ["extra"]):
        r = subprocess.run([KM, "simulate"] + args, capture_output=True, timeout=10)
        lines = r.stderr.decode().strip().splitlines()
        check(r.returncode == 64 and len(lines) == 1 and not r.stdout,
              "usage: simulate %s exits 64 with one line" % " ".join(args))


def main():
    try:
        test_pipe_one_hour()
        test_one_phase_json()
        test_pty()
        test_replay()
        test_replay_stats()
        test_signal_blocked_write()
        test_timezone_dst()
        test_usage()
    finally:
        for p in children:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

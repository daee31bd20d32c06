#!/usr/bin/env python3
"""A simulated day at full speed, with the broker gone for a third of it.

`kaifa-meter simulate` makes 24 h of a three-phase Kaifa meter (43,200
frames: list 1 every 2 s, list 2 every 10 s, list 3 every hour). The day is
cut into three eight-hour parts at frame boundaries, and each part is
replayed into the daemon's pty by `simulate --replay --speed 100000` (an
eight-hour part takes about 0.3 s). The broker is stopped before the second
part and started again (empty: no persistence) only after the daemon has
read all of it. Checks:

- the daemon reads every byte (its /proc/PID/io), and after the last part
  every value topic holds the simulator's last value of that day (what
  `kaifa-meter parse-file` decodes from the same bytes), the hourly energy
  registers and the clock included;
- nothing is logged as dropped, and STATUS= never counts a drop;
- status is online at the end, and SIGTERM exits 0.
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kmtest as k  # noqa: E402

CLI = os.environ.get("KM_CLI")
METER_ID = "7359992890941742"  # the simulator's default
START = "2026-01-15T00:00:00"


def last_values(cli, path):
    """name -> payload the daemon should end with (display units, as the
    CLI's JSON gives the value)."""
    last = {}
    for r in k.cli_readings(cli, path):
        for name, v in r["data"].items():
            last[name] = v["value"]
    return last


def same(payload, value):
    if payload is None:
        return False
    if isinstance(value, (int, float)):
        try:
            return abs(float(payload) - float(value)) <= 1e-9 * max(1.0, abs(value))
        except ValueError:
            return False
    return payload == str(value)


def read_bytes(pid):
    """Bytes the process has read so far (all files; it only grows)."""
    try:
        with open("/proc/%d/io" % pid) as f:
            for line in f:
                if line.startswith("rchar:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def replay(part_path, pty):
    """One part through `simulate --replay` into the pty, at full speed."""
    r = subprocess.run([CLI, "simulate", "--replay", part_path, "--speed", "100000", "--stats",
                        "-o", pty.feeder], capture_output=True, text=True, timeout=120)
    return r.returncode, r.stderr.strip()


def main():
    k.need(k.DAEMON, CLI or "kaifa-meter", "mosquitto", "mosquitto_sub", "socat")
    work = k.Workdir()
    broker = k.Broker(work)
    pty = k.Pty(work)
    notify = k.NotifyListener(work)
    daemon = None
    topic = "kaifa/%s/" % METER_ID
    try:
        day = work.file("day.bin")
        subprocess.run([CLI, "simulate", "--speed", "0", "--duration", "24h", "--start", START, "-o", day],
                       check=True, timeout=60)
        data = open(day, "rb").read()
        frames = k.split_frames(data)
        k.check(len(frames) == 43200, "a simulated day is 43200 frames (%d)" % len(frames))
        expect = last_values(CLI, day)
        k.check(len(expect) >= 15 and "energy_active_cum_import" in expect, "the day's last values: %d names"
                % len(expect))
        thirds = [frames[:14400], frames[14400:28800], frames[28800:]]
        parts = []
        for n, fs in enumerate(thirds):
            path = work.file("part%d.bin" % n)
            with open(path, "wb") as f:
                f.write(b"".join(fs))
            parts.append((path, sum(len(x) for x in fs)))

        broker.start()
        pty.start()
        config = ("[serial]\nport = %s\nparity = even\n\n[mqtt]\nhost = 127.0.0.1\nport = %d\n"
                  "client_id = kmd-day-%d\n\n[log]\nlevel = info\n" % (pty.meter, broker.port, os.getpid()))
        daemon = k.Daemon(work, config, env={"NOTIFY_SOCKET": notify.path})
        daemon.start()
        k.check(bool(notify.wait_line(lambda l: l == "READY=1", 5)), "READY=1")
        k.check(bool(k.wait_for(lambda: "reading" in daemon.logtext(), 5)), "daemon opened the pty")
        pid = daemon.proc.pid

        # 00:00 - 08:00 with the broker there
        base = read_bytes(pid)
        rc, said = replay(parts[0][0], pty)
        k.check(rc == 0, "part 1 replayed (%s)" % said)
        k.check(bool(k.wait_for(lambda: read_bytes(pid) >= base + parts[0][1], 15)), "the daemon read part 1")

        # 08:00 - 16:00 with the broker gone
        broker.stop()
        k.check(bool(k.wait_for(lambda: "reconnecting" in daemon.logtext(), 10)), "daemon noticed the broker is gone")
        base = read_bytes(pid)
        rc, said = replay(parts[1][0], pty)
        k.check(rc == 0, "part 2 replayed while the broker is down (%s)" % said)
        k.check(bool(k.wait_for(lambda: read_bytes(pid) >= base + parts[1][1], 15)),
                "the daemon read part 2 while the broker was down")

        # 16:00 - 24:00: the broker is back, empty
        broker.start()
        base = read_bytes(pid)
        rc, said = replay(parts[2][0], pty)
        k.check(rc == 0, "part 3 replayed (%s)" % said)
        k.check(bool(k.wait_for(lambda: read_bytes(pid) >= base + parts[2][1], 15)), "the daemon read part 3")

        def wrong():
            got = broker.retained(["kaifa/#"], 1)
            return [n for n, v in expect.items() if n != "meter_timestamp" and not same(got.get(topic + n), v)]
        k.wait_for(lambda: not wrong(), 30, 0.5)
        bad = wrong()
        retained = broker.retained(["kaifa/#"], 1)
        k.check(not bad, "every value topic ends with the simulator's last value (%d topics; wrong: %s)"
                % (len(expect), ["%s=%s (want %s)" % (n, retained.get(topic + n), expect[n]) for n in bad[:4]]))
        k.check(retained.get(topic + "meter_timestamp", "").startswith("2026-01-15T23:00:00"),
                "meter_timestamp is the last hourly list's clock (%s)" % retained.get(topic + "meter_timestamp"))
        k.check(retained.get(topic + "status") == "online", "status is online")

        log = daemon.logtext()
        k.check("dropped" not in log, "nothing logged as dropped")
        status = [l for t, l in notify.lines() if l.startswith("STATUS=")]
        drops = [int(m.group(1)) for m in (re.search(r"(\d+) dropped", l) for l in status) if m]
        k.check(drops and max(drops) == 0, "STATUS= never counts a drop (%d lines, max %s)"
                % (len(status), max(drops) if drops else None))
        rc, took = daemon.stop()
        k.check(rc == 0, "SIGTERM: exit 0 (%s, %.2f s)" % (rc, took))
    finally:
        k.cleanup(daemon, pty, broker, notify)
        if daemon and k.FAILURES:
            print("--- daemon log (tail) ---")
            print("\n".join(daemon.logtext().splitlines()[-30:]))
        work.cleanup()
    k.finish()


if __name__ == "__main__":
    main()

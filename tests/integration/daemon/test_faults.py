#!/usr/bin/env python3
"""What real homes do to kaifa-meterd, repeated: one daemon, a simulated
meter writing into a socat pty all along, and one of

  broker      mosquitto killed (SIGKILL) and started again on its port 10
              times while frames keep coming;
  pty         the pty removed (socat stopped: the link vanishes) and made
              again 10 times, frames written into each new one;
  postgresql  PostgreSQL ([postgresql] output) restarted twice while frames
              keep coming.

At the end, the frames stopped and everything delivered, it asserts: the
daemon still runs and exits 0 on SIGTERM; its fd count (/proc/PID/fd) is
at most 2 above and its RSS (VmRSS) at most 1024 kB above what they were
after the first round, in the same quiet state (a leak per round would show
as 9 fds or more); every value topic retained on the broker holds the last
value written, the last hourly list 3 energies included; every frame
written was decoded (STATUS=); with PostgreSQL, one row per frame written,
in order, none twice.

The frames are `kaifa-meter simulate` from 00:59:30 (the hourly list 3 at
01:00:10 is among the first), decoded by `kaifa-meter parse-file` for the
expected values. Waits end on conditions, with limits stretched by
KM_TEST_TIMEOUT_SCALE (kmtest.wait_for); the writer's pace is the load, not
a synchronisation. Exit 77 (skipped) for postgresql without a server."""
import os
import re
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "pg"))
import kmtest as k  # noqa: E402
import pgserver  # noqa: E402

CLI = os.environ.get("KM_CLI")
METER_ID = "7359992890941742"  # kaifa-meter simulate's default
TOPIC = "kaifa/%s/" % METER_ID
ROUNDS = {"broker": 10, "pty": 10, "postgresql": 2}
FD_SLACK = 2
RSS_SLACK_KB = 1024
PACE = 0.01  # seconds between frames: 100 frames/s, 50 times the meter's pace
DB = "power"


def status_lines(notify, since=0.0):
    return [l for t, l in notify.lines() if l.startswith("STATUS=") and t >= since]


def decoded(notify):
    s = status_lines(notify)
    m = re.search(r"(\d+) frames decoded", s[-1]) if s else None
    return int(m.group(1)) if m else -1


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


class Writer:
    """Writes frames into the pty, one every PACE seconds, in order, from a
    thread; pause() returns once no write is under way. written is how many
    went out (all of them whole)."""

    def __init__(self, pty, frames):
        self.pty = pty
        self.frames = frames
        self.written = 0
        self.lock = threading.Lock()
        self.running = False
        self.thread = None

    def _run(self):
        while self.running and self.written < len(self.frames):
            with self.lock:
                if not self.running:
                    break
                os.write(self.pty.fd, self.frames[self.written])
                self.written += 1
            time.sleep(PACE)

    def start(self):
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def pause(self):
        with self.lock:
            self.running = False
        self.thread.join(10)

    def write_now(self, n):
        """n frames at once, without the thread (the pty mode)."""
        for _ in range(n):
            if self.written >= len(self.frames):
                return
            os.write(self.pty.fd, self.frames[self.written])
            self.written += 1


def last_values(readings):
    last = {}
    for r in readings:
        for name, v in r["data"].items():
            if isinstance(v.get("value"), (int, float)):
                last[name] = v["value"]
    return last


def quiet(notify, daemon, writer, pg=None):
    """Waits until every frame written was decoded, the broker connection
    is up with nothing queued or waiting, and (with PostgreSQL) nothing is
    pending; then returns (fds, rss kB)."""
    def done():
        s = status_lines(notify)
        if not s or decoded(notify) != writer.written:
            return False
        last = s[-1]
        ok = "broker connected" in last and " 0 queued" in last and " 0 waiting" in last
        if pg:
            ok = ok and "postgresql connected, 0 pending" in last
        return ok
    k.check(bool(k.wait_for(done, 20, 0.1)), "quiet: every frame written decoded (%d of %d), nothing queued%s (%s)"
            % (decoded(notify), writer.written, ", nothing pending for PostgreSQL" if pg else "",
               (status_lines(notify)[-1:] or ["no STATUS="])[0]))
    pid = daemon.proc.pid
    return fds(pid), rss_kb(pid)


def broker_round(i, broker, daemon, notify, writer):
    t = time.monotonic()
    broker.proc.kill()  # SIGKILL: no DISCONNECT, no clean close
    broker.proc.wait()
    broker.proc = None
    noticed = k.wait_for(lambda: daemon.logtext().count("reconnecting with backoff") >= i + 1, 10, 0.05)
    broker.start()  # same port, empty (no persistence)
    back = k.wait_for(lambda: daemon.logtext().count("connected again") >= i + 1, 20, 0.1)
    k.check(bool(noticed) and bool(back), "round %d: broker killed, noticed, restarted, reconnected (%d frames "
            "written so far)" % (i + 1, writer.written))


def has_open(pid, path):
    """Whether the process holds an fd on the device path (a link) names."""
    target = os.path.realpath(path)
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == target:
                return True
        except OSError:
            pass
    return False


def pty_round(i, pty, daemon, sub, writer):
    """The loss is logged (once per loss after good frames); the reopen
    (which logs nothing until a good frame) is seen in /proc/PID/fd: an fd
    on the new pty; the round's frames by their state documents."""
    pty.stop()  # socat gone: the pty and its link vanish
    gone = k.wait_for(lambda: daemon.logtext().count("closed or unplugged") >= i + 1, 10, 0.05)
    pty.start()
    opened = k.wait_for(lambda: has_open(daemon.proc.pid, pty.meter), 40, 0.05)
    writer.write_now(60)  # one list 2 among them; a good frame resets the reopen backoff
    got = k.wait_for(lambda: len(sub.lines()) >= writer.written, 20, 0.05)
    k.check(bool(gone) and bool(opened) and bool(got), "round %d: pty removed, noticed (%s), made again, reopened "
            "(%s), a state document per frame (%d of %d)" % (i + 1, bool(gone), bool(opened), len(sub.lines()),
                                                             writer.written))


def pg_round(i, srv, daemon, notify, writer):
    t = time.monotonic()
    srv.stop()
    noticed = k.wait_for(lambda: [l for l in status_lines(notify, t) if "postgresql disconnected" in l], 15)
    srv.start()
    back = k.wait_for(lambda: [l for l in status_lines(notify, t) if "postgresql connected" in l], 30)
    k.check(bool(noticed) and bool(back), "round %d: PostgreSQL stopped, noticed, started, reconnected (%d frames "
            "written so far)" % (i + 1, writer.written))


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode not in ROUNDS:
        print("usage: test_faults.py broker|pty|postgresql")
        sys.exit(64)
    k.need(k.DAEMON, CLI, "mosquitto", "mosquitto_sub", "socat")
    if mode == "postgresql":
        k.need("psql")
        pgserver.exit_unless_installed()
    work = k.Workdir()
    broker = k.Broker(work)
    pty = k.Pty(work)
    notify = k.NotifyListener(work)
    srv = daemon = None
    try:
        sim = work.file("sim.bin")
        subprocess.run([CLI, "simulate", "--speed", "0", "--start", "2026-01-01T00:59:30", "--duration", "2h",
                        "-o", sim], check=True, timeout=60)
        frames = k.split_frames(open(sim, "rb").read())
        readings = k.cli_readings(CLI, sim)
        k.check(len(frames) == len(readings) == 3600, "simulated 2 h: %d frames, %d decoded" % (len(frames),
                                                                                            len(readings)))
        extra = ""
        if mode == "postgresql":
            srv = pgserver.Server()
            srv.init().start()
            srv.createdb(DB)
            subprocess.run([CLI, "initdb", "--dbname", DB, "--dbuser", pgserver.USER, "--dbtable", "readings",
                            "--host", srv.sock], check=True, stdout=subprocess.DEVNULL, timeout=30)
            extra = ("[postgresql]\nhost = %s\ndbname = %s\nuser = %s\ntable = readings\n"
                     % (srv.sock, DB, pgserver.USER))
        broker.start()
        pty.start()
        conf = k.daemon_config(pty.meter, broker.port).replace("level = debug", "level = " + os.environ.get("KM_FAULTS_LOG", "info")) + extra
        daemon = k.Daemon(work, conf, env={"NOTIFY_SOCKET": notify.path})
        daemon.start()
        k.check(bool(notify.wait_line(lambda l: l == "READY=1", 5)), "READY=1")
        k.check(bool(k.wait_for(lambda: "reading at" in daemon.logtext(), 5, 0.1)), "the pty is open")
        writer = Writer(pty, frames)
        rounds = ROUNDS[mode]
        sub = k.Subscriber(work, broker, ["kaifa/+/state"]) if mode == "pty" else None

        def one_round(i):
            if mode == "broker":
                start = writer.written
                writer.start()
                k.wait_for(lambda: writer.written >= start + 150, 10, 0.05)  # load before the kill
                broker_round(i, broker, daemon, notify, writer)
                writer.pause()
            elif mode == "pty":
                pty_round(i, pty, daemon, sub, writer)
            else:
                start = writer.written
                writer.start()
                k.wait_for(lambda: writer.written >= start + 300, 10, 0.05)
                pg_round(i, srv, daemon, notify, writer)
                after = writer.written
                k.wait_for(lambda: writer.written >= after + 200, 10, 0.05)  # frames after the restart
                writer.pause()

        if mode == "pty":  # frames still in the pty when it is removed would be lost: they are awaited
            writer.write_now(60)
            k.check(bool(k.wait_for(lambda: decoded(notify) == writer.written, 20, 0.1)),
                    "the first %d frames decoded" % writer.written)
        one_round(0)
        base_fds, base_rss = quiet(notify, daemon, writer, srv)
        for i in range(1, rounds):
            one_round(i)
            if not daemon.alive():
                break
        k.check(daemon.alive(), "the daemon survived %d rounds" % rounds)
        end_fds, end_rss = quiet(notify, daemon, writer, srv)
        k.check(end_fds <= base_fds + FD_SLACK, "fd count flat: %d after the first round, %d at the end (slack %d)"
                % (base_fds, end_fds, FD_SLACK))
        k.check(end_rss <= base_rss + RSS_SLACK_KB, "RSS flat: %d kB after the first round, %d kB at the end "
                "(slack %d kB)" % (base_rss, end_rss, RSS_SLACK_KB))
        k.check(decoded(notify) == writer.written, "every frame written was decoded (%d of %d)"
                % (decoded(notify), writer.written))

        # what the broker holds: the last value written of every name
        sent = readings[:writer.written]
        last = last_values(sent)
        list3 = [r for r in sent if "energy_active_cum_import" in r["data"]]
        retained = k.wait_for(lambda: (lambda r: r if all(r.get(TOPIC + n) is not None for n in last) else None)(
            broker.retained(["kaifa/#"], 1)), 10, 0.2) or broker.retained(["kaifa/#"], 1)
        wrong = [n for n, v in last.items()
                 if retained.get(TOPIC + n) is None or abs(float(retained[TOPIC + n]) - v) > 1e-6 * max(1, abs(v))]
        k.check(len(last) >= 12 and not wrong, "every value topic holds the last value written (%d topics, wrong: %s)"
                % (len(last), wrong[:5]))
        energy = str(list3[-1]["data"]["energy_active_cum_import"]["value"]) if list3 else None
        k.check(bool(list3) and retained.get(TOPIC + "energy_active_cum_import") is not None and
                abs(float(retained[TOPIC + "energy_active_cum_import"]) - float(energy)) < 1e-9,
                "the last hourly energy is retained (%s kWh, %d list 3 frames written)" % (energy, len(list3)))

        if srv:
            rows = srv.psql("SELECT meter_ts, pwr_act_pos FROM readings ORDER BY id", DB)
            want = [(r["notification_time"][:19].replace("T", " "),
                     float(r["data"]["power_active_import"]["value"]) if "power_active_import" in r["data"] else None)
                    for r in sent]
            got = [(r[0][:19].replace("T", " "), float(r[1]) if r[1] != "" else None) for r in rows]
            k.check(len(rows) == writer.written, "one row per frame: %d rows, %d frames" % (len(rows), writer.written))
            first = next((i for i, (g, w) in enumerate(zip(got, want)) if g != w), min(len(got), len(want)))
            k.check(got == want, "the rows are the frames, in order, none twice (first difference at row %d: "
                    "got %s, want %s)" % (first, got[first:first + 3], want[first:first + 3]))

        rc, took = daemon.stop()
        k.check(rc == 0, "SIGTERM: exit 0 (%s, %.2f s)" % (rc, took))
    finally:
        k.cleanup(daemon, pty, broker, notify, locals().get("sub"))
        if srv:
            srv.cleanup()
        if daemon and k.FAILURES:
            print("--- daemon log (without the retry lines) ---")
            print("\n".join(l for l in daemon.logtext().splitlines() if "next try" not in l))
        work.cleanup()
    k.finish()


if __name__ == "__main__":
    main()

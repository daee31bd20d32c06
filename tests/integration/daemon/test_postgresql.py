#!/usr/bin/env python3
"""kaifa-meterd with a [postgresql] section against a real PostgreSQL server
(started by tests/integration/pg/pgserver.py in a temporary directory, unix
socket only), a real mosquitto and a socat pty:

- `kaifa-meter initdb` makes the table; the whole MA304T4 capture (1475
  frames: list 1, list 2, one hourly list 3) written into the pty gives one
  row per frame, list 1 frames included (no meter-id hold), equal to what
  `kaifa-meter parse-file` decodes; the list 3 row has energy_act_pos 801652
  and meter id 6970631400000233;
- the server is stopped for 20 s while the simulated meter (`kaifa-meter
  simulate --speed 10`) keeps writing into the pty: MQTT values keep
  arriving all along, STATUS= shows PostgreSQL disconnected with rows
  pending, and once the server is back every frame has its row, none lost,
  none twice, in order;
- SIGHUP with the same file keeps the connection; SIGHUP with another table
  writes the next frames there;
- SIGTERM exits 0 within 1 s; with the server down and rows queued it
  waits about 0.5 s for the server, logs the rows not written, and exits;
- libpq is loaded only for [postgresql]: not in /proc/PID/maps of a daemon
  without it, mapped once a SIGHUP adds it; a daemon whose libpq cannot be
  loaded (tests/integration/pg/nolibpq.py) logs one line saying to install
  libpq5 and goes on publishing to MQTT (that part is skipped where unshare
  is not allowed).
Exit 77 (skipped) when no PostgreSQL server binaries are installed."""
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "pg"))
import kmtest as k  # noqa: E402
import nolibpq  # noqa: E402
import pgserver  # noqa: E402

CLI = os.environ.get("KM_CLI")
DB = "power"
LIST3 = 1260  # index of the hourly list 3 frame in MA304T4-3-ok.bin
DOWN_SECONDS = 20
SIM_FRAMES = 150  # 300 simulated seconds at 10x: one frame every 0.2 s for 30 s


def initdb(srv, table):
    r = subprocess.run([CLI, "initdb", "--dbname", DB, "--dbuser", pgserver.USER, "--dbtable", table,
                        "--host", srv.sock], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=30)
    return r.returncode, r.stdout.strip()


def count(srv, table, where="true"):
    return int(srv.psql('SELECT count(*) FROM "%s" WHERE %s' % (table, where), DB)[0][0])


def pg_config(srv, table):
    return ("[postgresql]\nhost = %s\ndbname = %s\nuser = %s\ntable = %s\n"
            % (srv.sock, DB, pgserver.USER, table))


def status_lines(notify):
    return [l for t, l in notify.lines() if l.startswith("STATUS=")]


def same_number(got, want):
    if want is None:
        return got == ""
    return got != "" and abs(float(got) - float(want)) < 1e-9


def check_capture_rows(srv, readings):
    rows = srv.psql("SELECT items_count, meter_ts, pwr_act_pos, il1, uln1, meter_id FROM readings ORDER BY id", DB)
    k.check(len(rows) == len(readings) == 1475, "one row per frame of the capture (%d rows)" % len(rows))
    bad = []
    for i, (row, frame) in enumerate(zip(rows, readings)):
        d = frame["data"]
        want = [str(len(d)), frame["notification_time"][:19]]
        ok = row[:2] == want
        for col, name in ((2, "power_active_import"), (3, "phase_current_l1"), (4, "phase_voltage_l1")):
            ok = ok and same_number(row[col], d[name]["value"] if name in d else None)
        ok = ok and row[5] == (d["meter_id"]["value"] if "meter_id" in d else "")
        if not ok:
            bad.append((i, row, want))
    if bad:
        print("  first difference: frame %d: row %s, decoded %s" % bad[0])
    k.check(not bad, "every row equals the decoded frame (items, meter clock, power, current, voltage, id)")
    l1 = count(srv, "readings", "items_count = 1 AND meter_id IS NULL AND pwr_act_pos IS NOT NULL")
    k.check(l1 == sum(1 for r in readings if len(r["data"]) == 1) and l1 > 1000,
            "list 1 frames have their rows too, without meter id (%d)" % l1)
    l3 = srv.psql("SELECT energy_act_pos, energy_act_neg, energy_react_pos, energy_react_neg, meter_id, meter_type, "
                  "meter_ts2 FROM readings WHERE items_count = 18", DB)
    k.check(l3 == [["801652", "113", "188933", "6041", k.METER_ID, "MA304T4", "2017-01-18 15:00:00"]],
            "the list 3 row: energy_act_pos 801652 Wh, meter id %s (%s)" % (k.METER_ID, l3))


def running(daemon):
    return bool(k.wait_for(lambda: "running (config" in daemon.logtext(), 5))


def check_lazy_libpq(work, srv, broker, frames):
    """libpq is mapped only when [postgresql] is configured; without it the
    daemon runs on without PostgreSQL."""
    pty = k.Pty(work, "meter0")
    pty.start()
    daemon = k.Daemon(work, k.daemon_config(pty.meter, broker.port), name="daemon0")
    try:
        daemon.start()
        k.check(running(daemon), "a daemon without [postgresql] runs")
        k.check(not nolibpq.mapped(daemon.proc.pid), "without [postgresql] libpq is not in /proc/PID/maps")
        with open(daemon.conf, "w") as f:
            f.write(k.daemon_config(pty.meter, broker.port) + pg_config(srv, "readings"))
        daemon.signal(signal.SIGHUP)
        k.check(bool(k.wait_for(lambda: "postgresql: connected to database power" in daemon.logtext(), 5)),
                "SIGHUP adding [postgresql]: the daemon loads libpq and connects")
        k.check(nolibpq.mapped(daemon.proc.pid), "and libpq is in /proc/PID/maps now")
        daemon.stop()

        without = nolibpq.prefix()
        if not without:
            print("skipped: a daemon without libpq (needs unshare and user namespaces)")
            return
        daemon = k.Daemon(work, k.daemon_config(pty.meter, broker.port) + pg_config(srv, "readings"),
                          name="daemon-nolib", wrap=without)
        daemon.start()
        k.check(running(daemon), "a daemon with [postgresql] but no libpq runs")
        pty.write(b"".join(frames[0:20]), chunk=1024, pause=0.01)
        topic = "kaifa/%s/power_active_import" % k.METER_ID
        k.check(bool(k.wait_for(lambda: topic in broker.retained(["kaifa/#"], 1), 5)),
                "and publishes to MQTT")
        log = daemon.logtext()
        lines = [l for l in log.splitlines() if "install the libpq5 package" in l]
        k.check(len(lines) == 1 and "PostgreSQL output needs libpq" in lines[0] and daemon.alive(),
                "one line says PostgreSQL output needs libpq5 installed (%s)" % lines)
        k.check("postgresql: cannot start" in log and "postgresql: connected" not in log,
                "no PostgreSQL output until SIGHUP")
        rc, _ = daemon.stop()
        k.check(rc == 0, "and SIGTERM exits 0 (%s)" % rc)
    finally:
        k.cleanup(daemon, pty)


def main():
    k.need(k.DAEMON, CLI, "mosquitto", "mosquitto_sub", "socat", "psql")
    pgserver.exit_unless_installed()
    work = k.Workdir()
    srv = pgserver.Server()
    broker = k.Broker(work)
    pty = k.Pty(work)
    notify = k.NotifyListener(work)
    daemon = sim = sub = None
    try:
        readings = k.cli_readings(CLI, k.KAIFA_T4)
        frames = k.split_frames(open(k.KAIFA_T4, "rb").read())
        k.check(len(frames) == len(readings) == 1475, "capture splits into 1475 frames")
        srv.init().start()
        srv.createdb(DB)
        rc, out = initdb(srv, "readings")
        k.check(rc == 0 and out == 'Created table "readings".', "kaifa-meter initdb makes the table (%s)" % out)

        broker.start()
        check_lazy_libpq(work, srv, broker, frames)
        k.check(count(srv, "readings") == 0, "no rows from those daemons")
        pty.start()
        conf = k.daemon_config(pty.meter, broker.port) + pg_config(srv, "readings")
        daemon = k.Daemon(work, conf, env={"NOTIFY_SOCKET": notify.path})
        daemon.start()
        k.check(bool(notify.wait_line(lambda l: l == "READY=1", 5)), "READY=1")
        k.check(bool(k.wait_for(lambda: "postgresql: connected to database power" in daemon.logtext(), 5)),
                "the daemon connects to the database")

        # the whole capture: one row per frame
        pty.write(b"".join(frames), chunk=1024, pause=0.01)
        k.wait_for(lambda: count(srv, "readings") >= 1475, 15, 0.3)
        time.sleep(0.5)  # nothing more arrives
        check_capture_rows(srv, readings)
        topic = "kaifa/%s/" % k.METER_ID
        k.check(broker.retained(["kaifa/#"], 1).get(topic + "energy_active_cum_import") == "801.652",
                "MQTT got the capture too")
        st = k.wait_for(lambda: [l for l in status_lines(notify)
                                 if "postgresql connected, 0 pending, 0 dropped" in l], 3)
        k.check(bool(st), "STATUS= shows PostgreSQL connected, nothing pending (%s)"
                % (status_lines(notify)[-1:] or None))

        # the simulated meter keeps talking while the server is away for 20 s
        sub = k.Subscriber(work, broker, [topic + "power_active_import"])
        sim_log = open(work.file("simulate.log"), "w")
        sim = subprocess.Popen([CLI, "simulate", "--speed", "10", "--duration", "300s", "--start",
                                "2026-01-01T00:00:00", "--meter-id", k.METER_ID, "--meter-type", "MA304T4",
                                "--stats"], stdout=pty.fd, stderr=sim_log, preexec_fn=k._die_with_parent)
        time.sleep(3)
        before = count(srv, "readings") - 1475
        k.check(before > 5, "simulated frames are stored before the outage (%d)" % before)
        srv.stop()
        t_down = time.monotonic()
        time.sleep(2)
        n0 = len(sub.lines())
        time.sleep(DOWN_SECONDS - 4)
        n1 = len(sub.lines())
        during = status_lines(notify)
        k.check(n1 - n0 >= 50, "MQTT values keep arriving while the database is down (%d in %d s)"
                % (n1 - n0, DOWN_SECONDS - 4))
        pend = [int(m.group(1)) for m in (re.search(r"postgresql disconnected, (\d+) pending", l) for l in during)
                if m]
        k.check(pend and max(pend) >= 50, "STATUS= shows PostgreSQL disconnected with rows pending (max %s)"
                % (max(pend) if pend else None))
        decoded = [int(m.group(1)) for m in (re.search(r"(\d+) frames decoded", l) for l in during) if m]
        k.check(len(decoded) >= 2 and decoded[-1] - decoded[0] >= 50, "the meter is read all along: STATUS= "
                "frames decoded grows while the database is down (%s ... %s)" % (decoded[:1], decoded[-1:]))
        time.sleep(max(0, DOWN_SECONDS - (time.monotonic() - t_down)))
        srv.start()
        t_up = time.monotonic()
        sim.wait(timeout=30)
        sim_log.close()
        sim_err = open(work.file("simulate.log")).read()
        k.check("frames written: %d " % SIM_FRAMES in sim_err, "simulate wrote %d frames (%s)"
                % (SIM_FRAMES, sim_err.strip()))
        total = 1475 + SIM_FRAMES
        k.wait_for(lambda: count(srv, "readings") >= total, 20, 0.3)
        k.check(count(srv, "readings") == total, "no row lost: %d rows for %d frames (%.1f s after restart)"
                % (count(srv, "readings"), total, time.monotonic() - t_up))
        stamps = [r[0] for r in srv.psql("SELECT meter_ts FROM readings WHERE meter_ts >= '2026-01-01' "
                                         "AND items_count <> 18 ORDER BY id", DB)]
        want = ["2026-01-01 00:%02d:%02d" % divmod(s, 60) for s in range(0, 300, 2) if s != 10]
        k.check(stamps == want, "every 2-second frame once, in order (%d rows)" % len(stamps))
        n2 = len(sub.lines())
        k.check(n2 >= SIM_FRAMES - 5, "MQTT got the simulated power values throughout (%d)" % n2)
        after = k.wait_for(lambda: [l for l in status_lines(notify)
                                    if "postgresql connected, 0 pending, 0 dropped" in l and
                                    l not in during], 5)
        k.check(bool(after), "STATUS= shows PostgreSQL connected and nothing pending again")
        log = daemon.logtext()
        k.check(len(re.findall(r"postgresql: connection lost", log)) == 1, "the outage is logged once")
        k.check("again, writing" in log, "the reconnection is logged")

        # SIGHUP: same settings keep the sink; another table takes the next rows
        opened = log.count("postgresql: one row per frame")
        daemon.signal(signal.SIGHUP)
        k.check(bool(k.wait_for(lambda: daemon.logtext().count("configuration reloaded") == 1, 5)),
                "SIGHUP with the same file")
        k.check(daemon.logtext().count("postgresql: one row per frame") == opened,
                "same settings: the connection and its queue are kept")
        rc, out = initdb(srv, "readings2")
        with open(daemon.conf, "w") as f:
            f.write(k.daemon_config(pty.meter, broker.port) + pg_config(srv, "readings2"))
        daemon.signal(signal.SIGHUP)
        k.check(bool(k.wait_for(lambda: daemon.logtext().count("configuration reloaded") == 2, 5)),
                "SIGHUP with another table")
        k.wait_for(lambda: "into table \"readings2\"" in daemon.logtext(), 3)
        pty.write(b"".join(frames[0:20]), chunk=1024, pause=0.01)
        k.wait_for(lambda: count(srv, "readings2") >= 20, 10, 0.3)
        k.check(count(srv, "readings2") == 20 and count(srv, "readings") == total,
                "after the reload the next 20 frames go to the new table (%d), the old one is unchanged (%d)"
                % (count(srv, "readings2"), count(srv, "readings")))

        rc, took = daemon.stop()
        k.check(rc == 0 and took < 1.0, "SIGTERM: exit 0 within 1 s (%s, %.2f s)" % (rc, took))
        k.check("rows not written" not in daemon.logtext(), "no row left behind at exit")

        # SIGTERM while the server is away: at most 0.5 s for the queue, then exit
        pty.stop()
        pty = k.Pty(work, "meter2")
        pty.start()
        daemon = k.Daemon(work, k.daemon_config(pty.meter, broker.port) + pg_config(srv, "readings2"),
                          name="daemon2")
        daemon.start()
        k.check(bool(k.wait_for(lambda: "postgresql: connected" in daemon.logtext(), 5)), "a second daemon connects")
        srv.stop()
        k.wait_for(lambda: "connection lost" in daemon.logtext(), 5)
        pty.write(b"".join(frames[0:10]), chunk=1024, pause=0.01)
        time.sleep(1)  # the daemon reads them and queues the rows
        rc, took = daemon.stop()
        log = daemon.logtext()
        k.check(rc == 0 and 0.4 < took < 1.0, "SIGTERM with the server down: waits about 0.5 s for it, exits 0 "
                "within 1 s (%s, %.2f s)" % (rc, took))
        k.check("10 rows not written" in log, "the rows it could not write are logged")
    finally:
        if sim and sim.poll() is None:
            sim.kill()
            sim.wait()
        k.cleanup(daemon, sub, pty, broker, notify)
        if daemon:
            print("--- daemon log (postgresql and errors) ---")
            print("\n".join(l for l in daemon.logtext().splitlines()
                            if "postgresql" in l or "error" in l.lower() or "reload" in l))
        srv.cleanup()
        work.cleanup()
    k.finish()


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    main()

#!/usr/bin/env python3
"""The meter's port comes and goes, the daemon stays: it starts before the
port exists (retried with backoff, logged once), reads once the pty appears,
notices when the pty is closed (USB adapter unplugged), and reads again when
it is created anew, without a restart, publishing the hourly values sent
after the comeback."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kmtest as k  # noqa: E402

CLI = os.environ.get("KM_CLI")


def main():
    k.need(k.DAEMON, "mosquitto", "mosquitto_sub", "socat")
    work = k.Workdir()
    broker = k.Broker(work)
    pty = k.Pty(work)
    daemon = None
    topic = "kaifa/%s/" % k.METER_ID
    try:
        readings = k.cli_readings(CLI, k.KAIFA_T4)
        frames = k.split_frames(open(k.KAIFA_T4, "rb").read())
        k.check(len(frames) == len(readings) == 1475, "capture splits into 1475 frames")
        broker.start()

        # 1. the port does not exist yet
        daemon = k.Daemon(work, k.daemon_config(pty.meter, broker.port))
        daemon.start()
        time.sleep(3)
        log = daemon.logtext()
        k.check(daemon.alive(), "daemon runs without its port")
        k.check(log.count("cannot open") == 1, "missing port logged once over several retries (%d lines)"
                % log.count("cannot open"))
        k.check(log.count("next try in") >= 3, "it was retried with backoff (%d tries)" % log.count("next try in"))

        # 2. the port appears
        pty.start()
        k.check(bool(k.wait_for(lambda: "reading at" in daemon.logtext(), 10)), "daemon opened the port once it appeared")
        pty.write(b"".join(frames[0:60]), chunk=1024, pause=0.01)
        want = str(readings[59]["data"]["power_active_import"]["value"])
        k.check(bool(k.wait_for(lambda: broker.retained(["kaifa/#"], 1).get(topic + "power_active_import") == want,
                                10, 0.3)), "values published from the port (power %s W)" % want)

        # 3. the pty goes away (adapter unplugged) and comes back
        pty.stop()
        k.check(bool(k.wait_for(lambda: "closed or unplugged" in daemon.logtext(), 5)), "daemon noticed the port vanished")
        time.sleep(2)
        k.check(daemon.alive(), "daemon still runs without its port")
        pty.start()
        k.check(bool(k.wait_for(lambda: daemon.logtext().count("reading at") >= 2, 10)),
                "daemon opened the new pty without a restart")
        pty.write(b"".join(frames[1200:1300]), chunk=1024, pause=0.01)
        got = k.wait_for(lambda: broker.retained(["kaifa/#"], 1).get(topic + "energy_active_cum_import") == "801.652",
                         10, 0.3)
        k.check(bool(got), "hourly energy read after the comeback was published (801.652)")
        want = str(readings[1299]["data"]["power_active_import"]["value"])
        k.check(broker.retained(["kaifa/#"], 1).get(topic + "power_active_import") == want,
                "latest power after the comeback (%s W)" % want)

        log = daemon.logtext()
        k.check(log.count("closed or unplugged") == 1, "the loss is logged once (%d)" % log.count("closed or unplugged"))
        k.check(log.count("cannot open") <= 2, "open failures logged once per change (%d)" % log.count("cannot open"))
        rc, took = daemon.stop()
        k.check(rc == 0 and took < 1.0, "SIGTERM: exit 0 within 1 s (%s, %.2f s)" % (rc, took))
    finally:
        k.cleanup(daemon, pty, broker)
        if daemon:
            print("--- daemon log ---")
            print("\n".join(l for l in daemon.logtext().splitlines() if "next try" not in l))
        work.cleanup()
    k.finish()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""SIGHUP applies a changed configuration without a restart: a new topic
prefix (the old availability topic gets "offline", values appear under the
new prefix once the meter names itself) and a new serial port (the daemon
leaves the old pty and reads the new one). The process stays the same."""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kmtest as k  # noqa: E402


def main():
    k.need(k.DAEMON, "mosquitto", "mosquitto_sub", "socat")
    work = k.Workdir()
    broker = k.Broker(work)
    pty1 = k.Pty(work)
    pty2 = k.Pty(work, "meter2")
    daemon = None
    try:
        frames = k.split_frames(open(k.KAIFA_T4, "rb").read())
        broker.start()
        pty1.start()
        pty2.start()
        daemon = k.Daemon(work, k.daemon_config(pty1.meter, broker.port))
        daemon.start()
        pid = daemon.proc.pid
        k.check(bool(k.wait_for(lambda: "reading at" in daemon.logtext(), 5)), "reads the first pty")
        pty1.write(b"".join(frames[0:20]), chunk=1024, pause=0.01)
        old = "kaifa/%s/" % k.METER_ID
        k.check(bool(k.wait_for(lambda: broker.retained(["kaifa/#"], 1).get(old + "status") == "online", 5, 0.3)),
                "online under the first prefix")

        with open(daemon.conf, "w") as f:
            f.write(k.daemon_config(pty2.meter, broker.port, "prefix = home/meter\n"))
        daemon.signal(signal.SIGHUP)
        k.check(bool(k.wait_for(lambda: "configuration reloaded" in daemon.logtext(), 5)), "reload logged")
        k.check(bool(k.wait_for(lambda: broker.retained(["kaifa/#"], 1).get(old + "status") == "offline", 5, 0.3)),
                "the old availability topic says offline")
        k.check(bool(k.wait_for(lambda: pty2.meter + ": reading at" in daemon.logtext(), 5)),
                "reads the new pty")
        pty2.write(b"".join(frames[20:40]), chunk=1024, pause=0.01)
        new = "home/meter/%s/" % k.METER_ID
        got = k.wait_for(lambda: broker.retained(["home/#"], 1).get(new + "status") == "online", 10, 0.3)
        k.check(bool(got), "online under the new prefix")
        retained = broker.retained(["home/#", "homeassistant/#"], 1)
        k.check(retained.get(new + "meter_type") == "MA304T4", "values under the new prefix")
        cfg = retained.get("homeassistant/sensor/kaifa_%s/power_active_import/config" % k.METER_ID, "")
        k.check('"state_topic":"home/meter/%s/power_active_import"' % k.METER_ID in cfg,
                "discovery points at the new topics")
        pty1.write(b"".join(frames[40:45]), chunk=1024, pause=0.01)  # the old pty is no longer read
        k.check(daemon.alive() and daemon.proc.pid == pid, "same process throughout")
        rc, took = daemon.stop()
        k.check(rc == 0 and took < 1.0, "SIGTERM: exit 0 within 1 s (%s, %.2f s)" % (rc, took))
    finally:
        k.cleanup(daemon, pty1, pty2, broker)
        if daemon:
            print("--- daemon log ---")
            print("\n".join(l for l in daemon.logtext().splitlines() if "next try" not in l))
        work.cleanup()
    k.finish()


if __name__ == "__main__":
    main()

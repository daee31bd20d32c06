#!/usr/bin/env python3
"""The broker goes away for 20 s in the middle of the stream and comes back
empty (no persistence). While it is down the meter sends 100 frames, among
them its hourly list 3 (energies); queue_limit is set low (40), yet nothing
is dropped: retained value topics wait one per topic, newest wins
(STATUS= "N waiting", bounded by the number of topics, "0 dropped"), and
after the reconnect every value topic holds the last value the meter sent,
and nothing is logged as dropped. Values flow again afterwards, STATUS=
shows the broker state, and the outage is logged once, not per retry."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kmtest as k  # noqa: E402

CLI = os.environ.get("KM_CLI")
LIST3 = 1260  # index of the hourly list 3 frame in MA304T4-3-ok.bin
DOWN_SECONDS = 20


def status_lines(notify):
    return [l for t, l in notify.lines() if l.startswith("STATUS=")]


def main():
    k.need(k.DAEMON, "mosquitto", "mosquitto_sub", "socat")
    work = k.Workdir()
    broker = k.Broker(work)
    pty = k.Pty(work)
    notify = k.NotifyListener(work)
    daemon = None
    topic = "kaifa/%s/" % k.METER_ID
    try:
        readings = k.cli_readings(CLI, k.KAIFA_T4)
        frames = k.split_frames(open(k.KAIFA_T4, "rb").read())
        k.check(len(frames) == len(readings) == 1475, "capture splits into 1475 frames")
        k.check("energy_active_cum_import" in readings[LIST3]["data"], "frame %d is the hourly list 3" % LIST3)

        broker.start()
        pty.start()
        daemon = k.Daemon(work, k.daemon_config(pty.meter, broker.port, "queue_limit = 40\n"),
                          env={"NOTIFY_SOCKET": notify.path})
        daemon.start()
        k.check(bool(notify.wait_line(lambda l: l == "READY=1", 5)), "READY=1")

        # before: values flow
        pty.write(b"".join(frames[0:60]), chunk=1024, pause=0.01)
        want = str(readings[59]["data"]["power_active_import"]["value"])
        k.check(bool(k.wait_for(lambda: broker.retained(["kaifa/#"], 1).get(topic + "power_active_import") == want,
                                10, 0.3)), "values flow before the outage")

        # outage: the hourly frame arrives while the broker is down
        broker.stop()
        t_down = time.monotonic()
        k.check(bool(k.wait_for(lambda: "reconnecting" in daemon.logtext(), 5)), "daemon noticed the broker is gone")
        pty.write(b"".join(frames[1200:1300]), chunk=1024, pause=0.01)
        # STATUS= goes out at most every 5 s: wait for one from the outage
        k.wait_for(lambda: any("broker disconnected" in l and re.search(r"\b[1-9]\d* waiting", l)
                               for l in status_lines(notify)), 10, 0.2)
        during = status_lines(notify)
        k.check(any("broker disconnected" in l for l in during), "STATUS= says the broker is disconnected")
        waiting = [int(m.group(1)) for m in (re.search(r"(\d+) waiting", l) for l in during) if m]
        dropped = [int(m.group(1)) for m in (re.search(r"(\d+) dropped", l) for l in during) if m]
        k.check(waiting and max(waiting) > 0, "STATUS= counts retained topics waiting (max %s)"
                % (max(waiting) if waiting else None))
        k.check(waiting and max(waiting) <= 40, "one waiting message per topic: bounded by the topics, not the "
                "frames (max %s for 100 frames)" % (max(waiting) if waiting else None))
        k.check(dropped and max(dropped) == 0, "STATUS= shows nothing dropped (%s)" % (max(dropped) if dropped else None))
        time.sleep(max(0, DOWN_SECONDS - (time.monotonic() - t_down)))

        broker.start()  # empty: no persistence
        t_up = time.monotonic()
        got = k.wait_for(lambda: broker.retained(["kaifa/#"], 1).get(topic + "energy_active_cum_import") == "801.652",
                         25, 0.5)
        k.check(bool(got), "the hourly energy published while the broker was down arrived (%.1f s after restart)"
                % (time.monotonic() - t_up))
        retained = broker.retained(["kaifa/#"], 1)
        for name in ("energy_active_cum_export", "energy_reactive_cum_import", "energy_reactive_cum_export"):
            v = readings[LIST3]["data"][name]["value"]
            k.check(retained.get(topic + name) is not None and abs(float(retained[topic + name]) - v) < 1e-9,
                    "%s = %s arrived" % (name, v))
        k.check(retained.get(topic + "status") == "online", "status is online again")
        last = {}
        for r in readings[:1300]:
            for name, v in r["data"].items():
                if isinstance(v.get("value"), (int, float)):
                    last[name] = v["value"]
        wrong = [n for n, v in last.items()
                 if retained.get(topic + n) is None or abs(float(retained[topic + n]) - v) > 1e-6 * max(1, abs(v))]
        k.check(len(last) >= 12 and not wrong, "every value topic holds the meter's last value (%d topics, wrong: %s)"
                % (len(last), wrong[:5]))

        # after: values flow again
        pty.write(b"".join(frames[1400:1475]), chunk=1024, pause=0.01)
        want = str(readings[1474]["data"]["power_active_import"]["value"])
        k.check(bool(k.wait_for(lambda: broker.retained(["kaifa/#"], 1).get(topic + "power_active_import") == want,
                                10, 0.3)), "values flow again after the restart")
        after = k.wait_for(lambda: [l for l in status_lines(notify) if "broker connected" in l and " 0 queued" in l], 5)
        k.check(bool(after), "STATUS= shows the broker connected and the queue empty again")

        log = daemon.logtext()
        n = len(re.findall(r"reconnecting with backoff", log))
        k.check(1 <= n <= 3, "the outage is logged once per change, not per retry (%d lines)" % n)
        k.check("connected again" in log, "the reconnection is logged")
        k.check("dropped" not in log, "nothing logged as dropped")
        rc, took = daemon.stop()
        k.check(rc == 0 and took < 1.0, "SIGTERM: exit 0 within 1 s (%s, %.2f s)" % (rc, took))
    finally:
        k.cleanup(daemon, pty, broker, notify)
        if daemon:
            print("--- daemon log (tail) ---")
            print("\n".join(daemon.logtext().splitlines()[-40:]))
        work.cleanup()
    k.finish()


if __name__ == "__main__":
    main()

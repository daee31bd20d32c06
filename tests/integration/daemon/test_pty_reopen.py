#!/usr/bin/env python3
"""The same pty opened with even parity again and again: the daemon is
started five times on one socat pty with parity = even, and each run must
open the port and publish the frames written to it. Linux's pty driver
keeps no parity bit (it clears PARENB), so a second request for even parity
used to fail with EINVAL, and every restart after the first one with it."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kmtest as k  # noqa: E402


def main():
    k.need(k.DAEMON, "mosquitto", "socat")
    work = k.Workdir()
    broker = k.Broker(work)
    pty = k.Pty(work)
    daemon = None
    try:
        frames = k.split_frames(open(k.KAIFA_T4, "rb").read())
        broker.start()
        pty.start()
        topic = "kaifa/%s/meter_id" % k.METER_ID
        for run in range(5):
            daemon = k.Daemon(work, k.daemon_config(pty.meter, broker.port, "") + "[serial]\nparity = even\n",
                              name="daemon%d" % run)
            daemon.start()
            opened = k.wait_for(lambda: "parity even" in daemon.logtext() or "cannot open" in daemon.logtext(), 5)
            k.check(bool(opened) and "cannot open" not in daemon.logtext(),
                    "run %d: the pty opens with parity even" % (run + 1))
            broker.publish(topic, "", retain=True)  # forget the previous run's value
            # frames until the meter id (list 2) is among them
            k.wait_for(lambda: (pty.write(b"".join(frames[0:6]), chunk=1024, pause=0.01) or
                                broker.retained(["kaifa/#"], 1).get(topic) == k.METER_ID), 10, 0.1)
            k.check(broker.retained(["kaifa/#"], 1).get(topic) == k.METER_ID,
                    "run %d: frames read and published" % (run + 1))
            rc, _ = daemon.stop()
            k.check(rc == 0, "run %d: SIGTERM: exit 0" % (run + 1))
            if k.FAILURES:
                print("--- daemon log ---")
                print(daemon.logtext())
                break
    finally:
        k.cleanup(daemon, pty, broker)
        work.cleanup()
    k.finish()


if __name__ == "__main__":
    main()

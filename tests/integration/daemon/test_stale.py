#!/usr/bin/env python3
"""Availability per meter: <prefix>/<id>/status turns "offline" (retained)
once no good frame came for [meter] stale_after, and "online" again with the
next frame, with one log line each way. The service's own availability
(<prefix>/bridge/<client id>/status, its last will) says online meanwhile."""
import os
import subprocess
import time
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kmtest as k  # noqa: E402


def main():
    k.need(k.DAEMON, "mosquitto", "socat")
    work = k.Workdir()
    broker = k.Broker(work)
    pty = k.Pty(work)
    daemon = sub = None
    try:
        frames = k.split_frames(open(k.KAIFA_T4, "rb").read())
        broker.start()
        pty.start()
        daemon = k.Daemon(work, k.daemon_config(pty.meter, broker.port) + "[meter]\nstale_after = 5\n")
        daemon.start()
        status = "kaifa/%s/status" % k.METER_ID
        bridge = "kaifa/bridge/kmd-test-%d/status" % os.getpid()
        pty.write(b"".join(frames[0:6]), pause=0.01)
        k.check(bool(k.wait_for(lambda: broker.retained(["kaifa/#"], 1).get(status) == "online", 10, 0.2)),
                "status online after frames")
        k.check(broker.retained(["kaifa/#"], 1).get(bridge) == "online", "bridge status online")
        # frames on for longer than stale_after: the timer armed by the first
        # fires early and must wait again for stale_after after the last
        for f in frames[6:12]:
            pty.write(f, pause=0)
            time.sleep(1.2)  # the meter's pace, not a synchronisation
        last_frame = time.monotonic()
        k.check(bool(k.wait_for(lambda: broker.retained(["kaifa/#"], 1).get(status) == "offline", 12, 0.25)),
                "status offline after stale_after (5 s) without a frame")
        k.check(time.monotonic() - last_frame >= 4.5, "offline no sooner than stale_after after the last frame "
                "(%.1f s)" % (time.monotonic() - last_frame))
        k.check(daemon.logtext().count("marked offline") == 1, "one log line when it goes offline")
        k.check(broker.retained(["kaifa/#"], 1).get(bridge) == "online", "the bridge stays online")
        pty.write(b"".join(frames[12:14]), pause=0.01)
        k.check(bool(k.wait_for(lambda: broker.retained(["kaifa/#"], 1).get(status) == "online", 10, 0.2)),
                "online again with the next frame")
        k.check(daemon.logtext().count("online") >= 1 and daemon.logtext().count("frames again; meter") == 1,
                "one log line when it comes back")
        sub = k.Subscriber(work, broker, [bridge, "test/marker"])
        k.check(bool(k.wait_for(lambda: (bridge, "online") in sub.messages(), 10)), "a subscriber has the bridge online")
        rc, _ = daemon.stop()
        k.check(rc == 0, "SIGTERM: exit 0")
        # a message sent after the daemon is gone comes after any last will
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", "test/marker", "-m", "end"],
                       check=True, timeout=10)
        k.check(bool(k.wait_for(lambda: ("test/marker", "end") in sub.messages(), 10)), "the marker arrives")
        offline = sub.messages().count((bridge, "offline"))
        k.check(offline == 1, "clean stop: the bridge says offline once, no last will after it (%d)" % offline)
        got = broker.retained(["kaifa/#"], 1)
        k.check(got.get(bridge) == "offline" and got.get(status) == "offline", "clean stop: bridge and meter offline")
    finally:
        k.cleanup(sub, daemon, pty, broker)
        if daemon and k.FAILURES:
            print("--- daemon log ---")
            print(daemon.logtext())
        work.cleanup()
    k.finish()


if __name__ == "__main__":
    main()

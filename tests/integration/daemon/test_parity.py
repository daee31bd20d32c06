#!/usr/bin/env python3
"""parity = auto: the daemon starts with 8E1; frames that keep failing their
checksums with no good frame make it switch to 8N1 (km_source_set_params on
the port); the first parity that yields a good frame is kept, and later bad
frames do not make it switch again. A pty takes any parity setting, so the
bad frames here are real frames with a damaged byte."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kmtest as k  # noqa: E402


def damaged(frame):
    b = bytearray(frame)
    b[len(b) // 2] ^= 0x55
    return bytes(b)


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
        daemon = k.Daemon(work, k.daemon_config(pty.meter, broker.port))
        daemon.start()
        k.check(bool(k.wait_for(lambda: "parity even (auto)" in daemon.logtext(), 5)), "starts with 8E1")

        pty.write(b"".join(damaged(f) for f in frames[0:4]), chunk=1024, pause=0.01)
        k.check(bool(k.wait_for(lambda: "no good frame with parity even; trying none" in daemon.logtext(), 5)),
                "checksum failures without a good frame: switches to 8N1")
        pty.write(b"".join(frames[4:20]), chunk=1024, pause=0.01)
        k.check(bool(k.wait_for(lambda: "parity none gives good frames; keeping it" in daemon.logtext(), 5)),
                "good frames with 8N1: keeps it")
        topic = "kaifa/%s/meter_id" % k.METER_ID
        k.check(bool(k.wait_for(lambda: broker.retained(["kaifa/#"], 1).get(topic) == k.METER_ID, 5, 0.3)),
                "values published after the switch")

        pty.write(b"".join(damaged(f) for f in frames[20:30]), chunk=1024, pause=0.01)
        time.sleep(1)
        log = daemon.logtext()
        k.check(log.count("trying") == 1, "later bad frames do not switch again (%d switches)" % log.count("trying"))
        rc, took = daemon.stop()
        k.check(rc == 0, "SIGTERM: exit 0")
    finally:
        k.cleanup(daemon, pty, broker)
        if daemon:
            print("--- daemon log ---")
            print(daemon.logtext())
        work.cleanup()
    k.finish()


if __name__ == "__main__":
    main()

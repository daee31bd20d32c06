#!/usr/bin/env python3
"""kaifa-meterd and systemd's notification protocol, seen from a real
NOTIFY_SOCKET (a unix datagram socket, as systemd provides): READY=1 once
the loop runs, WATCHDOG=1 every half WATCHDOG_USEC, STATUS= with frames
decoded, checksum errors, broker state and seconds since the last frame,
RELOADING=1 with MONOTONIC_USEC= then READY=1 on SIGHUP (also when the new
file is bad: the running configuration stays), STOPPING=1 on SIGTERM."""
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kmtest as k  # noqa: E402

CLI = os.environ.get("KM_CLI")


def main():
    k.need(k.DAEMON, "mosquitto", "socat")
    work = k.Workdir()
    broker = k.Broker(work)
    pty = k.Pty(work)
    notify = k.NotifyListener(work)
    daemon = None
    try:
        frames = k.split_frames(open(k.KAIFA_T4, "rb").read())
        broker.start()
        pty.start()
        daemon = k.Daemon(work, k.daemon_config(pty.meter, broker.port),
                          env={"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "1000000"})
        t0 = time.monotonic()
        daemon.start()
        k.check(bool(notify.wait_line(lambda l: l == "READY=1", 3)), "READY=1 once the loop runs")

        # 40 good frames and one with a broken checksum
        bad = bytearray(frames[40])
        bad[20] ^= 0xFF
        pty.write(b"".join(frames[0:40]) + bytes(bad), chunk=1024, pause=0.01)
        time.sleep(3.5)
        lines = notify.lines()
        dogs = [t for t, l in lines if l == "WATCHDOG=1"]
        k.check(len(dogs) >= 5, "WATCHDOG=1 sent repeatedly (%d in %.1f s)" % (len(dogs), time.monotonic() - t0))
        gaps = [b - a for a, b in zip(dogs, dogs[1:])]
        k.check(gaps and max(gaps) < 0.8, "WATCHDOG=1 about every 0.5 s for WATCHDOG_USEC=1 s (max gap %.2f s)"
                % (max(gaps) if gaps else -1))
        # STATUS= goes out at most every 5 s: wait for the one after the frames
        notify.wait_line(lambda l: re.search(r"\b40 frames decoded, 1 checksum errors\b", l) is not None, 10)
        lines = notify.lines()
        status = [l for t, l in lines if l.startswith("STATUS=")]
        k.check(len(status) >= 2, "STATUS= lines sent (%d)" % len(status))
        last = status[-1] if status else ""
        print("last STATUS: " + last)
        k.check(re.search(r"\b40 frames decoded\b", last) is not None, "STATUS= counts frames decoded (40)")
        k.check(re.search(r"\b1 checksum errors\b", last) is not None, "STATUS= counts checksum errors (1)")
        k.check("broker connected" in last, "STATUS= gives the broker state")
        k.check(re.search(r"\blast frame at \d\d:\d\d:\d\d\b", last) is not None, "STATUS= gives the time of the last frame")
        k.check(any("no frame yet" in l for l in status), "STATUS= before the first frame says so")

        # SIGHUP with a good file, then with a bad one
        n = len(notify.lines())
        daemon.signal(signal.SIGHUP)
        k.wait_for(lambda: "READY=1" in [l for t, l in notify.lines()[n:]], 3)
        # periodic WATCHDOG=1 and STATUS= may come in between: the order of the rest counts
        after = [l for t, l in notify.lines()[n:] if not l.startswith(("WATCHDOG=", "STATUS="))]
        k.check(after and after[0] == "RELOADING=1", "SIGHUP: RELOADING=1 first (%s)" % after[:3])
        k.check(len(after) > 1 and re.match(r"MONOTONIC_USEC=\d+$", after[1]) is not None,
                "SIGHUP: MONOTONIC_USEC= with it")
        k.check("READY=1" in after, "SIGHUP: READY=1 after the reload")
        k.check("configuration reloaded" in daemon.logtext(), "the reload is logged")

        with open(daemon.conf, "a") as f:
            f.write("[nonsense]\n")
        n = len(notify.lines())
        daemon.signal(signal.SIGHUP)
        k.wait_for(lambda: "READY=1" in [l for t, l in notify.lines()[n:]], 3)
        after = [l for t, l in notify.lines()[n:]]
        k.check("RELOADING=1" in after and "READY=1" in after, "bad file on SIGHUP: RELOADING=1 then READY=1")
        k.check(daemon.alive(), "bad file on SIGHUP: the daemon keeps running")
        k.check("unknown section [nonsense]" in daemon.logtext() and "keeping the running configuration"
                in daemon.logtext(), "bad file on SIGHUP: one clear log line")
        pty.write(b"".join(frames[41:45]), chunk=1024, pause=0.01)
        k.check(bool(k.wait_for(lambda: any(re.search(r"\b44 frames decoded\b", l) for t, l in notify.lines()), 4)),
                "still decoding after the failed reload (44 frames)")

        rc, took = daemon.stop()
        # the listener's thread may not have read the last datagram yet
        k.check(bool(k.wait_for(lambda: any(l == "STOPPING=1" for t, l in notify.lines()), 2)),
                "SIGTERM: STOPPING=1")
        k.check(rc == 0 and took < 1.0, "SIGTERM: exit 0 within 1 s (%s, %.2f s)" % (rc, took))
    finally:
        k.cleanup(daemon, pty, broker, notify)
        if daemon:
            print("--- daemon log (tail) ---")
            print("\n".join(daemon.logtext().splitlines()[-12:]))
        work.cleanup()
    k.finish()


if __name__ == "__main__":
    main()

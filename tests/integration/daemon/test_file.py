#!/usr/bin/env python3
"""kaifa-meterd with a [file] section: the JSON-lines file.

- The whole MA304T4 capture written into a socat pty gives one line per
  frame, each equal, byte for byte, to the line `kaifa-meter parse-file
  --compact` prints for that frame (list 1 frames included: no meter-id
  hold); each line is flushed as its frame arrives.
- logrotate's way: the file is moved away and SIGHUP makes the daemon create
  a new one and fill it; the moved file keeps its lines and gets no more.
- A path that cannot be opened (its directory is missing) is logged once,
  the meter is still read and published to MQTT, and the next SIGHUP, once
  the directory exists, creates the file.
- A write error is logged once, not per frame, and the meter is still read
  and published. The error is real: the daemon runs with a file size limit
  (RLIMIT_FSIZE, SIGXFSZ ignored, as a full disk would refuse the write) and
  the file already holds that much; a device such as /dev/full is not
  accepted as a [file] path any more.
"""
import os
import resource
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kmtest as k  # noqa: E402

CLI = os.environ.get("KM_CLI")
# no file the daemon writes may grow past this (its log and the first
# JSON-lines file stay far below it)
FILE_LIMIT = 8 * 1024 * 1024


def limit_file_size():
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() fails with EFBIG instead


def lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return []


def main():
    k.need(k.DAEMON, CLI, "mosquitto", "mosquitto_sub", "socat")
    work = k.Workdir()
    broker = k.Broker(work)
    pty = k.Pty(work)
    daemon = None
    try:
        out = subprocess.run([CLI, "parse-file", "--compact", k.KAIFA_T4], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, check=True, timeout=60).stdout
        want = out.decode().splitlines()
        frames = k.split_frames(open(k.KAIFA_T4, "rb").read())
        k.check(len(frames) == len(want) == 1475, "capture splits into 1475 frames, parse-file prints 1475 lines")

        broker.start()
        pty.start()
        path = work.file("readings.jsonl")
        daemon = k.Daemon(work, k.daemon_config(pty.meter, broker.port) + "[file]\npath = %s\n" % path)
        daemon.start()
        k.check(bool(k.wait_for(lambda: "appending one JSON line per frame" in daemon.logtext(), 5)),
                "the daemon opens the file")
        k.check(os.path.exists(path), "the file is created at start")

        # a few frames: each line is there as soon as its frame is (flushed per frame)
        pty.write(b"".join(frames[:3]), chunk=1024, pause=0.01)
        k.check(bool(k.wait_for(lambda: len(lines(path)) == 3, 5)), "three frames, three lines, flushed")
        pty.write(b"".join(frames[3:]), chunk=1024, pause=0.01)
        k.wait_for(lambda: len(lines(path)) >= 1475, 15, 0.2)
        got = lines(path)
        k.check(len(got) == 1475, "one line per frame (%d)" % len(got))
        diff = [i for i, (a, b) in enumerate(zip(got, want)) if a != b]
        if diff:
            print("  first difference, line %d:\n  daemon:     %s\n  parse-file: %s" % (diff[0], got[diff[0]],
                                                                                    want[diff[0]]))
        k.check(not diff and len(got) == len(want), "every line equals parse-file --compact's (%d differ)" % len(diff))

        # logrotate: mv, then SIGHUP
        rotated = path + ".1"
        os.rename(path, rotated)
        daemon.signal(signal.SIGHUP)
        k.check(bool(k.wait_for(lambda: "configuration reloaded" in daemon.logtext(), 5)), "SIGHUP")
        k.check(bool(k.wait_for(lambda: os.path.exists(path), 5)), "a new file is created after mv and SIGHUP")
        pty.write(b"".join(frames[:50]), chunk=1024, pause=0.01)
        k.wait_for(lambda: len(lines(path)) >= 50, 10, 0.2)
        k.check(lines(path) == want[:50], "the new file gets the next 50 frames (%d lines)" % len(lines(path)))
        k.check(len(lines(rotated)) == 1475, "the moved file keeps its 1475 lines and gets no more (%d)"
                % len(lines(rotated)))
        rc, took = daemon.stop()
        k.check(rc == 0 and took < 1.0, "SIGTERM: exit 0 within 1 s (%s, %.2f s)" % (rc, took))

        # a path that cannot be opened: one error, reading goes on, the next SIGHUP tries again
        pty.stop()  # socat ends when the reader closes its side: a new pair
        pty = k.Pty(work, "meter2")
        pty.start()
        missing = work.file("logs")
        path2 = os.path.join(missing, "meter.jsonl")
        daemon2 = k.Daemon(work, k.daemon_config(pty.meter, broker.port) + "[file]\npath = %s\n" % path2,
                           name="daemon2", preexec=limit_file_size)
        daemon2.start()
        daemon = daemon2
        k.check(bool(k.wait_for(lambda: pty.meter + ": reading" in daemon.logtext(), 5)), "the daemon starts anyway")
        pty.write(b"".join(frames[100:200]), chunk=1024, pause=0.01)
        topic = "kaifa/%s/power_active_import" % k.METER_ID
        last = str(__import__("json").loads(want[199])["data"]["power_active_import"]["value"])
        k.check(bool(k.wait_for(lambda: broker.retained(["kaifa/#"], 1).get(topic) == last, 10, 0.3)),
                "the meter is read and published without the file")
        errors = [l for l in daemon.logtext().splitlines() if path2 in l and "cannot" in l]
        k.check(len(errors) == 1 and "No such file or directory" in errors[0],
                "one logged error for the unwritable path (%s)" % errors)
        k.check(daemon.alive(), "still running")
        os.mkdir(missing)
        daemon.signal(signal.SIGHUP)
        k.check(bool(k.wait_for(lambda: os.path.exists(path2), 5)), "the next SIGHUP creates the file")
        pty.write(b"".join(frames[:10]), chunk=1024, pause=0.01)
        k.wait_for(lambda: len(lines(path2)) >= 10, 10, 0.2)
        k.check(lines(path2) == want[:10], "and fills it (%d lines)" % len(lines(path2)))

        # a write error (a file that may not grow: as a full disk) is logged once; reading and MQTT go on
        full = work.file("full.jsonl")
        with open(full, "w") as f:
            pad = FILE_LIMIT - len('{"pad":""}\n')
            f.write('{"pad":"%s"}\n' % ("x" * pad))
        with open(daemon.conf, "w") as f:
            f.write(k.daemon_config(pty.meter, broker.port) + "[file]\npath = %s\n" % full)
        daemon.signal(signal.SIGHUP)
        k.check(bool(k.wait_for(lambda: daemon.logtext().count("configuration reloaded") == 2, 5)),
                "SIGHUP to a file at its size limit")
        pty.write(b"".join(frames[200:300]), chunk=1024, pause=0.01)
        last = str(__import__("json").loads(want[299])["data"]["power_active_import"]["value"])
        k.check(bool(k.wait_for(lambda: broker.retained(["kaifa/#"], 1).get(topic) == last, 10, 0.3)),
                "100 frames later the meter is still read and published")
        errors = [l for l in daemon.logtext().splitlines() if full + ": cannot write" in l]
        k.check(len(errors) == 1 and "File too large" in errors[0],
                "a write error is logged once, not per frame (%s)" % errors)
        k.check(lines(path2) == want[:10], "the previous file got nothing more after the reload")
        k.check(os.path.getsize(full) == FILE_LIMIT, "the full file got no part of a line (%d bytes more)"
                % (os.path.getsize(full) - FILE_LIMIT))
        # a device is refused on reload: the running configuration is kept
        with open(daemon.conf, "w") as f:
            f.write(k.daemon_config(pty.meter, broker.port) + "[file]\npath = /dev/full\n")
        daemon.signal(signal.SIGHUP)
        k.check(bool(k.wait_for(lambda: "is not a regular file" in daemon.logtext(), 5)) and
                "keeping the running configuration" in daemon.logtext(),
                "[file] path = /dev/full is a configuration error on reload")
        rc, took = daemon.stop()
        k.check(rc == 0 and took < 1.0, "SIGTERM: exit 0 within 1 s (%s, %.2f s)" % (rc, took))
    finally:
        k.cleanup(daemon, pty, broker)
        if daemon:
            print("--- daemon log (file and errors) ---")
            print("\n".join(l for l in daemon.logtext().splitlines()
                            if ".jsonl" in l or "error" in l.lower() or "reload" in l))
        work.cleanup()
    k.finish()


if __name__ == "__main__":
    main()

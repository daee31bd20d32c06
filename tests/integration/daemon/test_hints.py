#!/usr/bin/env python3
"""Messages that say what to do: bytes that never make a frame at a fixed
parity give one line naming the setting and what to try ("no valid frame in
N bytes at 2400 8E1: Kaifa and Aidon use 8E1, Kamstrup 8N1; try parity =
none"); parity = auto logs its first switch and then one line per full
cycle (8E1 -> 8N1 -> 7E1 -> 8E1), not one per switch; a broker that refuses the
connection names the keys to check; --check-config run as root warns when
the service user (kaifa-meter) cannot read the file or its password file
(skipped, and counted as such, without root or that user)."""
import os
import pwd
import random
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kmtest as k  # noqa: E402

NOISE = bytes(random.Random(12).getrandbits(8) for _ in range(3000))


def run(work, broker, parity, rounds, name):
    pty = k.Pty(work, name)
    daemon = None
    try:
        pty.start()
        conf = k.daemon_config(pty.meter, broker.port).replace("level = debug", "level = info")
        daemon = k.Daemon(work, conf + "[serial]\nparity = %s\n" % parity, name=name)
        daemon.start()
        k.wait_for(lambda: "reading at" in daemon.logtext(), 5)
        for _ in range(rounds):
            pty.write(NOISE, pause=0.005)
            time.sleep(0.2)
        time.sleep(0.5)
        return daemon.logtext()
    finally:
        k.cleanup(daemon, pty)


def check_config_as_root():
    try:
        pwd.getpwnam("kaifa-meter")
    except KeyError:
        print("skip - --check-config as root: no kaifa-meter user here")
        return
    if os.geteuid() != 0:
        print("skip - --check-config as root: not root")
        return
    d = tempfile.mkdtemp(prefix="kmd-cc-")
    try:
        os.chmod(d, 0o755)
        conf, pw = os.path.join(d, "a.conf"), os.path.join(d, "pw")
        with open(pw, "w") as f:
            f.write("secret\n")
        with open(conf, "w") as f:
            f.write("[serial]\nport = /dev/ttyUSB0\n[mqtt]\nhost = 127.0.0.1\nusername = u\npassword_file = %s\n" % pw)

        def run():
            p = subprocess.run([k.DAEMON, "-c", conf, "--check-config"], capture_output=True, text=True, timeout=10)
            return p.returncode, p.stderr
        os.chmod(conf, 0o644)
        os.chmod(pw, 0o644)
        rc, err = run()
        k.check(rc == 0 and "cannot read" not in err, "--check-config as root: readable files, no warning (%r)" % err)
        os.chmod(conf, 0o600)
        os.chmod(pw, 0o600)
        rc, err = run()
        k.check(rc == 0 and ("service user kaifa-meter cannot read %s" % conf) in err
                and ("cannot read %s" % pw) in err and "chmod 0640" in err,
                "--check-config as root on a 0600 root-owned config and password file: warns (%r)" % err)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    k.need(k.DAEMON, "mosquitto", "socat")
    work = k.Workdir()
    broker = k.Broker(work)
    refusing = None
    try:
        broker.start()
        log = run(work, broker, "even", 3, "fixed")
        lines = [l for l in log.splitlines() if "no valid frame" in l]
        k.check(len(lines) == 1 and "at 2400 8E1: Kaifa and Aidon use 8E1, Kamstrup 8N1; try parity = none" in lines[0],
                "fixed 8E1 without a frame: one line saying what to try (%s)" % lines)

        log = run(work, broker, "auto", 12, "auto")
        switches = log.count("trying none") + log.count("trying even")
        cycles = [l for l in log.splitlines() if "no valid frame" in l and "with 8E1, 8N1 or 7E1" in l]
        k.check(log.count("no good frame with parity even; trying none") == 1,
                "parity auto: the first switch is logged, later ones are not (%d lines)" % switches)
        k.check(1 <= len(cycles) <= 3, "parity auto: one line per full cycle, 8E1 -> 8N1 -> 7E1 -> 8E1 "
                "(%d for %d bytes)" % (len(cycles), 12 * len(NOISE)))

        refusing = k.Broker(work)
        refusing.conf = work.file("refusing.conf")
        with open(refusing.conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous false\npersistence false\n" % refusing.port)
        refusing.start()
        daemon = k.Daemon(work, k.daemon_config(work.file("nothing"), refusing.port), name="refused")
        daemon.start()
        got = k.wait_for(lambda: "check [mqtt] username and password" in daemon.logtext(), 10)
        k.check(bool(got), "a refused connection names the keys to check, before any frame")
        daemon.stop()
        check_config_as_root()
    finally:
        k.cleanup(broker, refusing)
        if k.FAILURES:
            for n in ("fixed", "auto", "refused"):
                p = work.file(n + ".log")
                if os.path.exists(p):
                    print("--- %s ---\n%s" % (n, open(p).read()))
        work.cleanup()
    k.finish()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""MQTT over TLS in the daemon's own event loop, and a replayed capture file
as the meter: a throwaway CA and server certificate (openssl), mosquitto with
a TLS listener, kaifa-meterd with [mqtt] cafile started BEFORE the broker
(the TLS handshake against a closed port must fail, be retried with backoff
and not spin the CPU), then the broker comes up and the values of
MA304H3E-1-ok.bin arrive over TLS."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kmtest as k  # noqa: E402

CAPTURE = os.path.join(k.CAPTURES, "smidsrod", "KFM_001", "MA304H3E-1-ok.bin")
METER = "6970631400000066"


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=60)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    k.need(k.DAEMON, "mosquitto", "mosquitto_sub", "openssl")
    work = k.Workdir()
    os.chmod(work.path, 0o755)  # mosquitto drops root for its own user before reading the key
    broker = k.Broker(work)
    daemon = None
    try:
        d = work.path
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
                "-days", "2", "-subj", "/CN=kaifa-meterd test CA", cwd=d)
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
                "-subj", "/CN=127.0.0.1", cwd=d)
        with open(work.file("ext.cnf"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf", cwd=d)
        for name in ("server.key", "server.crt", "ca.crt"):
            os.chmod(work.file(name), 0o644)
        with open(broker.conf, "a") as f:
            f.write("cafile %s\ncertfile %s\nkeyfile %s\n" % (work.file("ca.crt"), work.file("server.crt"),
                                                             work.file("server.key")))

        conf = ("[serial]\nport = %s\n[mqtt]\nhost = 127.0.0.1\nport = %d\ncafile = %s\nclient_id = kmd-tls-%d\n"
                "[log]\nlevel = debug\n" % (CAPTURE, broker.port, work.file("ca.crt"), os.getpid()))
        daemon = k.Daemon(work, conf)
        daemon.start()
        k.check(bool(k.wait_for(lambda: "end of file" in daemon.logtext(), 5)), "the capture file was replayed")
        k.check(bool(k.wait_for(lambda: "reconnecting with backoff" in daemon.logtext(), 5)),
                "TLS connect to a closed port fails and is retried")
        c0 = cpu_seconds(daemon.proc.pid)
        time.sleep(2)
        used = cpu_seconds(daemon.proc.pid) - c0
        k.check(used < 0.3, "no busy loop while the broker is down (%.2f s CPU in 2 s)" % used)

        broker.start()
        k.check(bool(k.wait_for(lambda: "connected" in daemon.logtext().split("reconnecting")[-1], 15)),
                "connected over TLS once the broker is up")
        cmd = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "--cafile", work.file("ca.crt"),
               "-v", "--retained-only", "-W", "2", "-t", "kaifa/#"]
        got = {}

        def fetch():
            out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=20).stdout
            for line in out.decode().splitlines():
                t, _, p = line.partition(" ")
                got[t] = p
            return got.get("kaifa/%s/meter_type" % METER) == "MA304H3E"

        k.check(bool(k.wait_for(fetch, 10, 0.5)), "values retained over TLS (meter_type MA304H3E)")
        k.check(got.get("kaifa/%s/status" % METER) == "online", "status online over TLS")
        k.check(any(t.endswith("/phase_voltage_l1") for t in got), "voltages published")
        rc, took = daemon.stop()
        k.check(rc == 0 and took < 1.0, "SIGTERM: exit 0 within 1 s (%s, %.2f s)" % (rc, took))
    finally:
        k.cleanup(daemon, broker)
        if daemon:
            print("--- daemon log ---")
            print("\n".join(l for l in daemon.logtext().splitlines() if "next try" not in l))
        work.cleanup()
    k.finish()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""MQTT over TLS in the daemon's own event loop, and a replayed capture file
as the meter: a throwaway CA and server certificate (openssl), mosquitto with
a TLS listener, kaifa-meterd with [mqtt] cafile started BEFORE the broker
(the TLS handshake against a closed port must fail, be retried with backoff
and not spin the CPU), then the broker comes up and the values of
MA304H3E-1-ok.bin arrive over TLS.

Then what goes wrong is said, not just "A TLS error occurred": a cafile of
another CA gives "not trusted (unknown CA", a certificate for another host
(a second listener) gives "host name mismatch". `tls = yes` without a
cafile trusts the system's CA store (OpenSSL's default paths; the test
points SSL_CERT_FILE at its CA, as the store of a machine that trusts it).
A username and password over plain MQTT to a host that is not this machine
are warned about once; to 127.0.0.1, or over TLS, they are not."""
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


def broker_lines(daemon, port):
    return [l for l in daemon.logtext().splitlines() if "broker 127.0.0.1:%d" % port in l]


def tls_failures_and_credentials(work, broker, port2):
    """The cases after the main one; returns the daemons to clean up."""
    started = []

    def start(name, mqtt, env=None, port=CAPTURE):
        conf = ("[serial]\nport = %s\n[mqtt]\n%sclient_id = kmd-%s-%d\n[log]\nlevel = info\n"
                % (port, mqtt, name, os.getpid()))
        dmn = k.Daemon(work, conf, name=name, env=env)
        dmn.start()
        started.append(dmn)
        return dmn

    # 1. a cafile of another CA: the broker's certificate is not trusted
    unknown = start("unknown-ca", "host = 127.0.0.1\nport = %d\ncafile = %s\n" % (broker.port, work.file("other.crt")))
    # 2. our CA, but the certificate names another host
    mismatch = start("mismatch", "host = 127.0.0.1\nport = %d\ncafile = %s\n" % (port2, work.file("ca.crt")))
    # 3. tls = yes without cafile: the system's CA store (here: SSL_CERT_FILE)
    system = start("system-store", "host = 127.0.0.1\nport = %d\ntls = yes\n" % broker.port,
                   env={"SSL_CERT_FILE": work.file("ca.crt")})
    # 4. credentials: plain MQTT to another host is warned about, to 127.0.0.1 or over TLS not
    plain_remote = start("plain-remote", "host = 192.0.2.1\nusername = meter\npassword = hunter2\n",
                         port=work.file("no-such-port"))
    plain_local = start("plain-local", "host = 127.0.0.1\nusername = meter\npassword = hunter2\n",
                        port=work.file("no-such-port"))
    tls_remote = start("tls-remote", "host = 192.0.2.1\ntls = yes\nusername = meter\npassword = hunter2\n",
                       port=work.file("no-such-port"))

    k.check(bool(k.wait_for(lambda: any("not trusted" in l for l in broker_lines(unknown, broker.port)), 15)),
            "cafile of another CA: 'not trusted (unknown CA ...)' is logged (%r)" % broker_lines(unknown, broker.port))
    k.check(not any("A TLS error occurred" in l for l in broker_lines(unknown, broker.port)),
            "cafile of another CA: not the bare 'A TLS error occurred'")
    k.check(bool(k.wait_for(lambda: any("host name mismatch" in l and "not for host 127.0.0.1" in l
                                        for l in broker_lines(mismatch, port2)), 15)),
            "certificate of another host: 'host name mismatch' is logged (%r)" % broker_lines(mismatch, port2))
    k.check(bool(k.wait_for(lambda: any(l.endswith(": connected") for l in broker_lines(system, broker.port)), 15)),
            "tls = yes without cafile connects, trusting the system's CA store (%r)"
            % broker_lines(system, broker.port))
    warned = k.wait_for(lambda: [l for l in plain_remote.logtext().splitlines() if "plain MQTT" in l], 5)
    k.check(len(warned) == 1 and "192.0.2.1" in warned[0] and "hunter2" not in plain_remote.logtext(),
            "username and password over plain MQTT to another host: warned once, password not shown (%r)" % warned)
    for quiet, what in ((plain_local, "to 127.0.0.1"), (tls_remote, "over TLS")):
        k.check(bool(k.wait_for(lambda: "running" in quiet.logtext(), 5)) and "plain MQTT" not in quiet.logtext(),
                "no warning %s" % what)
    for dmn in started:
        rc, took = dmn.stop()
        k.check(rc == 0, "%s: SIGTERM, exit 0 (%s)" % (os.path.basename(dmn.conf), rc))
    for dmn in (unknown, mismatch):
        lines = [l for l in broker_lines(dmn, broker.port if dmn is unknown else port2) if "TLS:" in l]
        k.check(len(lines) == 1, "%s: the TLS failure logged once over its retries (%d)"
                % (os.path.basename(dmn.conf), len(lines)))
    return started


def main():
    k.need(k.DAEMON, "mosquitto", "mosquitto_sub", "openssl")
    work = k.Workdir()
    os.chmod(work.path, 0o755)  # mosquitto drops root for its own user before reading the key
    broker = k.Broker(work)
    daemon = None
    extra = []
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
        # another CA, and a certificate of our CA for another host
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.crt",
                "-days", "2", "-subj", "/CN=some other CA", cwd=d)
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "elsewhere.key", "-out", "elsewhere.csr",
                "-subj", "/CN=broker.example.invalid", cwd=d)
        with open(work.file("ext2.cnf"), "w") as f:
            f.write("subjectAltName=DNS:broker.example.invalid\n")
        openssl("x509", "-req", "-in", "elsewhere.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", "elsewhere.crt", "-days", "2", "-extfile", "ext2.cnf", cwd=d)
        for name in ("server.key", "server.crt", "ca.crt", "other.crt", "elsewhere.key", "elsewhere.crt"):
            os.chmod(work.file(name), 0o644)
        port2 = k.free_port()
        with open(broker.conf, "a") as f:
            f.write("cafile %s\ncertfile %s\nkeyfile %s\n" % (work.file("ca.crt"), work.file("server.crt"),
                                                             work.file("server.key")))
            f.write("listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\n"
                    % (port2, work.file("ca.crt"), work.file("elsewhere.crt"), work.file("elsewhere.key")))

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
        extra += tls_failures_and_credentials(work, broker, port2)
    finally:
        k.cleanup(daemon, broker, *extra)
        if daemon:
            print("--- daemon log ---")
            print("\n".join(l for l in daemon.logtext().splitlines() if "next try" not in l))
        work.cleanup()
    k.finish()


if __name__ == "__main__":
    main()

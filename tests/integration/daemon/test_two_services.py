#!/usr/bin/env python3
"""Two services on one host, each with its own config file and no
[mqtt] client_id: the default client ids differ (a hash of the config
path), so neither throws the other off the broker. Both publish, and the
broker's log shows each client connecting once, no takeover."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kmtest as k  # noqa: E402


def config(port_path, broker_port, prefix):
    return ("[serial]\nport = %s\n\n[mqtt]\nhost = 127.0.0.1\nport = %d\nprefix = %s\n\n"
            "[log]\nlevel = debug\n" % (port_path, broker_port, prefix))


def main():
    k.need(k.DAEMON, "mosquitto", "socat")
    work = k.Workdir()
    broker = k.Broker(work)
    ptys = [k.Pty(work, "a"), k.Pty(work, "b")]
    daemons = []
    try:
        frames = k.split_frames(open(k.KAIFA_T4, "rb").read())
        with open(broker.conf, "a") as f:
            f.write("log_type all\nconnection_messages true\n")
        broker.start()
        for i, p in enumerate(ptys):
            p.start()
            d = k.Daemon(work, config(p.meter, broker.port, "home%d" % i), name="svc%d" % i)
            d.start()
            daemons.append(d)
        for i, p in enumerate(ptys):
            p.write(b"".join(frames[0:8]), pause=0.01)
        for i in range(2):
            topic = "home%d/%s/meter_id" % (i, k.METER_ID)
            k.check(bool(k.wait_for(lambda: broker.retained(["home%d/#" % i], 1).get(topic) == k.METER_ID, 10, 0.3)),
                    "service %d publishes" % i)
        ids = [re.search(r"MQTT client id (\S+)", d.logtext()) for d in daemons]
        ids = [m.group(1) if m else None for m in ids]
        k.check(all(ids) and ids[0] != ids[1], "default client ids differ: %s" % ids)
        with open(work.file("mosquitto.log"), errors="replace") as f:
            blog = f.read()
        k.check("already connected" not in blog, "no client was thrown off (broker log)")
        for cid in ids:
            if cid:
                n = blog.count("as %s " % cid)
                k.check(n == 1, "%s connected once (%d times)" % (cid, n))
        for d in daemons:
            rc, _ = d.stop()
            k.check(rc == 0, "SIGTERM: exit 0")
    finally:
        k.cleanup(*daemons)
        k.cleanup(*ptys)
        k.cleanup(broker)
        if k.FAILURES:
            for d in daemons:
                print("--- %s ---\n%s" % (d.logpath, d.logtext()))
        work.cleanup()
    k.finish()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Meters that never send an id still publish: a Swedish Aidon long list
(amsreader/aidon/gh156-1.bin) and a Danish Kamstrup CT list
(amsreader/kamstrup/gh216-1.bin), replayed through a pty, appear under the
configured [meter] id, else under the section name ("meter"), after
[meter] id_wait, with one log line saying which id and how to set it; their
discovery configs pass ha_check with 0 failures and 0 warnings. The
broker is connected before the first frame (a wrong password shows at once)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kmtest as k  # noqa: E402
import ha_check  # noqa: E402

CASES = [
    # capture, extra [meter] keys, expected id, a value that must appear
    ("aidon/gh156-1.bin", "", "meter", "power_active_import"),
    ("kamstrup/gh216-1.bin", "id = house-kamstrup\n", "house-kamstrup", "energy_active_cum_import"),
]


def run(work, broker, capture, extra, want_id, key, n):
    pty = k.Pty(work, "meter%d" % n)
    daemon = None
    try:
        pty.start()
        conf = k.daemon_config(pty.meter, broker.port) + "[meter]\nid_wait = 1\n" + extra
        daemon = k.Daemon(work, conf, name="daemon%d" % n)
        daemon.start()
        k.check(bool(k.wait_for(lambda: "connected" in daemon.logtext(), 10)),
                "%s: connects to the broker before any frame" % capture)
        data = open(os.path.join(k.CAPTURES, "amsreader", capture), "rb").read()
        topic = "kaifa/%s/%s" % (want_id, key)
        got = k.wait_for(lambda: pty.write(data, pause=0.01) or broker.retained(["kaifa/#"], 1).get(topic), 15, 0.5)
        k.check(bool(got), "%s: %s published under %s" % (capture, key, want_id))
        log = daemon.logtext()
        k.check(log.count("the meter sends no id") == 1 and ("publishing under kaifa/%s/" % want_id) in log
                and "[meter] id" in log, "%s: one log line names the id and how to set it" % capture)
        k.check(broker.retained(["kaifa/#"], 1).get("kaifa/%s/status" % want_id) == "online",
                "%s: status online under %s" % (capture, want_id))
        node = "homeassistant/sensor/kaifa_%s/" % want_id
        configs = {t: p for t, p in broker.retained(["homeassistant/#"], 1).items() if t.startswith(node)}
        fail, warn = ha_check.check_all(configs)
        for f in fail + warn:
            print("   ha_check: " + f)
        k.check(configs and not fail and not warn, "%s: ha_check: %d configs, %d failures, %d warnings"
                % (capture, ha_check.count_configs(configs), len(fail), len(warn)))
        rc, _ = daemon.stop()
        k.check(rc == 0, "%s: SIGTERM: exit 0" % capture)
    finally:
        k.cleanup(daemon, pty)
        if daemon and k.FAILURES:
            print("--- daemon log ---")
            print(daemon.logtext())


def main():
    k.need(k.DAEMON, "mosquitto", "socat")
    work = k.Workdir()
    broker = k.Broker(work)
    try:
        broker.start()
        for n, (capture, extra, want_id, key) in enumerate(CASES):
            run(work, broker, capture, extra, want_id, key, n)
    finally:
        k.cleanup(broker)
        work.cleanup()
    k.finish()


if __name__ == "__main__":
    main()

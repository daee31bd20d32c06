#!/usr/bin/env python3
"""Several meters in one daemon, on one broker connection:

- the main file holds [mqtt] and [meter.house] (a Norwegian Kaifa on a pty,
  named by the id in its data); a drop-in conf.d/cabin.conf adds
  [meter.cabin] (a Swedish Aidon on a second pty, no id in its data: it is
  published under its section name) and conf.d/pulse.conf adds
  [meter.pulse], whose source is mqtt://tibber/raw: raw frames that another
  reader publishes on the same broker, as hex text and as bytes;
- every meter publishes its values and its availability under its own id,
  and its discovery passes ha_check with 0 failures and 0 warnings;
- the broker sees one client connect once (no second connection, no
  reconnect loop);
- SIGHUP without a drop-in removes its meter (offline), the others and the
  connection stay;
- SIGTERM: every meter's status turns offline, and the bridge's too."""
import os
import re
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kmtest as k  # noqa: E402
import ha_check  # noqa: E402


def publish_raw(broker, work, topic, frame, as_hex):
    cmd = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", topic]
    if as_hex:
        cmd += ["-m", frame.hex()]
    else:
        path = work.file("frame.bin")
        with open(path, "wb") as f:
            f.write(frame)
        cmd += ["-f", path]
    subprocess.run(cmd, check=True, timeout=10)


def main():
    k.need(k.DAEMON, "mosquitto", "mosquitto_pub", "mosquitto_sub", "socat")
    work = k.Workdir()
    broker = k.Broker(work)
    house = k.Pty(work, "house")
    cabin = k.Pty(work, "cabin")
    notify = k.NotifyListener(work)
    daemon = None
    try:
        broker.start()
        house.start()
        cabin.start()
        client = "kmd-meters-%d" % os.getpid()
        main_conf = ("[mqtt]\nhost = 127.0.0.1\nport = %d\nclient_id = %s\n\n[meter.house]\nport = %s\n\n"
                     "[log]\nlevel = debug\n" % (broker.port, client, house.meter))
        daemon = k.Daemon(work, main_conf, env={"NOTIFY_SOCKET": notify.path})
        os.makedirs(work.file("conf.d"), exist_ok=True)
        with open(work.file("conf.d/cabin.conf"), "w") as f:
            f.write("[meter.cabin]\nport = %s\nid_wait = 1\n" % cabin.meter)
        with open(work.file("conf.d/pulse.conf"), "w") as f:
            f.write("[meter.pulse]\nport = mqtt://tibber/raw\nid_wait = 1\n")
        with open(work.file("conf.d/README"), "w") as f:
            f.write("not a .conf file: ignored\n")
        check = subprocess.run([k.DAEMON, "-c", daemon.conf, "--dump-config"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=30)
        dump = check.stdout.decode()
        k.check(check.returncode == 0 and dump.count("[meter.") == 3,
                "--dump-config shows the three meters of the file and its drop-ins (%d)" % dump.count("[meter."))
        daemon.start()
        k.check(bool(k.wait_for(lambda: "connected" in daemon.logtext(), 10)), "connects to the broker")
        k.check(bool(k.wait_for(lambda: daemon.logtext().count(": reading") >= 2, 10)), "both ptys are open")

        kaifa = k.split_frames(open(k.KAIFA_T4, "rb").read())
        aidon = open(os.path.join(k.CAPTURES, "amsreader", "aidon", "gh156-1.bin"), "rb").read()
        kamstrup = k.split_frames(open(os.path.join(k.CAPTURES, "amsreader", "kamstrup", "gh216-1.bin"),
                                       "rb").read())
        k.check(len(kamstrup) == 1, "the Kamstrup capture is one frame (%d)" % len(kamstrup))

        def decoded():
            counts = [int(m.group(1)) for m in (re.search(r"\b(\d+) frames decoded", l)
                                                for t, l in notify.lines()) if m]
            return counts[-1] if counts else -1

        publish_raw(broker, work, "tibber/raw", kamstrup[0], as_hex=True)
        k.check(bool(k.wait_for(lambda: decoded() == 1, 10)), "the mqtt:// meter decodes a frame sent as hex text")
        publish_raw(broker, work, "tibber/raw", kamstrup[0], as_hex=False)
        k.check(bool(k.wait_for(lambda: decoded() == 2, 10)), "... and one sent as bytes (%d)" % decoded())
        k.check("3 meters (0 offline)" in notify.lines()[-1][1], "STATUS= counts the meters (%s)"
                % notify.lines()[-1][1])
        house.write(b"".join(kaifa[0:30]), chunk=1024, pause=0.01)

        want = {
            "kaifa/%s/meter_type" % k.METER_ID: "MA304T4",
            "kaifa/cabin/status": "online",
            "kaifa/pulse/status": "online",
            "kaifa/%s/status" % k.METER_ID: "online",
        }

        def published():
            cabin.write(aidon, pause=0.01)
            got = broker.retained(["kaifa/#"], 1)
            ok = all(got.get(t) == v for t, v in want.items())
            ok = ok and "kaifa/cabin/power_active_import" in got and "kaifa/pulse/energy_active_cum_import" in got
            return got if ok else None

        got = k.wait_for(published, 20, 0.5)
        got = got or broker.retained(["kaifa/#"], 1)
        for t, v in want.items():
            k.check(got.get(t) == v, "%s = %s (got %s)" % (t, v, got.get(t)))
        k.check("kaifa/cabin/power_active_import" in got, "the Aidon meter publishes under its section name")
        k.check("kaifa/pulse/energy_active_cum_import" in got, "the mqtt:// meter publishes its values")
        configs = broker.retained(["homeassistant/#"], 1)
        fail, warn = ha_check.check_all(configs)
        for f in fail + warn:
            print("   ha_check: " + f)
        nodes = {t.split("/")[2] for t in configs if t.endswith("/config")}
        k.check(len(nodes) == 3 and not fail and not warn, "discovery of the 3 meters (%s): ha_check: %d configs, "
                "%d failures, %d warnings" % (sorted(nodes), ha_check.count_configs(configs), len(fail), len(warn)))
        log = daemon.logtext()
        k.check("mqtt://tibber/raw: reading raw frames from the broker" in log, "the mqtt:// source is logged")
        blog = open(work.file("mosquitto.log")).read()
        connects = len(re.findall(r"New client connected .* as %s\b" % re.escape(client), blog))
        k.check(connects == 1, "one connection for all meters, made once (%d)" % connects)

        # SIGHUP without the pulse drop-in: that meter says offline and is gone,
        # the others go on on the same connection
        os.unlink(work.file("conf.d/pulse.conf"))
        daemon.signal(signal.SIGHUP)
        k.check(bool(k.wait_for(lambda: "configuration reloaded" in daemon.logtext(), 10)), "SIGHUP reloads")
        k.check("reload: meter [pulse] removed" in daemon.logtext(), "the removed meter is logged")
        k.check(bool(k.wait_for(lambda: broker.retained(["kaifa/#"], 1).get("kaifa/pulse/status") == "offline",
                                10, 0.3)), "the removed meter is offline")
        k.check(broker.retained(["kaifa/#"], 1).get("kaifa/cabin/status") == "online", "the others stay online")
        blog = open(work.file("mosquitto.log")).read()
        connects = len(re.findall(r"New client connected .* as %s\b" % re.escape(client), blog))
        k.check(connects == 1, "a reload that keeps [mqtt] keeps the connection (%d)" % connects)

        rc, took = daemon.stop()
        k.check(rc == 0, "SIGTERM: exit 0 (%s, %.2f s)" % (rc, took))
        after = broker.retained(["kaifa/#"], 1)
        for mid in (k.METER_ID, "cabin"):
            k.check(after.get("kaifa/%s/status" % mid) == "offline", "%s offline after the stop (%s)"
                    % (mid, after.get("kaifa/%s/status" % mid)))
        bridge = [t for t in after if t.startswith("kaifa/bridge/")]
        k.check(bridge and all(after[t] == "offline" for t in bridge), "the bridge is offline (%s)" % bridge)
    finally:
        if daemon and k.FAILURES:
            print("--- daemon log ---")
            print(daemon.logtext())
        k.cleanup(daemon, house, cabin, broker, notify)
        work.cleanup()
    k.finish()


if __name__ == "__main__":
    main()

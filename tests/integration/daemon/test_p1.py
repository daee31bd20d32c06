#!/usr/bin/env python3
"""kaifa-meterd with a DSMR/P1 meter: ten minutes of the simulator's P1
telegrams (`kaifa-meter simulate --protocol p1`, across 23:00 so the tariff
changes) written into a socat pty at 115200 8N1, the daemon detecting the
transport and publishing to a real mosquitto. Checks:

- the P1 transport is detected and every value is retained at
  kaifa/<meter id>/<name> with the last telegram's value (compared with what
  `kaifa-meter parse-file` decodes from the same bytes); the meter id is the
  equipment id decoded from its hex form;
- the tariff registers are separate energy sensors usable in the Energy
  dashboard (device_class energy, state_class total_increasing, kWh), the
  gas meter on M-Bus channel 1 is device_class gas, total_increasing, m³,
  and the tariff indicator is a text entity; the device is the Kaifa meter
  named in the identification line;
- the power failure log's entries are not published as sensors;
- a water meter (M-Bus device type 7, Fluvius) and a heat meter (GJ) on
  an M-Bus channel get device_class water and energy instead of gas;
- status is online while running, offline after SIGTERM;
- parity = auto goes 8E1 -> 8N1 -> 7E1 with a DSMR 2.2 meter and keeps 7E1
  once its telegrams decode.
"""
import json
import os
import sys
import subprocess
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kmtest as k  # noqa: E402
import ha_check  # noqa: E402

CLI = os.environ.get("KM_CLI")
METER_ID = "7359992890941742"  # the simulator's default, sent as hex-encoded ASCII


def last_values(readings):
    last = {}
    for r in readings:
        for name, v in r["data"].items():
            last[name] = v
    return last


def same_value(payload, value):
    if isinstance(value, (int, float)):
        try:
            return abs(float(payload) - float(value)) < 1e-9
        except ValueError:
            return False
    return payload == str(value)


def main():
    k.need(k.DAEMON, CLI or "kaifa-meter", "mosquitto", "mosquitto_sub", "mosquitto_pub", "socat")
    work = k.Workdir()
    broker = k.Broker(work)
    pty = k.Pty(work)
    daemon = None
    try:
        stream = subprocess.run([CLI, "simulate", "--protocol", "p1", "--speed", "0", "--duration", "600",
                                 "--start", "2026-01-15T22:55:00"], stdout=subprocess.PIPE, check=True,
                                timeout=30).stdout
        capture = work.file("p1-stream.txt")
        with open(capture, "wb") as f:
            f.write(stream)
        readings = k.cli_readings(CLI, capture)
        k.check(len(readings) == 60, "the CLI decodes 60 telegrams from the simulator (%d)" % len(readings))
        k.check(all(r["header"].get("transport") == "p1" for r in readings), "the CLI's JSON says transport p1")
        expect = last_values(readings)

        broker.start()
        pty.start()
        config = ("[serial]\nport = %s\nbaud = 115200\nparity = none\n\n"
                  "[mqtt]\nhost = 127.0.0.1\nport = %d\nclient_id = kmd-p1-%d\n\n[log]\nlevel = debug\n"
                  % (pty.meter, broker.port, os.getpid()))
        daemon = k.Daemon(work, config)
        daemon.start()
        k.check(k.wait_for(lambda: "reading" in daemon.logtext(), 5), "daemon opened the pty")
        pty.write(stream, chunk=4096, pause=0.01)

        topic = "kaifa/%s/" % METER_ID
        last_power = expect["power_active_import"]["value"]
        want = '"power_active_import":%s' % json.dumps(last_power)
        done = k.wait_for(lambda: want in broker.retained(["kaifa/#"], 1).get(topic + "state", ""), 30, 0.5)
        k.check(bool(done), "the last telegram's values reached the broker")
        time.sleep(0.5)
        retained = broker.retained()

        values = {t[len(topic):]: p for t, p in retained.items()
                  if t.startswith(topic) and t[len(topic):] not in ("state", "status")
                  and not k.is_derived(t[len(topic):])}
        sensors = {n for n in expect if not n.startswith("0-0:96.7.19")}
        # an empty text (no message, 0-0:96.13.0()) is an empty payload: MQTT keeps no retained message for it
        kept = {n for n in sensors if expect[n]["value"] != ""}
        k.check(set(values) == kept, "one retained topic per value, log entries left out: %s"
                % sorted(set(values) ^ kept))
        for name in sorted(kept):
            v = expect[name].get("decoded", expect[name]["value"])  # ids: MQTT has them decoded
            if name in ("meter_timestamp",):
                continue
            k.check(same_value(values.get(name, ""), v), "%s = %s (retained %s)" % (name, v, values.get(name)))
        k.check(values.get("meter_id") == METER_ID, "meter_id is the decoded equipment id")
        k.check(values.get("tariff_indicator") == "0001", "after 23:00 the tariff is 1 (low)")
        k.check(values.get("meter_timestamp") == "2026-01-15T23:04:50", "meter_timestamp is ISO 8601: %s"
                % values.get("meter_timestamp"))
        k.check(float(values.get("energy_active_cum_import_t1", 0)) > 0
                and float(values.get("energy_active_cum_import_t2", 0)) > 0, "both tariff registers published")

        node = "kaifa_" + METER_ID
        prefix = "homeassistant/sensor/%s/" % node
        configs = {t[len(prefix):-len("/config")]: json.loads(p) for t, p in retained.items()
                   if t.startswith(prefix) and t.endswith("/config") and not k.is_derived(t[len(prefix):-len("/config")])}
        k.check(set(configs) == sensors, "one discovery config per value (%d configs, %d values)"
                % (len(configs), len(sensors)))
        classes = {
            "energy_active_cum_import_t1": ("energy", "total_increasing", "kWh"),
            "energy_active_cum_import_t2": ("energy", "total_increasing", "kWh"),
            "energy_active_cum_export_t1": ("energy", "total_increasing", "kWh"),
            "energy_active_cum_export_t2": ("energy", "total_increasing", "kWh"),
            "mbus1_delivered": ("gas", "total_increasing", "m³"),
            "power_active_import": ("power", "measurement", "W"),
            "power_active_import_l1": ("power", "measurement", "W"),
            "phase_voltage_l1": ("voltage", "measurement", "V"),
            "phase_current_l1": ("current", "measurement", "A"),
            "tariff_indicator": (None, None, None),
        }
        for key, want_c in classes.items():
            c = configs.get(key, {})
            got = (c.get("device_class"), c.get("state_class"), c.get("unit_of_measurement"))
            k.check(got == want_c, "%s: device_class/state_class/unit %s (got %s)" % (key, want_c, got))
        for key, c in sorted(configs.items()):
            dev = c.get("device", {})
            ok = (c.get("unique_id") and c.get("state_topic") == topic + key
                  and (topic + "status") in [a.get("topic") for a in c.get("availability", [])]
                  and c.get("availability_mode") == "all"
                  and dev.get("identifiers") == [node] and dev.get("manufacturer") == "Kaifa"
                  and dev.get("model") == "KAIFA-METER" and dev.get("serial_number") == METER_ID)
            k.check(bool(ok), "%s: config has unique_id, topics and the Kaifa P1 device" % key)
        k.check(len({c.get("unique_id") for c in configs.values()}) == len(configs), "unique ids are unique")
        fail, warn = ha_check.check_all(retained)
        for f in fail + warn:
            print("   ha_check: " + f)
        k.check(not fail and not warn, "ha_check: %d configs, %d failures, %d warnings"
                % (ha_check.count_configs(retained), len(fail), len(warn)))

        k.check(retained.get(topic + "status") == "online", "status is online")

        # other M-Bus devices: a Belgian meter with gas on channel 1 and water on
        # channel 2 (device type 7), a heat meter reporting GJ
        others = [("beyond/fluvius/dsmrp_fluvius_v171.txt", "1SAG3101021605",
                   {"mbus1_delivered": ("gas", "total_increasing", "m³"),
                    "mbus2_delivered": ("water", "total_increasing", "m³")}),
                  ("beyond/nwa/dsmrp_unpadded_crc.txt", "ADC3100000158491",
                   {"mbus1_delivered": ("energy", "total_increasing", "GJ")})]
        for rel, meter, want_classes in others:
            with open(os.path.join(k.CAPTURES, rel), "rb") as f:
                pty.write(f.read())
            node_prefix = "homeassistant/sensor/kaifa_%s/" % meter

            def configs_of():
                got = broker.retained(["homeassistant/#"], 0.5)
                return {key: json.loads(got[node_prefix + key + "/config"]) for key in want_classes
                        if node_prefix + key + "/config" in got}
            k.wait_for(lambda: len(configs_of()) == len(want_classes), 10, 0.3)
            cfgs = configs_of()
            for key, want_c in want_classes.items():
                c = cfgs.get(key, {})
                got = (c.get("device_class"), c.get("state_class"), c.get("unit_of_measurement"))
                k.check(got == want_c, "%s %s: device_class/state_class/unit %s (got %s)" % (meter, key, want_c, got))
            node_configs = {t: p for t, p in broker.retained(["homeassistant/#"], 0.5).items()
                            if t.startswith(node_prefix)}
            fail, warn = ha_check.check_all(node_configs)
            for f in fail + warn:
                print("   ha_check: " + f)
            k.check(not fail and not warn, "%s: ha_check: %d configs, %d failures, %d warnings"
                    % (meter, ha_check.count_configs(node_configs), len(fail), len(warn)))

        rc, took = daemon.stop()
        k.check(rc == 0, "SIGTERM: exit code 0 (got %s)" % rc)
        k.check(broker.retained(["kaifa/#"], 1).get(topic + "status") == "offline", "status is offline after SIGTERM")
        k.check("Traceback" not in daemon.logtext(), "daemon log is clean")

        # parity = auto with a DSMR 2.2 meter (9600 7E1): read as 8E1 and 8N1 its
        # bytes make no frame; the daemon goes on to 7E1 and keeps it once the
        # telegrams decode (a pty passes the bytes as a 7E1 UART would give them)
        with open(os.path.join(k.CAPTURES, "beyond/iskraemeco/dsmrp_v2_2.txt"), "rb") as f:
            v22 = f.read()
        as_8n1 = bytes(b | 0x80 if bin(b).count("1") % 2 else b for b in v22)
        config = ("[serial]\nport = %s\nbaud = 9600\n\n[mqtt]\nhost = 127.0.0.1\nport = %d\n"
                  "client_id = kmd-p1b-%d\n\n[log]\nlevel = debug\n" % (pty.meter, broker.port, os.getpid()))
        daemon = k.Daemon(work, config, name="daemon-7e1")
        daemon.start()
        k.check(k.wait_for(lambda: "parity even (auto)" in daemon.logtext(), 5), "starts with 8E1")
        pty.write(as_8n1 * 12, chunk=1024, pause=0.01)
        k.check(bool(k.wait_for(lambda: "trying none" in daemon.logtext(), 5)), "no frame with 8E1: tries 8N1")
        pty.write(as_8n1 * 12, chunk=1024, pause=0.01)
        k.check(bool(k.wait_for(lambda: "no good frame with 8N1; trying 7E1" in daemon.logtext(), 5)),
                "no frame with 8N1: tries 7E1 (DSMR 2.2/3 P1)")
        pty.write(v22 * 2, chunk=1024, pause=0.01)
        k.check(bool(k.wait_for(lambda: "parity even gives good frames; keeping it" in daemon.logtext(), 5)),
                "the telegrams decode with 7E1: kept")
        k.check(bool(k.wait_for(lambda: "kaifa/00000000000000/mbus1_delivered"
                                in broker.retained(["kaifa/#"], 0.5), 5)),
                "the DSMR 2.2 gas reading is published")
        rc, took = daemon.stop()
        k.check(rc == 0, "SIGTERM: exit code 0 (got %s)" % rc)
    finally:
        k.cleanup(daemon, pty, broker)
        print("--- daemon log (tail) ---")
        try:
            print("\n".join(daemon.logtext().splitlines()[-15:]))
        except Exception:
            pass
        work.cleanup()
    k.finish()


if __name__ == "__main__":
    main()

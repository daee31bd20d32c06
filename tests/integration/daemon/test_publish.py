#!/usr/bin/env python3
"""kaifa-meterd end to end: a real capture (Kaifa MA304T4, 1475 frames with
list 1, list 2 and one hourly list 3) written into a socat pty, the daemon
reading the other end and publishing to a real mosquitto. Checks:

- every value is retained at kaifa/<meter id>/<name> with the payload of the
  last frame that carried it (compared with what `kaifa-meter parse-file`
  decodes), in display units (801.652 kWh, 230.2 V ...);
- list 1 frames sent before the first list 2 are held, then published under
  the right meter id, and nothing is published under any other id;
- kaifa/<id>/state is a JSON document of the latest full reading;
- every Home Assistant discovery config is valid JSON with unique_id,
  device (identifiers, manufacturer, model, name, sw_version,
  serial_number), origin, availability and the right classes, units and
  suggested_display_precision (kvarh is reactive_energy), and ha_check
  finds 0 failures and 0 warnings;
- with [homeassistant] legacy_reactive = yes, kvarh has no device class
  (Home Assistant before 2025.6) and ha_check, told so, finds nothing;
- configs are sent again when homeassistant/status says online;
- status is online while running, offline after SIGTERM, which exits 0
  within 1 s.
"""
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kmtest as k  # noqa: E402
import ha_check  # noqa: E402

CLI = os.environ.get("KM_CLI")


def expected_values(readings):
    """name -> last value sent, over all readings in order."""
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


def check_discovery(retained, node, keys):
    prefix = "homeassistant/sensor/%s/" % node
    configs = {t[len(prefix):-len("/config")]: p for t, p in retained.items()
               if t.startswith(prefix) and t.endswith("/config") and not k.is_derived(t[len(prefix):-len("/config")])}
    k.check(set(configs) == set(keys), "one discovery config per value (%d configs, %d values)"
            % (len(configs), len(keys)))
    uids = set()
    for key, payload in sorted(configs.items()):
        try:
            c = json.loads(payload)
        except ValueError:
            k.check(False, "%s: config is valid JSON" % key)
            continue
        dev = c.get("device", {})
        ok = (c.get("unique_id") and c["unique_id"] not in uids
              and c.get("name")
              and c.get("state_topic") == "kaifa/%s/%s" % (k.METER_ID, key)
              and [a.get("topic") for a in c.get("availability", [])]
              == ["kaifa/bridge/kmd-test-%d/status" % os.getpid(), "kaifa/%s/status" % k.METER_ID]
              and all(a.get("payload_available") == "online" and a.get("payload_not_available") == "offline"
                      for a in c["availability"])
              and c.get("availability_mode") == "all"
              and (c.get("expire_after") in (60, 3660) or c.get("entity_category") == "diagnostic")
              and dev.get("identifiers") == [node]
              and dev.get("manufacturer") == "Kaifa"
              and dev.get("model") == "MA304T4"
              and dev.get("name")
              and dev.get("sw_version") == "KFM_001"
              and dev.get("serial_number") == k.METER_ID
              and c.get("origin", {}).get("name") == "kaifa-meterd")
        k.check(bool(ok), "%s: config has unique_id, state/availability topics, device and origin" % key)
        uids.add(c.get("unique_id"))
        want = None
        if key.startswith("energy_active"):
            want = ("energy", "total_increasing", "kWh", 3)
        elif key.startswith("energy_reactive"):
            want = ("reactive_energy", "total_increasing", "kvarh", 3)
        elif key.startswith("power_active"):
            want = ("power", "measurement", "W", 0)
        elif key.startswith("power_reactive"):
            want = ("reactive_power", "measurement", "var", 0)
        elif key.startswith("phase_voltage"):
            want = ("voltage", "measurement", "V", 1)
        elif key.startswith("phase_current"):
            want = ("current", "measurement", "A", 2)
        if want:
            got = (c.get("device_class"), c.get("state_class"), c.get("unit_of_measurement"),
                   c.get("suggested_display_precision"))
            k.check(got == want, "%s: device_class/state_class/unit/precision %s (got %s)" % (key, want, got))
        if key in ("meter_id", "meter_type", "obis_version", "meter_timestamp"):
            k.check(c.get("entity_category") == "diagnostic" and "unit_of_measurement" not in c
                    and "suggested_display_precision" not in c, "%s: diagnostic text entity" % key)
    # the derived values' configs (test_derived.py) are checked too, counted apart
    fail, warn = ha_check.check_all(retained)
    for f in fail + warn:
        print("   ha_check: " + f)
    own = {t: p for t, p in retained.items() if not k.is_derived(t.split("/")[-2])}
    k.check(ha_check.count_configs(own) == len(keys) and not fail and not warn,
            "ha_check: %d configs (and %d of derived values), %d failures, %d warnings"
            % (ha_check.count_configs(own), ha_check.count_configs(retained) - ha_check.count_configs(own),
               len(fail), len(warn)))
    return configs


def check_legacy_reactive(work, broker, pty):
    """A second run with legacy_reactive = yes: the kvarh configs lose the
    reactive_energy class, nothing else changes."""
    frames = k.split_frames(open(k.KAIFA_T4, "rb").read())
    config = k.daemon_config(pty.meter, broker.port, "") + "[homeassistant]\nlegacy_reactive = yes\n"
    daemon = k.Daemon(work, config, name="legacy")
    try:
        daemon.start()
        k.check(k.wait_for(lambda: "reading" in daemon.logtext(), 5), "legacy: daemon opened the pty")
        topic = "homeassistant/sensor/kaifa_%s/energy_reactive_cum_import/config" % k.METER_ID
        broker.publish(topic, "", retain=True)  # forget the first run's config

        def legacy_config():
            got = broker.retained(["homeassistant/#"], 0.5).get(topic)
            return got and json.loads(got)
        # the hourly list 3 carries the kvarh registers: the frames up to the first one
        first3 = next(i for i, f in enumerate(frames) if len(f) > 150)
        k.wait_for(lambda: pty.write(b"".join(frames[:first3 + 1]), chunk=2048, pause=0.01) or legacy_config(), 10, 0.2)
        c = legacy_config() or {}
        got = (c.get("device_class"), c.get("state_class"), c.get("unit_of_measurement"),
               c.get("suggested_display_precision"))
        k.check(got == (None, "total_increasing", "kvarh", 3),
                "legacy_reactive: kvarh without a device class (got %s)" % (got,))
        retained = broker.retained(["homeassistant/#"], 1)
        fail, warn = ha_check.check_all(retained, legacy_reactive=True)
        for f in fail + warn:
            print("   ha_check: " + f)
        k.check(not fail and not warn, "ha_check --legacy-reactive: %d failures, %d warnings" % (len(fail), len(warn)))
        rc, _ = daemon.stop()
        k.check(rc == 0, "legacy: SIGTERM: exit code 0")
    finally:
        k.cleanup(daemon)


def main():
    k.need(k.DAEMON, "mosquitto", "mosquitto_sub", "mosquitto_pub", "socat")
    work = k.Workdir()
    broker = k.Broker(work)
    pty = k.Pty(work)
    daemon = sub = None
    try:
        broker.start()
        pty.start()
        daemon = k.Daemon(work, k.daemon_config(pty.meter, broker.port))
        daemon.start()
        sub = k.Subscriber(work, broker, ["kaifa/#"], "live.log")
        k.check(k.wait_for(lambda: "reading" in daemon.logtext(), 5), "daemon opened the pty")

        data = open(k.KAIFA_T4, "rb").read()
        pty.write(data, chunk=2048, pause=0.03)
        state_topic = "kaifa/%s/state" % k.METER_ID
        done = k.wait_for(lambda: '"power_active_import":215' in broker.retained(["kaifa/#"], 1).get(state_topic, ""), 30, 0.5)
        k.check(bool(done), "the last frame's values reached the broker")
        time.sleep(0.5)
        retained = broker.retained()

        # values
        readings = k.cli_readings(CLI, k.KAIFA_T4) if CLI else []
        k.check(len(readings) == 1475, "the CLI decodes the capture (1475 frames)")
        expect = expected_values(readings)
        topic = "kaifa/%s/" % k.METER_ID
        values = {t[len(topic):]: p for t, p in retained.items()
                  if t.startswith(topic) and t[len(topic):] not in ("state", "status")
                  and not k.is_derived(t[len(topic):])}
        k.check(set(values) == set(expect), "one retained topic per value name: %s" % sorted(values))
        for name in sorted(expect):
            v = expect[name]["value"]
            if name == "meter_timestamp":
                k.check(values.get(name) == "2017-01-18T15:00:00", "meter_timestamp is ISO 8601: %s"
                        % values.get(name))
                continue
            k.check(same_value(values.get(name, ""), v), "%s = %s (retained %s)" % (name, v, values.get(name)))
        k.check(values.get("energy_active_cum_import") == "801.652", "energy_active_cum_import is 801.652 (kWh)")
        k.check(values.get("energy_reactive_cum_import") == "188.933", "energy_reactive_cum_import is 188.933 (kvarh)")
        k.check(values.get("meter_id") == k.METER_ID, "meter_id is " + k.METER_ID)
        k.check(values.get("phase_voltage_l1") == "138.1" or same_value(values.get("phase_voltage_l1", ""),
                expect["phase_voltage_l1"]["value"]), "voltage in V with its decimals")
        others = [t for t in retained if t.startswith("kaifa/") and not t.startswith(topic)
                  and not t.startswith("kaifa/bridge/")]
        k.check(not others, "nothing published under another meter id: %s" % others[:3])

        # held list 1: the first three frames (list 1, no meter id) come out first, in order
        live = [(t, p) for t, p in sub.messages() if t == topic + "power_active_import"]
        first = [r["data"]["power_active_import"]["value"] for r in readings[:4]]
        k.check([p for t, p in live[:4]] == [str(v) for v in first],
                "list 1 values sent before the meter id were held and published in order: %s"
                % [p for t, p in live[:4]])
        # each frame once, plus the latest value again after the connect
        k.check(len(readings) <= len(live) <= len(readings) + 1,
                "every frame published its power (%d messages, %d frames)" % (len(live), len(readings)))

        # state document
        try:
            state = json.loads(retained.get(state_topic, ""))
        except ValueError:
            state = {}
        k.check(state.get("meter_id") == k.METER_ID and state.get("energy_active_cum_import") == 801.652
                and state.get("power_active_import") == 215 and state.get("meter_type") == "MA304T4",
                "state is the merged latest reading as JSON")

        # availability and discovery
        k.check(retained.get(topic + "status") == "online", "status is online")
        node = "kaifa_" + k.METER_ID
        configs = check_discovery(retained, node, list(expect))

        ha = k.Subscriber(work, broker, ["homeassistant/#"], "ha.log")
        n_before = len(ha.lines())
        broker.publish("homeassistant/status", "online")
        again = k.wait_for(lambda: len(ha.lines()) - n_before >= len(configs), 5)
        k.check(bool(again), "configs sent again after homeassistant/status online (%d new)"
                % (len(ha.lines()) - n_before))
        ha.stop()

        rc, took = daemon.stop()
        k.check(rc == 0, "SIGTERM: exit code 0 (got %s)" % rc)
        k.check(took < 1.0, "SIGTERM: exited within 1 s (%.2f s)" % took)
        k.check(broker.retained(["kaifa/#"], 1).get(topic + "status") == "offline", "status is offline after SIGTERM")
        k.check("Traceback" not in daemon.logtext(), "daemon log is clean")
        check_legacy_reactive(work, broker, pty)
    finally:
        k.cleanup(sub, daemon, pty, broker)
        print("--- daemon log (tail) ---")
        try:
            print("\n".join(daemon.logtext().splitlines()[-15:]))
        except Exception:
            pass
        work.cleanup()
    k.finish()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""ha_check: the Home Assistant rules the daemon tests hold discovery to.

Home Assistant takes an MQTT sensor config only if its device_class is one
it knows, the unit is one that class allows and the state_class is one that
class allows (homeassistant/components/sensor/const.py: DEVICE_CLASS_UNITS
and DEVICE_CLASS_STATE_CLASSES, as of 2025.6, when reactive_energy came);
otherwise the entity is rejected or logged as wrong and left out of the
statistics. Those are failures here. Warnings are configs Home Assistant
takes but shows worse than it could: a number without
suggested_display_precision, a unit that has a device class given none, a
number without a state_class (no long-term statistics), a measurement with
no availability or expire_after.

Use from a test:   failures, warnings = ha_check.check_all(retained_dict)
or on its own:     mosquitto_sub -v -t "homeassistant/#" -W 2 | python3 ha_check.py
                   (prints every finding and "N configs, N failures, N warnings";
                   exit 1 on a failure or, with --strict, a warning).
"""
import json
import re
import sys

# device_class -> units allowed (None: no unit)
UNITS = {
    "apparent_power": {"VA", "mVA", "kVA"},
    "current": {"A", "mA"},
    "energy": {"J", "kJ", "MJ", "GJ", "mWh", "Wh", "kWh", "MWh", "GWh", "TWh", "cal", "kcal", "Mcal", "Gcal"},
    "energy_storage": {"J", "kJ", "MJ", "GJ", "mWh", "Wh", "kWh", "MWh", "GWh", "TWh"},
    "frequency": {"Hz", "kHz", "MHz", "GHz"},
    "gas": {"m³", "ft³", "CCF"},
    "power": {"mW", "W", "kW", "MW", "GW", "TW", "BTU/h"},
    "power_factor": {"%", None},
    "reactive_energy": {"varh", "kvarh"},
    "reactive_power": {"var", "kvar"},
    "temperature": {"°C", "°F", "K"},
    "voltage": {"V", "mV", "µV", "kV", "MV"},
    "water": {"m³", "ft³", "CCF", "gal", "L"},
    "volume": {"m³", "ft³", "CCF", "gal", "L", "mL", "fl. oz."},
    "duration": {"d", "h", "min", "s", "ms"},
    "battery": {"%"},
    "humidity": {"%"},
    "signal_strength": {"dB", "dBm"},
    "monetary": None,  # any ISO 4217 code
}
# device_class -> state classes allowed (absent: any of the three)
STATE_CLASSES = {
    "apparent_power": {"measurement"},
    "current": {"measurement"},
    "energy": {"total", "total_increasing"},
    "energy_storage": {"measurement"},
    "frequency": {"measurement"},
    "gas": {"total", "total_increasing"},
    "power": {"measurement"},
    "power_factor": {"measurement"},
    "reactive_energy": {"total", "total_increasing"},
    "reactive_power": {"measurement"},
    "temperature": {"measurement"},
    "voltage": {"measurement"},
    "water": {"total", "total_increasing"},
    "volume": {"total", "total_increasing"},
    "battery": {"measurement"},
    "humidity": {"measurement"},
    "signal_strength": {"measurement"},
    "monetary": {"total"},
}
NON_NUMERIC = {"date", "enum", "timestamp"}
KNOWN = set(UNITS) | NON_NUMERIC
STATE_CLASS_NAMES = {"measurement", "total", "total_increasing"}
# a unit Home Assistant has a class for: given none, the value is shown
# without its kind (no unit conversion, no Energy dashboard)
CLASS_OF_UNIT = {"W": "power", "kW": "power", "var": "reactive_power", "kvar": "reactive_power",
                 "VA": "apparent_power", "kVA": "apparent_power", "V": "voltage", "A": "current",
                 "Hz": "frequency", "Wh": "energy", "kWh": "energy", "varh": "reactive_energy",
                 "kvarh": "reactive_energy", "°C": "temperature"}
TOPIC = re.compile(r"^[^/#+]+(/[^/#+]+)*/sensor/([A-Za-z0-9_-]+)/([A-Za-z0-9_-]+)/config$")


def check_config(topic, payload, legacy_reactive=False):
    """(failures, warnings) of one sensor config, each a list of strings."""
    fail, warn = [], []
    where = topic
    if not TOPIC.match(topic):
        fail.append("%s: not <prefix>/sensor/<node_id>/<object_id>/config with [A-Za-z0-9_-] ids" % where)
    try:
        c = json.loads(payload)
    except ValueError:
        return ["%s: not JSON" % where], warn
    if not isinstance(c, dict):
        return ["%s: not a JSON object" % where], warn
    if not c.get("state_topic"):
        fail.append("%s: no state_topic" % where)
    if not c.get("unique_id"):
        fail.append("%s: no unique_id (the entity cannot be edited or kept across restarts)" % where)
    dc, sc, unit = c.get("device_class"), c.get("state_class"), c.get("unit_of_measurement")
    if dc is not None and dc not in KNOWN:
        fail.append("%s: unknown device_class %r" % (where, dc))
    if sc is not None and sc not in STATE_CLASS_NAMES:
        fail.append("%s: unknown state_class %r" % (where, sc))
    if dc in NON_NUMERIC:
        if unit is not None or sc is not None:
            fail.append("%s: device_class %s takes no unit or state_class" % (where, dc))
    elif dc in UNITS:
        allowed = UNITS[dc]
        if allowed is not None and unit not in allowed:
            fail.append("%s: unit %r is not one of device_class %s's %s" % (where, unit, dc, sorted(allowed, key=str)))
        if sc is not None and dc in STATE_CLASSES and sc not in STATE_CLASSES[dc]:
            fail.append("%s: state_class %s is not one of device_class %s's %s"
                        % (where, sc, dc, sorted(STATE_CLASSES[dc])))
    cat = c.get("entity_category")
    if cat is not None and cat not in ("config", "diagnostic"):
        fail.append("%s: entity_category %r (config or diagnostic)" % (where, cat))
    if "suggested_display_precision" in c:
        p = c["suggested_display_precision"]
        if not isinstance(p, int) or isinstance(p, bool) or p < 0:
            fail.append("%s: suggested_display_precision %r is not a whole number >= 0" % (where, p))
    if "expire_after" in c:
        e = c["expire_after"]
        if not isinstance(e, int) or isinstance(e, bool) or e <= 0:
            fail.append("%s: expire_after %r is not a whole number > 0" % (where, e))
    avail = c.get("availability")
    if avail is not None:
        if not isinstance(avail, list) or not all(isinstance(a, dict) and a.get("topic") for a in avail):
            fail.append("%s: availability is not a list of {topic: ...}" % where)
        if c.get("availability_mode", "latest") not in ("all", "any", "latest"):
            fail.append("%s: availability_mode %r" % (where, c.get("availability_mode")))
    dev = c.get("device")
    if dev is not None and not (dev.get("identifiers") or dev.get("connections")):
        fail.append("%s: device without identifiers or connections" % where)

    numeric = unit is not None or sc is not None or (dc is not None and dc not in NON_NUMERIC)
    if numeric and "suggested_display_precision" not in c:
        warn.append("%s: a number without suggested_display_precision" % where)
    want = CLASS_OF_UNIT.get(unit)
    if want and dc is None and not (legacy_reactive and want == "reactive_energy"):
        warn.append("%s: unit %s without device_class %s" % (where, unit, want))
    if unit is not None and sc is None and cat != "diagnostic":
        warn.append("%s: unit %s without a state_class: no long-term statistics" % (where, unit))
    if not dev or not dev.get("name"):
        warn.append("%s: no device name" % where)
    if "origin" not in c:
        warn.append("%s: no origin" % where)
    if cat != "diagnostic" and numeric and not avail:
        warn.append("%s: a measurement without availability" % where)
    return fail, warn


def check_all(retained, legacy_reactive=False):
    """Every sensor config among retained {topic: payload}: (failures,
    warnings), and unique_ids used twice are failures."""
    fail, warn, seen = [], [], {}
    for topic in sorted(retained):
        if not topic.endswith("/config") or "/sensor/" not in topic:
            continue
        f, w = check_config(topic, retained[topic], legacy_reactive)
        fail += f
        warn += w
        try:
            uid = json.loads(retained[topic]).get("unique_id")
        except (ValueError, AttributeError):
            uid = None
        if uid and uid in seen:
            fail.append("%s: unique_id %s is also %s's" % (topic, uid, seen[uid]))
        elif uid:
            seen[uid] = topic
    return fail, warn


def count_configs(retained):
    return sum(1 for t in retained if t.endswith("/config") and "/sensor/" in t)


def main():
    strict = "--strict" in sys.argv[1:]
    legacy = "--legacy-reactive" in sys.argv[1:]
    retained = {}
    for line in sys.stdin.read().splitlines():
        topic, _, payload = line.partition(" ")
        if payload:
            retained[topic] = payload
    fail, warn = check_all(retained, legacy)
    for f in fail:
        print("failure: " + f)
    for w in warn:
        print("warning: " + w)
    print("%d configs, %d failures, %d warnings" % (count_configs(retained), len(fail), len(warn)))
    return 1 if fail or (strict and warn) else 0


if __name__ == "__main__":
    sys.exit(main())

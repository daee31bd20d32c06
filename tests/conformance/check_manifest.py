#!/usr/bin/env python3
"""Checks kaifa-meter against the expected values of a capture manifest.

The manifest (tests/data/captures/beyond/manifest.json, copied from the
shared capture set) lists for each capture file its framing, security and
the values it must decode to, keyed by OBIS C.D.E (M-Bus channels of P1
telegrams as c<n>:C.D.E), in base units: W, var, VA, V, A, kWh, kvarh, Hz,
m3, text as sent. For every selected record this runs

    kaifa-meter parse-file FILE --compact [--key ...]

gathers the values of all readings (a later reading overrides an earlier
one; within a reading the first value of a code counts, later ones come
from logs), converts them to the manifest's units and compares every expected
key: numbers within a relative 1e-6 or half a unit of the last digit the
manifest states, text exactly. A selected record that decodes nothing, or
any value missing or different, fails.

    check_manifest.py --cli build/src/kaifa-meter [--manifest M]
        [--framing hdlc,hdlc-gbt] [--security none] [FILE ...]

FILE names a record by its path relative to the manifest's folder; without
FILE, every record that passes the filters is checked. Prints one line per
record and "N passed, N failed"; exits 0 only when nothing failed and at
least one record was checked.
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MANIFEST = os.path.join(HERE, "..", "data", "captures", "beyond", "manifest.json")

# unit as the JSON shows it -> (manifest unit, factor)
UNIT_FACTORS = {
    "W": 1, "kW": 1e3, "var": 1, "VAr": 1, "kvar": 1e3, "kVAr": 1e3, "VA": 1, "kVA": 1e3,
    "Wh": 1e-3, "kWh": 1, "varh": 1e-3, "VArh": 1e-3, "kvarh": 1, "kVArh": 1,
    "VAh": 1e-3, "kVAh": 1, "V": 1, "A": 1, "Hz": 1, "m³": 1, "m3": 1, "%": 1, "": 1, "GJ": 1, "s": 1,
}


def manifest_key(obis_code):
    """'1-0:32.7.0.255' -> '32.7.0'; M-Bus channels '0-1:24.2.1.255' -> 'c1:24.2.1'."""
    try:
        ab, cdef = obis_code.split(":")
        a, b = (int(x) for x in ab.split("-"))
        c, d, e = cdef.split(".")[:3]
    except ValueError:
        return None
    key = "%s.%s.%s" % (c, d, e)
    if a == 0 and b > 0 and c in ("24", "96"):
        key = "c%d:%s" % (b, key)
    return key


def decode(cli, path, extra):
    r = subprocess.run([cli, "parse-file", path, "--compact"] + extra, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    values = {}
    readings = 0
    for line in r.stdout.decode("utf-8", "replace").splitlines():
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if not isinstance(o.get("data"), dict):
            continue
        readings += 1
        seen = set()  # within a reading the first value of a code is its own; later ones
        for item in o["data"].values():  # come from logs (P1 0-0:98.1.0 repeats 1-0:1.6.0)
            key = manifest_key(item.get("obis_code", ""))
            if key is None or key in seen:
                continue
            seen.add(key)
            v = item.get("raw", item.get("value"))  # P1 texts as the telegram spells them
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                unit = item.get("unit", "")
                if unit not in UNIT_FACTORS:
                    values[key] = ("unit", unit)
                    continue
                v = v * UNIT_FACTORS[unit]
            values[key] = v
    return readings, values, r.stderr.decode("utf-8", "replace").strip()


def stated_decimals(x):
    s = repr(float(x))
    if "e" in s or "E" in s:
        return 0
    return len(s.split(".")[1].rstrip("0")) if "." in s else 0


def same(want, got):
    if isinstance(want, str):
        return isinstance(got, str) and got == want
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        return False
    diff = abs(float(got) - float(want))
    return diff <= 1e-6 * abs(float(want)) or diff <= 0.5 * 10 ** -stated_decimals(want) * (1 + 1e-9)


def key_args(rec, use_keys):
    if not use_keys:
        return []
    args = []
    if rec.get("key"):
        args += ["--key", rec["key"]]
    if rec.get("auth_key"):
        args += ["--auth-key", rec["auth_key"]]
    return args


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", required=True)
    ap.add_argument("--manifest", default=DEFAULT_MANIFEST)
    ap.add_argument("--framing", help="comma-separated framings to check (hdlc, hdlc-gbt, mbus, raw-apdu, p1)")
    ap.add_argument("--security", help="comma-separated security values to check (none, 0x20, 0x21, 0x30)")
    ap.add_argument("--pass-keys", action="store_true",
                    help="give the record's keys to the CLI as --key/--auth-key")
    ap.add_argument("files", nargs="*", help="records to check, by path relative to the manifest")
    a = ap.parse_args()

    with open(a.manifest) as f:
        manifest = json.load(f)
    base = os.path.dirname(os.path.abspath(a.manifest))
    framings = set(a.framing.split(",")) if a.framing else None
    securities = set(a.security.split(",")) if a.security else None
    wanted = set(a.files)

    passed = failed = 0
    for rec in manifest["records"]:
        if wanted and rec["file"] not in wanted:
            continue
        if framings and rec["framing"] not in framings:
            continue
        if securities and rec["security"] not in securities:
            continue
        wanted.discard(rec["file"])
        readings, values, err = decode(a.cli, os.path.join(base, rec["file"]), key_args(rec, a.pass_keys))
        problems = []
        if readings == 0:
            problems.append("no reading decoded" + (" (%s)" % err.splitlines()[-1] if err else ""))
        else:
            for key, want in rec["expected"].items():
                if key not in values:
                    problems.append("%s missing (expected %r)" % (key, want))
                elif not same(want, values[key]):
                    problems.append("%s = %r, expected %r" % (key, values[key], want))
        if problems:
            failed += 1
            print("FAIL %s: %s" % (rec["file"], "; ".join(problems)))
        else:
            passed += 1
            print("ok   %s (%d values)" % (rec["file"], len(rec["expected"])))
    for name in sorted(wanted):
        failed += 1
        print("FAIL %s: not in the manifest" % name)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())

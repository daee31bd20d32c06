#!/usr/bin/env python3
"""Every capture under tests/data/captures decodes what it can without a key.

The captures README (tests/data/captures/README.md, a copy of the shared one)
lists each file with its framing, whether it is encrypted, the list shapes
of its frames and its count of valid frames. From that table, for every file:
- the CLI exits 0 on it, whatever it holds (transport detected automatically);
- a plaintext HDLC capture gives at least its count of valid frames as good
  frames (fewer only where the table notes that every FCS is wrong);
- a plaintext capture whose list shapes are known (HDLC frames, raw APDUs,
  the hex file of APDUs) gives readings: one per raw APDU, and for HDLC at
  least one per file;
- a plaintext DSMR/P1 telegram gives a reading;
- an encrypted capture gives no reading without a key, and says so in its
  counters (encrypted) where its frames are whole.
Prints one line per check and `N passed, N failed`.
"""
import argparse
import os
import re
import subprocess
import sys

results = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    results["passed" if ok else "failed"] += 1
    print("%s %s%s" % ("ok  " if ok else "FAIL", name, "" if ok else ": " + detail))


def stats_of(stderr):
    out = {}
    for line in stderr.decode(errors="replace").splitlines():
        m = re.match(r"\s*([a-z_ ]+):\s+(\d+)", line)
        if m:
            out[m.group(1).strip()] = int(m.group(2))
    return out


def crc16_arc(data):
    c = 0
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
    return c


def rows(readme):
    for line in open(readme, encoding="utf-8"):
        if not line.startswith("| ") or line.startswith("| file") or line.startswith("|---"):
            continue
        c = [x.strip() for x in line.strip().strip("|").split("|")]
        if len(c) < 10 or c[0].endswith(".jsonl.gz"):
            continue
        yield {"file": c[0], "framing": c[5], "encrypted": c[6].startswith("yes"),
               "shapes": c[7], "valid": c[8].split("/")[0], "notes": c[9]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--captures", required=True)
    a = ap.parse_args()
    for r in rows(os.path.join(a.captures, "README.md")):
        path = os.path.join(a.captures, r["file"])
        if not os.path.exists(path):
            check("%s: present in tests/data" % r["file"], False, "missing")
            continue
        p = subprocess.run([a.cli, "parse-file", path, "--stats", "--compact"], capture_output=True, timeout=120)
        st = stats_of(p.stderr)
        name = r["file"]
        check("%s: exit 0" % name, p.returncode == 0, "exit %d: %s" % (p.returncode, p.stderr[-300:]))
        readings = st.get("decoded frames", 0)
        framing = r["framing"]
        if r["encrypted"]:
            check("%s: encrypted, no key: no reading" % name, readings == 0, repr(st))
            continue
        if framing == "HDLC":
            # "valid" counts frames whose HCS checks where no frame of the
            # file has a good FCS (damaged single frames, decrypted logs)
            valid = int(r["valid"])
            good = st.get("good frames", 0)
            check("%s: %d frames found" % (name, valid), good + st.get("checksum failures", 0) >= valid, repr(st))
            if good and re.search(r"\d+ items", r["shapes"]):
                check("%s: readings" % name, readings >= 1, repr(st))
        elif framing.startswith("raw DLMS (LLC") and "internal 7E" in r["notes"]:
            # two frames' contents glued with a flag between them by the
            # capturing tool: not an APDU, so never taken for one
            check("%s: a glued payload gives no reading" % name, readings == 0, repr(st))
        elif framing.startswith("raw DLMS (LLC"):
            check("%s: one reading from the APDU" % name, readings == 1, repr(st))
        elif framing.startswith("raw DLMS, one APDU per line"):
            valid = int(r["valid"])
            check("%s: %d readings, one per line" % (name, valid), readings == valid, repr(st))
        elif framing == "DSMR P1 ASCII":
            data = open(path, "rb").read()
            end = data.find(b"!")
            crc = re.match(rb"!([0-9A-Fa-f]{3,4})", data[end:]) if end >= 0 else None
            if end < 0:
                check("%s: a telegram without its end is truncated" % name,
                      readings == 0 and st.get("rejected truncated", 0) == 1, repr(st))
            elif crc and int(crc.group(1), 16) != crc16_arc(data[data.find(b"/"):end + 1]):
                check("%s: a telegram whose CRC fails is counted, not used" % name,
                      readings == 0 and st.get("rejected checksum", 0) == 1, repr(st))
            else:
                check("%s: a reading from the telegram" % name, readings >= 1, repr(st))
    print("%d passed, %d failed" % (results["passed"], results["failed"]))
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())

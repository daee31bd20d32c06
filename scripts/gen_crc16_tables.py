#!/usr/bin/env python3
"""Writes the slicing-by-8 tables of the reflected CRC-16s the core uses.

    scripts/gen_crc16_tables.py x25 > src/core/crc16_table.h
    scripts/gen_crc16_tables.py arc > src/core/crc16_arc_table.h

Table 0 is the classic byte table; table k advances a byte through k more
zero bytes, so eight bytes are folded in one step (crc16.c, p1.c).
"""
import sys

CRCS = {
    # name: (C array name, title, reflected polynomial)
    "x25": ("crc16_x25_table", "CRC-16/X.25 (reflected poly 0x8408)", 0x8408),
    "arc": ("crc16_arc_table", "CRC-16/ARC (reflected poly 0xA001)", 0xA001),
}


def tables(poly):
    t0 = []
    for b in range(256):
        c = b
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        t0.append(c)
    out = [t0]
    for _ in range(7):
        prev = out[-1]
        out.append([(prev[b] >> 8) ^ t0[prev[b] & 0xFF] for b in range(256)])
    return out


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in CRCS:
        sys.exit("usage: gen_crc16_tables.py x25|arc")
    name, title, poly = CRCS[sys.argv[1]]
    print(f"/* Generated: {title} slicing-by-8 tables. */")
    print(f"static const uint16_t {name}[8][256] = {{")
    for t in tables(poly):
        print("        {")
        for i in range(0, 256, 8):
            print("                " + ", ".join(f"0x{v:04X}" for v in t[i:i + 8]) + ",")
        print("        },")
    print("};")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Seeds for fuzz_mbus, fuzz_raw and fuzz_axdr (tests/fuzz/corpus_mbus,
corpus_raw, corpus_axdr) from the captures in tests/data: deterministic,
python3 standard library only. Byte 0 of an M-Bus or raw seed steers
(bit 7: ignore checksums; bits 0..6: the push chunk size), see
fuzz_transport.c; A-XDR seeds are APDUs as they are."""
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
data = os.path.join(here, "..", "data")


def write(folder, name, payload):
    path = os.path.join(here, folder)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, name), "wb") as f:
        f.write(payload)


def read(rel):
    with open(os.path.join(data, rel), "rb") as f:
        return f.read()


def main():
    mbus = ["captures/beyond/kaifa/ams_gh905-1_ma309_pl_mbus2_enc.bin",
            "captures/beyond/kaifa/tinetz_example_ma309_at_mbus2_enc21.bin"]
    for i, rel in enumerate(mbus):
        b = read(rel)[:6000]
        name = os.path.basename(rel).rsplit(".", 1)[0]
        write("corpus_mbus", name, bytes([0x00]) + b)
        write("corpus_mbus", name + "-chunk7", bytes([0x07]) + b)
        write("corpus_mbus", name + "-ignore", bytes([0x80 | 0x41]) + b)
        # a telegram cut in two and one with its checksum byte changed
        write("corpus_mbus", name + "-cut", bytes([0x03]) + b[: len(b) // 3])
        bad = bytearray(b)
        if len(bad) > 40:
            bad[40] ^= 0x55
        write("corpus_mbus", name + "-bad", bytes([0x05]) + bytes(bad))
    lists = sorted(f for f in os.listdir(os.path.join(data, "lists")) if f.endswith(".apdu"))
    for i, f in enumerate(lists):
        b = read(os.path.join("lists", f))
        name = f.rsplit(".", 1)[0]
        write("corpus_axdr", name, b)
        write("corpus_raw", name, bytes([i % 64]) + b + b)  # two APDUs back to back
    gbt = "captures/beyond/landis-gyr/scs_lg_e450_unencrypted_valid_data.bin"
    if os.path.exists(os.path.join(data, gbt)):
        write("corpus_raw", "e450-hdlc-bytes-as-raw", bytes([0x10]) + read(gbt)[:4000])
    return 0


if __name__ == "__main__":
    sys.exit(main())

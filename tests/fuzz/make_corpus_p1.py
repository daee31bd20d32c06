#!/usr/bin/env python3
"""Regenerates tests/fuzz/corpus_p1/ (the seeds of fuzz_p1) from the P1
telegrams in tests/data/captures. Each seed is one steering byte (bit 7:
ignore the CRC; bits 0..6: chunk size, see fuzz_p1.c) and the bytes.
Deterministic; python3 standard library only."""
import glob
import os

here = os.path.dirname(os.path.abspath(__file__))
captures = os.path.join(here, "..", "data", "captures")
out = os.path.join(here, "corpus_p1")


def seed(name, steer, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([steer]) + data)


def main():
    os.makedirs(out, exist_ok=True)
    for f in glob.glob(os.path.join(out, "*")):
        os.remove(f)
    texts = []
    for i, path in enumerate(sorted(glob.glob(os.path.join(captures, "**", "*.txt"), recursive=True))):
        data = open(path, "rb").read()
        name = os.path.relpath(path, captures).replace(os.sep, "-")[:-4]
        seed(name, (i * 37) & 0xFF, data)
        texts.append(data)
    glued = b"".join(texts[:6])
    seed("built-glued", 1, glued)
    seed("built-garbage-between", 0x45, b"\x00\xff noise!12\r\n".join(texts[:3]))
    seed("built-cut", 7, texts[0][:300] + texts[1] + texts[2][:500])
    seed("built-cr-only", 0x90, texts[0].replace(b"\r\n", b"\r"))
    seed("built-7e1-as-8n1", 3, bytes(b | 0x80 if bin(b).count("1") % 2 else b for b in texts[1]))
    seed("built-too-long", 0x7F, b"/XXX5 long\r\n" + b"1-0:1.8.0(1*kWh)\r\n" * 500 + b"!\r\n")


if __name__ == "__main__":
    main()

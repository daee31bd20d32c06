#!/usr/bin/env python3
"""Regenerates the seed corpus of fuzz_decoder in tests/fuzz/corpus/.

Each seed is one steering byte (see fuzz_decoder.c: bit 7 ignore checksums,
bits 0..6 push chunk size) followed by meter bytes cut from the real captures
in tests/data/captures: one frame of each list shape per meter family, the
pilot-encrypted frames, a stretch of the noisy Aidon capture, raw LLC/APDU
payloads, the amshan HDLC edge frames, and three built here: a message split
into two HDLC segments, frames with garbage and a truncated frame between
them, a frame with a wrong FCS for the ignore-checksum path, a list of 70
values (more than a reading holds) and segments longer than the reassembly
buffer.

Usage: make_corpus.py [CAPTURES_DIR [OUT_DIR]]  (python3 standard library only)
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CAPTURES = os.path.join(HERE, "..", "data", "captures")


def crc16_x25(data):
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc ^ 0xFFFF


def frames(data):
    """Yields (length, bytes between the flags) of every frame whose FCS checks."""
    i = 0
    while i < len(data) - 3:
        if data[i] == 0x7E and data[i + 1] & 0xF0 == 0xA0:
            n = (data[i + 1] & 7) << 8 | data[i + 2]
            fr = data[i + 1:i + 1 + n]
            if len(fr) == n >= 7 and crc16_x25(fr[:-2]) == fr[-2] | fr[-1] << 8:
                yield n, fr
                i += n
                continue
        i += 1


def first_of_each_length(path, limit=4):
    seen = {}
    with open(path, "rb") as f:
        for n, fr in frames(f.read()):
            if n not in seen and len(seen) < limit:
                seen[n] = fr
    return seen


def hdlc_frame(info, segmented=False, dst=b"\x01", src=b"\x03", control=0x13):
    """Builds a frame format type 3 frame (flags included) around info."""
    hdr_len = 2 + len(dst) + len(src) + 1
    n = hdr_len + 2 + len(info) + 2
    fmt = 0xA000 | (0x0800 if segmented else 0) | n
    head = bytes([fmt >> 8, fmt & 0xFF]) + dst + src + bytes([control])
    hcs = crc16_x25(head)
    body = head + bytes([hcs & 0xFF, hcs >> 8]) + info
    fcs = crc16_x25(body)
    return b"\x7e" + body + bytes([fcs & 0xFF, fcs >> 8]) + b"\x7e"


def info_of(frame):
    """Information field of a frame given without flags (one-byte addresses
    are not assumed: the address ends at the first byte with bit 0 set)."""
    i = 2
    while not frame[i] & 1:
        i += 1
    i += 1
    while not frame[i] & 1:
        i += 1
    return frame[i + 4:-2]  # i is the last source address byte; then control, HCS


def axdr_skip(b, i):
    """Index just past the A-XDR data element at b[i] (types found in the captures)."""
    fixed = {0x00: 0, 0x03: 1, 0x05: 4, 0x06: 4, 0x0F: 1, 0x10: 2, 0x11: 1, 0x12: 2,
             0x14: 8, 0x15: 8, 0x16: 1, 0x17: 4, 0x18: 8, 0x19: 12}
    tag = b[i]
    if tag in fixed:
        return i + 1 + fixed[tag]
    n = b[i + 1]
    if tag in (0x01, 0x02):
        i += 2
        for _ in range(n):
            i = axdr_skip(b, i)
        return i
    if tag in (0x09, 0x0A, 0x0C):
        return i + 2 + n
    raise ValueError("tag %#x" % tag)


def many_values(llc, count):
    """The Swedish Aidon list (LLC + APDU) grown to count elements by repeating
    its register structures: more values than a reading holds."""
    head = llc.index(b"\x01\x1b")  # array of 27 after the notification header
    items, i = [], head + 2
    while i < len(llc):
        j = axdr_skip(llc, i)
        items.append(llc[i:j])
        i = j
    body = items[:1] + [items[1 + k % (len(items) - 1)] for k in range(count - 1)]
    return llc[:head] + bytes([0x01, count]) + b"".join(body)


def main():
    cap = sys.argv[1] if len(sys.argv) > 1 else CAPTURES
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "corpus")
    os.makedirs(out, exist_ok=True)
    seeds = {}

    def add(name, steer, payload):
        seeds[name] = bytes([steer]) + payload

    picks = [
        ("kfm-1ph", "smidsrod/KFM_001/MA304H3E-1-ok.bin", 0x00),
        ("kfm-3ph", "smidsrod/KFM_001/MA304T4-3-ok.bin", 0x01),
        ("aidon", "smidsrod/AIDON_V0001/6525-3-FC722-ok.bin", 0x07),
        ("aidon-6515", "smidsrod/AIDON_V0001/6515-1-ok.bin", 0x40),
        ("kamstrup", "smidsrod/Kamstrup_V0001/6841121BN243101040-1-ok-not-norwegian.bin", 0x05),
        ("kfm-encrypted", "nordbo/han-data-crypted.bin", 0x00),
    ]
    for name, rel, steer in picks:
        for n, fr in sorted(first_of_each_length(os.path.join(cap, rel)).items()):
            add("%s-%d" % (name, n), steer, b"\x7e" + fr + b"\x7e")

    with open(os.path.join(cap, "smidsrod/AIDON_V0001/"
                           "6525-2-TSS721-frame-checksum-failures-on-large-frames.bin"), "rb") as f:
        add("aidon-noisy-stream", 0x41, f.read()[:6000])

    for rel in ("kaifa-no-list-3.llc.bin", "aidon-se-list.llc.bin", "kamstrup-se-list-real-sample.llc.bin"):
        with open(os.path.join(cap, "amshan", rel), "rb") as f:
            add("llc-" + rel.split(".")[0], 0x00, f.read())
    for rel in sorted(os.listdir(os.path.join(cap, "amshan"))):
        if rel.startswith("hdlc-") and rel.endswith(".bin"):
            with open(os.path.join(cap, "amshan", rel), "rb") as f:
                add("amshan-" + rel[:-4], 0x02, f.read())

    # Built seeds, from a real Aidon list and a real Kaifa list 2 frame.
    aidon = first_of_each_length(os.path.join(cap, "smidsrod/AIDON_V0001/6525-3-FC722-ok.bin"))
    big = aidon[max(aidon)]
    info = info_of(big)
    half = len(info) // 2
    add("built-two-segments", 0x03,
        hdlc_frame(info[:half], segmented=True, dst=b"\x41", src=b"\x08\x83")
        + hdlc_frame(info[half:], dst=b"\x41", src=b"\x08\x83"))
    kfm = first_of_each_length(os.path.join(cap, "smidsrod/KFM_001/MA304T4-3-ok.bin"))
    list2 = b"\x7e" + kfm[120] + b"\x7e"
    add("built-garbage-truncated", 0x0D,
        b"\x00\xff\x7e\x7e" + list2 + b"garbage\x7e\xa0" + list2[:60] + list2 + list2[:-9])
    bad_fcs = bytearray(list2)
    bad_fcs[-2] ^= 0x55
    add("built-bad-fcs-ignored", 0x80, bytes(bad_fcs))

    with open(os.path.join(cap, "amshan", "aidon-se-list.llc.bin"), "rb") as f:
        add("built-70-values", 0x00, many_values(f.read(), 70))
    # Segments that add up to more than the decoder reassembles (8192 bytes).
    # The first carries the LLC header; continuations must not (LLC opens a new APDU).
    first, cont = (info * 6)[:1900], (info * 6)[100:2000]
    add("built-segments-overflow", 0x7F,
        hdlc_frame(first, segmented=True)
        + b"".join(hdlc_frame(cont, segmented=True) for _ in range(4)) + hdlc_frame(cont))

    for name, data in sorted(seeds.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print("make_corpus: %d seeds in %s" % (len(seeds), out))


if __name__ == "__main__":
    main()

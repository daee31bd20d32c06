#!/usr/bin/env python3
"""Makes the plaintext APDUs of tests/data/lists/ from the shared captures.

Run once by hand (not by the tests) from the repository root:
    python3 tests/data/lists/extract.py /work/shared/captures
It takes each capture, strips the framing (HDLC frames with a good FCS,
M-Bus long frames with a good checksum), joins HDLC segments, M-Bus
telegram parts and general-block-transfer blocks (a transfer restarts at
block 1), drops the LLC header and, for the beyond/ records with a
published key, decrypts the general-glo-ciphering APDU (AES-128-GCM as
AES-CTR from counter 2; the tag is not checked here). The result is one
data-notification per file: <name>.apdu, starting 0F. The README next to
this script lists where each came from.
"""
import json
import os
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def crc16(data):
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc ^ 0xFFFF


def hdlc_infos(buf):
    i, out = 0, []
    while i < len(buf) - 2:
        if buf[i] == 0x7E and (buf[i + 1] & 0xF0) == 0xA0:
            n = ((buf[i + 1] & 7) << 8) | buf[i + 2]
            fr = buf[i + 1:i + 1 + n]
            if len(fr) == n and n >= 9 and crc16(fr[:-2]) == (fr[-2] | fr[-1] << 8):
                j = 2
                while not fr[j] & 1:
                    j += 1
                j += 1
                while not fr[j] & 1:
                    j += 1
                j += 2  # last address byte, control
                out.append((bool(fr[0] & 0x08), fr[j + 2:-2]))
                i += n + 1
                continue
        i += 1
    return out


def mbus_parts(buf):
    i, out = 0, []
    while i + 6 <= len(buf):
        if buf[i] == 0x68 and buf[i + 3] == 0x68 and buf[i + 1] == buf[i + 2]:
            n = buf[i + 1]
            body = buf[i + 4:i + 4 + n]
            if len(body) == n and i + 5 + n < len(buf) and sum(body) & 0xFF == buf[i + 4 + n] \
                    and buf[i + 5 + n] == 0x16:
                out.append(body[5:])  # after C A CI STSAP DTSAP
                i += n + 6
                continue
        i += 1
    return out


def rd_len(a, p):
    n = a[p]
    p += 1
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(a[p:p + k], "big")
        p += k
    return n, p


def join_gbt(apdus):
    out, cur = [], b""
    for a in apdus:
        if a[:1] != b"\xe0":
            out.append(a)
            continue
        ctl, block = a[1], a[2] << 8 | a[3]
        n, p = rd_len(a, 6)
        if block == 1:
            cur = b""
        cur += a[p:p + n]
        if ctl & 0x80:
            out.append(cur)
            cur = b""
    return out


def apdus_of(buf):
    infos = hdlc_infos(buf)
    if infos:
        joined, cur = [], b""
        for seg, info in infos:
            if not cur and info[:3] == b"\xe6\xe7\x00":
                info = info[3:]
            cur += info
            if not seg:
                joined.append(cur)
                cur = b""
        return join_gbt(joined)
    parts = mbus_parts(buf)
    if parts:
        return [b"".join(parts)]
    return [buf[3:] if buf[:3] == b"\xe6\xe7\x00" else buf]


def decrypt(apdu, key):
    p = 10
    n, p = rd_len(apdu, p)
    sc, fc = apdu[p], apdu[p + 1:p + 5]
    body = apdu[p + 5:p + n]
    if sc & 0x10:
        body = body[:-12]
    iv = apdu[2:10] + fc + b"\x00\x00\x00\x02"
    d = Cipher(algorithms.AES(bytes.fromhex(key)), modes.CTR(iv)).decryptor()
    return d.update(body) + d.finalize()


AMSREADER = [
    "iskraemeco/gh615-1", "iskraemeco/gh615-2", "iskraemeco/gh615-8", "iskraemeco/gh869-1",
    "iskraemeco/gh869-3", "iskraemeco/gh869-6", "iskraemeco/gh869-7", "iskraemeco/gh869-8",
    "iskraemeco/gh956-1", "iskraemeco/gh956-2", "iskraemeco/gh1072-3", "iskraemeco/gh1072-4",
    "landis-gyr/gh740", "landis-gyr/gh934-1", "sagemcom/gh867-2", "kaifa/gh539-4",
    "kamstrup/gh216-1", "kamstrup/gh350-2", "kamstrup/gh517-2",
]


def plaintext_in_glo(apdu):
    """A general-glo-ciphering APDU whose content was logged decrypted (the
    security header kept, the ciphertext replaced by the APDU)."""
    n, p = rd_len(apdu, 10)
    return apdu[p + 5:]


def main():
    src = sys.argv[1]
    dst = os.path.dirname(os.path.abspath(__file__))
    # Kaifa MA309 of EVN (Austria), amsreader gh247-1: an M-Bus telegram as the
    # firmware logged it once joined (68 00 00 68, C A CI, TSAPs, ..., CS 16)
    # with the decrypted APDU in place of the ciphertext.
    with open(os.path.join(src, "amsreader", "kaifa", "gh247-1.bin"), "rb") as f:
        telegram = f.read()
    apdu = plaintext_in_glo(telegram[9:-2])
    assert apdu[0] == 0x0F
    with open(os.path.join(dst, "amsreader-kaifa-gh247-1.apdu"), "wb") as f:
        f.write(apdu)
    for name in AMSREADER:
        with open(os.path.join(src, "amsreader", name + ".bin"), "rb") as f:
            apdu = apdus_of(f.read())[-1]
        assert apdu[0] == 0x0F, name
        with open(os.path.join(dst, "amsreader-" + name.replace("/", "-") + ".apdu"), "wb") as f:
            f.write(apdu)
    beyond = os.path.join(src, "beyond")
    with open(os.path.join(beyond, "manifest.json")) as f:
        manifest = json.load(f)
    for rec in manifest["records"]:
        if rec["framing"] not in ("hdlc", "hdlc-gbt", "mbus"):
            continue
        with open(os.path.join(beyond, rec["file"]), "rb") as f:
            apdu = apdus_of(f.read())[-1]
        if rec["security"] != "none":
            apdu = decrypt(apdu, rec["key"])
        assert apdu[0] == 0x0F, rec["file"]
        base = os.path.splitext(rec["file"])[0].replace("/", "-")
        with open(os.path.join(dst, "beyond-" + base + ".apdu"), "wb") as f:
            f.write(apdu)


if __name__ == "__main__":
    main()

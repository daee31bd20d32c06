#!/usr/bin/env python3
"""Encrypted meters through the real kaifa-meter CLI.

1. Every record of tests/data/captures/beyond/manifest.json that has a key
   is decoded with --key (and --auth-key when the record has one): every
   APDU is decrypted (authenticated when an AK is given and the frame has a
   tag), and the values are the listed ones.
   Then, per record: a wrong key gives one "cannot decrypt"/"fail
   authentication" line, a counter and no value; a wrong AK fails the tag;
   no key says how to give one; the capture cut short gives no value.
2. The 2017 Norwegian pilot (AES-128-ECB): the two encrypted nordbo
   captures decode completely with their key. Two nordbo files are
   decrypted logs of the pilot (they carry the FCS of the ciphertext frame);
   encrypting them again with python3-cryptography rebuilds the wire bytes,
   which is proved frame by frame by the recorded FCS. Those rebuilt
   encrypted captures must decode with the key to exactly the values of
   their plaintext twins.
3. No key ever shows: every stdout and stderr of the runs above is searched
   for every key (upper and lower case, with and without spaces), and the
   key given with --key is gone from /proc/PID/cmdline of a running CLI.

Prints one line per check, exits 1 if any failed.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

try:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
except ImportError:  # Debian: python3-cryptography
    Cipher = None

FAILED = []
PASSED = []
OUTPUTS = []  # every stdout/stderr, for the key search
KEYS = set()


def check(name, ok, detail=""):
    print("%s %s%s" % ("ok  " if ok else "FAIL", name, (": " + detail) if detail and not ok else ""))
    (PASSED if ok else FAILED).append(name)
    return ok


def run(cli, *args, stdin=None):
    r = subprocess.run([cli, *args], input=stdin, capture_output=True, timeout=300, check=False)
    OUTPUTS.append(r.stdout)
    OUTPUTS.append(r.stderr)
    return r


def stats_of(stderr):
    out = {}
    for line in stderr.decode(errors="replace").splitlines():
        m = re.match(r"([a-z0-9 _]+): (\d+)", line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


def objects(stdout):
    return [json.loads(x) for x in stdout.decode().splitlines() if x.strip()]


def key_args(key, auth_key):
    a = ["--key", key]
    if auth_key:
        a += ["--auth-key", auth_key]
    return a


def other_key(key):
    """The same key with its last digit changed."""
    last = "0" if key[-1] != "0" else "1"
    return key[:-1] + last


# ---- values -----------------------------------------------------------------

UNIT_SCALE = {"Wh": ("kWh", 1e-3), "VArh": ("kvarh", 1e-3), "varh": ("kvarh", 1e-3), "kWh": ("kWh", 1),
              "kvarh": ("kvarh", 1), "W": ("W", 1), "kW": ("W", 1e3), "VAr": ("var", 1), "var": ("var", 1),
              "V": ("V", 1), "A": ("A", 1), "Hz": ("Hz", 1)}


def values_by_cde(obj):
    """OBIS C.D.E -> value in the manifest's base units, from a JSON reading."""
    out = {}
    for item in obj.get("data", {}).values():
        code = item.get("obis_code", "")
        m = re.match(r"(\d+)-(\d+):(\d+)\.(\d+)\.(\d+)", code)
        if not m:
            continue
        cde = "%s.%s.%s" % (m.group(3), m.group(4), m.group(5))
        v = item.get("raw", item.get("value"))  # P1 texts as the telegram spells them
        if isinstance(v, (int, float)):
            v = v * UNIT_SCALE.get(item.get("unit", ""), ("", 1))[1]
        out.setdefault(cde, v)
    return out


def close_enough(got, want):
    if isinstance(want, str) or isinstance(got, str):
        return str(got) == str(want)
    if got is None:
        return False
    s = repr(float(want))
    decimals = len(s.split(".")[1]) if "." in s and not s.endswith(".0") else 0
    return abs(got - want) <= max(1e-6 * abs(want), 0.5 * 10 ** -decimals)


def compare_values(name, obj, expected):
    got = values_by_cde(obj)
    bad = []
    for cde, want in expected.items():
        if cde.startswith("c"):  # M-Bus channel lines of P1 telegrams
            continue
        if cde not in got or not close_enough(got[cde], want):
            bad.append("%s: got %r, want %r" % (cde, got.get(cde), want))
    return check("%s: the listed values" % name, not bad, "; ".join(bad[:6]))


# ---- 1. the manifest ---------------------------------------------------------

def check_record(cli, base, rec):
    name = rec["file"]
    path = os.path.join(base, rec["file"])
    key, ak = rec["key"], rec["auth_key"]
    KEYS.update(k for k in (key, ak) if k)
    sec = int(rec["security"], 16)
    tagged = bool(sec & 0x10)
    frames = rec["frames"]

    r = run(cli, "parse-file", path, "--compact", "--stats", *key_args(key, ak))
    st = stats_of(r.stderr)
    objs = objects(r.stdout)
    check("%s: exit 0, %d APDU(s) decrypted" % (name, frames),
          r.returncode == 0 and st.get("decrypted frames") == frames, repr(st))
    check("%s: authenticated %s" % (name, "by its tag" if ak and tagged else "false (no AK or no tag)"),
          st.get("authenticated frames") == (frames if ak and tagged else 0), repr(st))
    if len(objs) != frames:
        why = [k for k in st if k.startswith("rejected ")]
        check("%s: %d reading(s)" % (name, frames), False, "%d, %s" % (len(objs), why))
    else:
        sec_obj = objs[0].get("header", {}).get("security", {})
        check("%s: header.security names the system title, counter and authentication" % name,
              len(sec_obj.get("system_title", "")) == 16 and "invocation_counter" in sec_obj
              and sec_obj.get("authenticated") == bool(ak and tagged)
              and int(sec_obj.get("security_byte", "0"), 16) == sec, repr(sec_obj))
        compare_values(name, objs[-1], rec["expected"])

    # a wrong key: one line, a counter, no value
    r = run(cli, "parse-file", path, "--compact", "--stats", *key_args(other_key(key), ak))
    st = stats_of(r.stderr)
    text = r.stderr.decode()
    want = "fail authentication" if ak and tagged else "cannot decrypt"
    check("%s: a wrong key gives no value and says '%s'" % (name, want),
          r.returncode == 0 and r.stdout == b"" and text.count(want) == 1
          and st.get("authentication failures" if ak and tagged else "decrypt failures") == frames,
          "%r %r" % (text[:300], st))
    # a wrong authentication key: the tag fails
    if ak and tagged:
        r = run(cli, "parse-file", path, "--compact", "--stats", *key_args(key, other_key(ak)))
        st = stats_of(r.stderr)
        check("%s: a wrong AK fails the tag, no value" % name,
              r.stdout == b"" and st.get("authentication failures") == frames
              and "fail authentication" in r.stderr.decode(), repr(st))
    # no key: says which meter and how to give one
    r = run(cli, "parse-file", path, "--compact", "--stats")
    st = stats_of(r.stderr)
    check("%s: no key: counted, the message says --key" % name,
          r.returncode == 0 and r.stdout == b"" and st.get("no key") == frames
          and "--key" in r.stderr.decode() and "system title" in r.stderr.decode(), repr(st))
    # cut short: no value from what is left
    with open(path, "rb") as f:
        data = f.read()
    r = run(cli, "parse-file", "-", "--compact", "--stats", *key_args(key, ak), stdin=data[:len(data) - 20])
    check("%s: truncated capture: no value" % name, r.returncode == 0 and r.stdout == b"", r.stdout[:200])


def check_manifest(cli, base):
    with open(os.path.join(base, "manifest.json")) as f:
        manifest = json.load(f)
    recs = [r for r in manifest["records"] if r.get("key")]
    check("manifest: encrypted records found", len(recs) >= 10, str(len(recs)))
    for rec in recs:
        check_record(cli, base, rec)
    for v in manifest.get("gcm_reference", []):
        KEYS.update(k for k in (v.get("ek"), v.get("ak")) if k)


# ---- 2. the 2017 pilot ----------------------------------------------------------

PILOT_KEY = "00112233445566778899AABBCCDDEEFF"
PILOT_ENCRYPTED = {"han-data-MA105H2E-C00112233445566778899AABBCCDDEEFF-2017-01-25_0800-1200.bin": 6733,
                   "han-data-crypted.bin": 8}
# decrypted logs (FCS of the ciphertext frame) and their key
PILOT_TWINS = {"han-data-MA105H2E-2017-01-26_0800-1100.bin": (PILOT_KEY, 4197),
               "han-data-MA304H4-C00001111222233334444555566667777-2017-02-02_0828-0929.bin":
               ("00001111222233334444555566667777", 1757)}


def crc_x25(data):
    c = 0xFFFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ 0x8408 if c & 1 else c >> 1
    return c ^ 0xFFFF


def hdlc_frames(data):
    """(frame bytes between the flags) of a capture, by the length field."""
    out, i = [], 0
    while i + 3 <= len(data):
        if data[i] == 0x7E and data[i + 1] & 0xF0 == 0xA0:
            n = (data[i + 1] & 7) << 8 | data[i + 2]
            if i + 1 + n < len(data) and data[i + 1 + n] == 0x7E:
                out.append(data[i + 1:i + 1 + n])
                i += n + 1
                continue
        i += 1
    return out


def reencrypt(frames, key):
    """Encrypts the APDU of each frame (after E6 E7 00, 8-byte header) with
    AES-128-ECB; keeps the frames whose recorded FCS then checks."""
    out = []
    for fr in frames:
        head, apdu, fcs = fr[:11], fr[11:-2], fr[-2:]
        if len(apdu) % 16 or fr[8:11] != b"\xe6\xe7\x00":
            continue
        enc = Cipher(algorithms.AES(bytes.fromhex(key)), modes.ECB()).encryptor()
        ct = enc.update(apdu) + enc.finalize()
        if crc_x25(head + ct) == (fcs[0] | fcs[1] << 8):
            out.append(head + ct + fcs)
    return out


def data_values(obj):
    return {k: v.get("value") for k, v in obj.get("data", {}).items()}


def check_pilot(cli, captures):
    d = os.path.join(captures, "nordbo")
    KEYS.add(PILOT_KEY)
    for name, frames in PILOT_ENCRYPTED.items():
        path = os.path.join(d, name)
        r = run(cli, "parse-file", path, "--compact", "--stats", "--key", PILOT_KEY)
        st = stats_of(r.stderr)
        objs = objects(r.stdout)
        ids = {o["data"]["meter_id"]["value"] for o in objs if "meter_id" in o["data"]}
        check("pilot %s: all %d frames decrypted and decoded" % (name, frames),
              r.returncode == 0 and st.get("decoded frames") == frames and len(objs) == frames
              and st.get("decrypted frames") == frames and ids == {"6970631400000035"}, "%r %r" % (st, ids))
        check("pilot %s: header.security says the pilot's ECB" % name,
              all(o["header"].get("security", {}).get("cipher") == "aes-128-ecb-pilot-2017" for o in objs))
        r = run(cli, "parse-file", path, "--compact", "--stats", "--key", other_key(PILOT_KEY))
        st = stats_of(r.stderr)
        check("pilot %s: a wrong key: no value, one message" % name,
              r.stdout == b"" and st.get("decoded frames") == 0
              and st.get("decrypt failures", 0) + st.get("rejected cipher_header", 0) == frames
              and r.stderr.decode().count("cannot decrypt pilot-encrypted frames: wrong key?") == 1, repr(st))
    if Cipher is None:
        check("python3-cryptography is installed (needed to rebuild the pilot's twins)", False)
        return
    for name, (key, want) in PILOT_TWINS.items():
        KEYS.add(key)
        path = os.path.join(d, name)
        with open(path, "rb") as f:
            frames = hdlc_frames(f.read())
        enc = reencrypt(frames, key)
        check("twin %s: re-encrypting gives the recorded FCS on %d frames" % (name, want), len(enc) == want,
              "%d of %d" % (len(enc), len(frames)))
        with tempfile.NamedTemporaryFile(suffix=".bin") as t:
            t.write(b"".join(b"\x7e" + fr + b"\x7e" for fr in enc))
            t.flush()
            r_enc = run(cli, "parse-file", t.name, "--compact", "--stats", "--key", key)
        plain = run(cli, "parse-file", path, "--compact", "--ignore-checksum")
        a, b = objects(r_enc.stdout), objects(plain.stdout)
        st = stats_of(r_enc.stderr)
        same = len(a) == want and len(b) == want and all(data_values(x) == data_values(y) for x, y in zip(a, b))
        check("twin %s: the encrypted frames decode to the plaintext's values (%d readings)" % (name, want),
              same and st.get("good frames") == want and st.get("decrypted frames") == want,
              "%d vs %d readings, %r" % (len(a), len(b), st))
        # the plaintext log given the key: left alone, not decrypted again
        r = run(cli, "parse-file", path, "--compact", "--stats", "--ignore-checksum", "--key", key)
        check("twin %s: the plaintext log with a key given still decodes as plaintext" % name,
              len(objects(r.stdout)) == want and stats_of(r.stderr).get("decrypted frames") == 0,
              repr(stats_of(r.stderr)))


# ---- 3. keys never show -----------------------------------------------------------

def check_key_file_and_cmdline(cli, base):
    path = os.path.join(base, "landis-gyr", "ams_gh501-1_e450_at_hdlc_enc30.bin")
    ek, ak = "34743677397A24432646294A404E6352", "C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF"
    with tempfile.TemporaryDirectory() as tmp:
        kf = os.path.join(tmp, "key")
        with open(kf, "w") as f:
            f.write("# from the grid company\nEK = %s\nAK = %s\n" % (" ".join(ek[i:i + 2] for i in range(0, 32, 2)),
                                                                   ak.lower()))
        r = run(cli, "parse-file", path, "--stats", "--compact", "--key-file", kf)
        check("--key-file with EK=/AK= lines (spaces, lower case)",
              stats_of(r.stderr).get("authenticated frames") == 1, r.stderr.decode()[-300:])
        with open(kf, "w") as f:
            f.write("EK=%s\nAK=%sZ\n" % (ek, ak[:-1]))
        r = run(cli, "parse-file", path, "--key-file", kf)
        err = r.stderr.decode()
        check("--key-file with bad hex: exit 65, one line FILE:LINE", r.returncode == 65
              and len(err.strip().splitlines()) == 1 and ("%s:2:" % kf) in err, err)
        r = run(cli, "parse-file", path, "--key", ek[:-2])
        check("--key too short: exit 64 and says 32 hex digits", r.returncode == 64 and "32 hex digits" in
              r.stderr.decode(), r.stderr.decode())
        r = run(cli, "parse-file", path, "--auth-key", ak)
        check("--auth-key without --key: exit 64", r.returncode == 64, r.stderr.decode())
        # systemd credentials
        creds = os.path.join(tmp, "creds")
        os.mkdir(creds)
        with open(os.path.join(creds, "kaifa-meter-key"), "w") as f:
            f.write(ek + "\n")
        with open(os.path.join(creds, "kaifa-meter-auth-key"), "w") as f:
            f.write(ak + "\n")
        env = dict(os.environ, CREDENTIALS_DIRECTORY=creds)
        r = subprocess.run([cli, "parse-file", path, "--stats", "--compact"], capture_output=True, env=env,
                           timeout=60)
        OUTPUTS.extend([r.stdout, r.stderr])
        check("keys from $CREDENTIALS_DIRECTORY", stats_of(r.stderr).get("authenticated frames") == 1,
              r.stderr.decode()[-300:])
        # /proc/PID/cmdline of a CLI waiting on a FIFO
        fifo = os.path.join(tmp, "fifo")
        os.mkfifo(fifo)
        p = subprocess.Popen([cli, "parse-file", fifo, "--key", ek, "--auth-key", ak], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        w = os.open(fifo, os.O_WRONLY)  # the CLI has opened it: its options are parsed
        cmdline = b""
        for _ in range(100):
            with open("/proc/%d/cmdline" % p.pid, "rb") as f:
                cmdline = f.read()
            if ek.encode() not in cmdline:
                break
            time.sleep(0.01)
        os.close(w)
        out, err = p.communicate(timeout=60)
        OUTPUTS.extend([out, err])
        check("the key is gone from /proc/PID/cmdline", ek.encode() not in cmdline and ak.encode() not in cmdline
              and b"--key" in cmdline, repr(cmdline))


def check_no_key_in_outputs():
    forms = set()
    for k in KEYS:
        for s in (k.upper(), k.lower()):
            forms.add(s)
            forms.add(" ".join(s[i:i + 2] for i in range(0, len(s), 2)))
    hits = [f for f in forms for o in OUTPUTS if f.encode() in o]
    check("no key in any of %d outputs (%d keys)" % (len(OUTPUTS), len(KEYS)), not hits, repr(hits[:3]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--captures", required=True)
    a = ap.parse_args()
    base = os.path.join(a.captures, "beyond")
    check_manifest(a.cli, base)
    check_pilot(a.cli, a.captures)
    check_key_file_and_cmdline(a.cli, base)
    check_no_key_in_outputs()
    print("%d passed, %d failed" % (len(PASSED), len(FAILED)))
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()

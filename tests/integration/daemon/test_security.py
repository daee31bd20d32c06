#!/usr/bin/env python3
"""kaifa-meterd and encrypted meters, end to end: real captures written into
a socat pty, the daemon publishing to a real mosquitto.

- The 2017 Norwegian pilot (AES-128-ECB, Kaifa MA105H2E): the key given as a
  systemd credential file ($CREDENTIALS_DIRECTORY/kaifa-meter-key); the
  values retained under kaifa/<meter id>/ are those `kaifa-meter parse-file
  --key` decodes from the same bytes.
- AES-128-GCM (Kaifa MA309 Poland, security byte 0x21, an APDU split over
  two M-Bus frames): the key from [meter] key; the push is published; the
  same push written again has an invocation counter that does not grow and
  is dropped as a replay (logged, counted in STATUS=, nothing published).
- A wrong key: "cannot decrypt frames from system title KFM1020029802: wrong
  key?" logged once however many frames come within a minute, counted in
  STATUS=, nothing published.
- No key configured: the push is counted ("without key" in STATUS=), one
  message names the meter and where a key goes, nothing is published.
- Configuration: a bad key is "FILE:LINE: ..." and exit 78 with
  --check-config; a bad credential too; --dump-config masks the key.
- No key in any log, dump or /proc/PID/cmdline.
"""
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kmtest as k  # noqa: E402

CLI = os.environ.get("KM_CLI")
PILOT_KEY = "00112233445566778899AABBCCDDEEFF"
PILOT = os.path.join(k.CAPTURES, "nordbo",
                     "han-data-MA105H2E-C00112233445566778899AABBCCDDEEFF-2017-01-25_0800-1200.bin")
PILOT_ID = "6970631400000035"
MA309 = os.path.join(k.CAPTURES, "beyond", "kaifa", "ams_gh905-1_ma309_pl_mbus2_enc.bin")
MA309_KEY = "39436F513777354C4D466F4C5333674A"
MA309_ID = "1KFM0200169986"
WRONG_KEY = "39436F513777354C4D466F4C5333674B"
KEYS = [PILOT_KEY, MA309_KEY, WRONG_KEY]
TEXTS = []  # every log and dump, for the key search


def cli_last_values(path, key):
    out = subprocess.run([CLI, "parse-file", "--compact", "--key", key, path], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, check=True, timeout=120)
    TEXTS.extend([out.stdout.decode(), out.stderr.decode()])
    readings = [__import__("json").loads(l) for l in out.stdout.decode().splitlines() if l.strip()]
    last = {}
    for r in readings:
        for name, v in r["data"].items():
            last[name] = v["value"]
    return readings, last


def same(payload, value):
    if isinstance(value, (int, float)):
        try:
            return abs(float(payload) - float(value)) < 1e-9
        except ValueError:
            return False
    return payload == str(value)


def status_lines(notify):
    return [l for t, l in notify.lines() if l.startswith("STATUS=")]


def test_pilot_with_credential(work, broker):
    creds = work.file("creds")
    os.mkdir(creds)
    with open(os.path.join(creds, "kaifa-meter-key"), "w") as f:
        f.write(" ".join(PILOT_KEY[i:i + 2] for i in range(0, 32, 2)) + "\n")
    os.chmod(os.path.join(creds, "kaifa-meter-key"), 0o600)
    with open(PILOT, "rb") as f:
        frames = k.split_frames(f.read())[:240]  # 20 minutes of pushes, list 1 and list 2
    part = work.file("pilot-part.bin")
    with open(part, "wb") as f:
        f.write(b"".join(frames))
    readings, want = cli_last_values(part, PILOT_KEY)
    k.check(len(readings) == len(frames) and want.get("meter_id") == PILOT_ID,
            "the CLI decodes the %d pilot frames with the key (%d readings)" % (len(frames), len(readings)))

    pty = k.Pty(work)
    pty.start()
    notify = k.NotifyListener(work)
    d = k.Daemon(work, k.daemon_config(pty.meter, broker.port),
                 env={"CREDENTIALS_DIRECTORY": creds, "NOTIFY_SOCKET": notify.path}, name="pilot")
    d.start()
    try:
        k.check(notify.wait_line(lambda l: l == "READY=1", 10), "pilot: daemon ready")
        pty.write(b"".join(frames))
        topic = "kaifa/%s/power_active_import" % PILOT_ID
        ok = k.wait_for(lambda: same(broker.retained(topics=("kaifa/%s/#" % PILOT_ID,), wait=1).get(topic, ""),
                                     want["power_active_import"])
                        and "%d frames decoded" % len(frames) in " ".join(status_lines(notify)), 30, step=0.5)
        got = broker.retained(topics=("kaifa/%s/#" % PILOT_ID,), wait=1)
        k.check(ok, "pilot: the last power value is retained (%s)" % got.get(topic))
        bad = [n for n, v in want.items() if n != "meter_timestamp" and not same(got.get("kaifa/%s/%s" % (PILOT_ID, n),
                                                                                            ""), v)]
        k.check(not bad, "pilot: every value retained as the CLI decodes it (differ: %s)" % bad)
        k.check(any("%d decrypted" % len(frames) in l for l in status_lines(notify)),
                "pilot: STATUS= counts %d decrypted frames" % len(frames))
        with open("/proc/%d/cmdline" % d.proc.pid, "rb") as f:
            cmdline = f.read().decode(errors="replace")
        k.check(not any(key in cmdline.upper() for key in KEYS), "pilot: no key in /proc/PID/cmdline")
    finally:
        rc, took = d.stop()
        k.check(rc == 0, "pilot: SIGTERM exits 0")
        notify.stop()
        os.unlink(notify.path)
        pty.stop()
        TEXTS.append(d.logtext())


def test_gcm_replay_and_wrong_key(work, broker):
    with open(MA309, "rb") as f:
        push = f.read()
    readings, want = cli_last_values(MA309, MA309_KEY)
    pty = k.Pty(work, name="ma309")
    pty.start()
    notify = k.NotifyListener(work)
    d = k.Daemon(work, k.daemon_config(pty.meter, broker.port, "[meter]\nkey = %s\n" % MA309_KEY),
                 env={"NOTIFY_SOCKET": notify.path}, name="ma309")
    d.start()
    try:
        k.check(notify.wait_line(lambda l: l == "READY=1", 10), "gcm: daemon ready")
        pty.write(push)
        topic = "kaifa/%s/energy_active_cum_import" % MA309_ID
        ok = k.wait_for(lambda: topic in broker.retained(topics=("kaifa/%s/#" % MA309_ID,), wait=1), 30, step=0.5)
        got = broker.retained(topics=("kaifa/%s/#" % MA309_ID,), wait=1)
        k.check(ok and same(got.get("kaifa/%s/phase_voltage_l1" % MA309_ID, ""), want["phase_voltage_l1"]),
                "gcm: the MA309 push (M-Bus, 0x21) is decrypted and published (%s)"
                % got.get("kaifa/%s/phase_voltage_l1" % MA309_ID))
        # -R: retained messages from the first push are not news
        sub_log = open(work.file("replay-sub.log"), "w")
        sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-v", "-R",
                                "-t", "kaifa/%s/#" % MA309_ID], stdout=sub_log, stderr=subprocess.DEVNULL)
        marker = "kaifa/%s/test-marker" % MA309_ID  # seen once the subscription stands

        def subscribed():
            broker.publish(marker, "x")
            with open(work.file("replay-sub.log")) as f:
                return marker in f.read()
        k.check(k.wait_for(subscribed, 10, step=0.2), "gcm: subscriber ready")
        pty.write(push)  # the same invocation counter again
        replayed = k.wait_for(lambda: "replay" in d.logtext() and any("1 replays" in l for l in status_lines(notify)),
                              15, step=0.2)
        k.check(replayed, "gcm: the same push again is dropped as a replay, logged and counted in STATUS=")
        log = d.logtext()
        k.check("replayed frame from system title KFM1020029802 dropped" in log,
                "gcm: the replay message names the system title")
        k.check(any("1 frames decoded" in l for l in status_lines(notify)) and
                not any("2 frames decoded" in l for l in status_lines(notify)),
                "gcm: the replayed push is not decoded")
        sub.terminate()
        sub.wait(5)
        sub_log.close()
        with open(work.file("replay-sub.log")) as f:
            news = [l for l in f.read().splitlines()
                    if not l.split(" ")[0].endswith("/status") and not l.startswith(marker)]
        k.check(not news, "gcm: nothing published for the replay (%s)" % news[:3])
    finally:
        rc, took = d.stop()
        notify.stop()
        os.unlink(notify.path)
        pty.stop()
        TEXTS.append(d.logtext())

    # the wrong key: one message for many frames, counted, nothing published
    pty = k.Pty(work, name="wrong")
    pty.start()
    notify = k.NotifyListener(work)
    d = k.Daemon(work, k.daemon_config(pty.meter, broker.port, "[meter]\nkey = %s\n" % WRONG_KEY),
                 env={"NOTIFY_SOCKET": notify.path}, name="wrong")
    d.start()
    try:
        k.check(notify.wait_line(lambda l: l == "READY=1", 10), "wrong key: daemon ready")
        broker_before = broker.retained(topics=("kaifa/#",), wait=1)
        for _ in range(5):
            pty.write(push)
        ok = k.wait_for(lambda: any("5 decrypt failures" in l for l in status_lines(notify)), 20, step=0.2)
        k.check(ok, "wrong key: 5 pushes counted as decrypt failures in STATUS=")
        log = d.logtext()
        msg = "cannot decrypt frames from system title KFM1020029802: wrong key?"
        k.check(log.count(msg) == 1, "wrong key: '%s' logged once for 5 pushes (%d)" % (msg, log.count(msg)))
        k.check(broker.retained(topics=("kaifa/#",), wait=1) == broker_before, "wrong key: nothing published")
    finally:
        d.stop()
        notify.stop()
        os.unlink(notify.path)
        pty.stop()
        TEXTS.append(d.logtext())


def test_no_key(work, broker):
    """A ciphered push and no key configured: counted, one message naming
    the meter and where a key goes, nothing published."""
    with open(MA309, "rb") as f:
        push = f.read()
    pty = k.Pty(work, name="nokey")
    pty.start()
    notify = k.NotifyListener(work)
    d = k.Daemon(work, k.daemon_config(pty.meter, broker.port), env={"NOTIFY_SOCKET": notify.path}, name="nokey")
    d.start()
    try:
        k.check(notify.wait_line(lambda l: l == "READY=1", 10), "no key: daemon ready")
        before = broker.retained(topics=("kaifa/#",), wait=1)
        pty.write(push)
        pty.write(push)
        ok = k.wait_for(lambda: any("2 without key" in l for l in status_lines(notify)), 20, step=0.2)
        k.check(ok, "no key: 2 pushes counted in STATUS=")
        log = d.logtext()
        msg = "encrypted frames from system title KFM1020029802 and no key for them"
        k.check(log.count(msg) == 1 and "[meter] key, key_file or the credential kaifa-meter-key" in log,
                "no key: one message naming the meter and where the key goes")
        k.check(broker.retained(topics=("kaifa/#",), wait=1) == before, "no key: nothing published")
    finally:
        d.stop()
        notify.stop()
        os.unlink(notify.path)
        pty.stop()
        TEXTS.append(d.logtext())


def run_daemon(args, env=None):
    e = dict(os.environ)
    e.pop("CREDENTIALS_DIRECTORY", None)
    if env:
        e.update(env)
    r = subprocess.run([k.DAEMON] + args, capture_output=True, timeout=30, env=e)
    TEXTS.extend([r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")])
    return r


def test_config(work):
    base = "[serial]\nport = /dev/null\n[meter]\n"
    good_kf = work.file("keyfile-good")
    with open(good_kf, "w") as f:
        f.write("EK=%s\n" % MA309_KEY)
    cases = [
        ("short key", "key = %s\n" % MA309_KEY[:-1], 4, "32 hex digits"),
        ("bad hex", "key = %sZ\n" % MA309_KEY[:-1], 4, "not a hex digit"),
        ("auth_key alone", "auth_key = %s\n" % MA309_KEY, 4, "needs the encryption key"),
        ("key and key_file", "key = %s\nkey_file = %s\n" % (MA309_KEY, good_kf), 5, "both set"),
        ("key_file without a key", "key_file = /dev/null\n", 4, "no key in it"),
    ]
    for what, text, line, words in cases:
        path = work.file("bad-%s.conf" % what.replace(" ", "-"))
        with open(path, "w") as f:
            f.write(base + text)
        r = run_daemon(["--check-config", "-c", path])
        err = r.stderr.decode()
        k.check(r.returncode == 78 and err.startswith("%s:%d: " % (path, line)) and words in err
                and len(err.strip().splitlines()) == 1, "config %s: %s:%d, exit 78 (%r)" % (what, "FILE", line, err))
    # a key file with bad hex on its line 2
    kf = work.file("keyfile")
    with open(kf, "w") as f:
        f.write("EK=%s\nAK=%s\n" % (MA309_KEY, "C0C1C2C3C4C5C6C7C8C9CACBCCCDCEXX"))
    path = work.file("keyfile.conf")
    with open(path, "w") as f:
        f.write(base + "key_file = %s\n" % kf)
    r = run_daemon(["--check-config", "-c", path])
    err = r.stderr.decode()
    k.check(r.returncode == 78 and ("%s:4: " % path) in err and ("%s:2: " % kf) in err,
            "config key_file with bad hex: both FILE:LINE, exit 78 (%r)" % err)
    # masked in --dump-config, from the file and from a credential
    path = work.file("good.conf")
    with open(path, "w") as f:
        f.write(base + "key = %s\nauth_key = %s\n" % (MA309_KEY, PILOT_KEY))
    r = run_daemon(["--dump-config", "-c", path])
    out = r.stdout.decode()
    k.check(r.returncode == 0 and "key = ********" in out and "auth_key = ********" in out,
            "--dump-config masks key and auth_key")
    creds = work.file("creds-bad")
    os.mkdir(creds)
    with open(os.path.join(creds, "kaifa-meter-key"), "w") as f:
        f.write(MA309_KEY[:30])
    with open(path, "w") as f:
        f.write(base)
    r = run_daemon(["--check-config", "-c", path], env={"CREDENTIALS_DIRECTORY": creds})
    err = r.stderr.decode()
    k.check(r.returncode == 78 and "kaifa-meter-key" in err and "32 hex digits" in err,
            "a bad credential is a config error naming it (%r)" % err)


def main():
    k.need(k.DAEMON, CLI, "mosquitto", "mosquitto_sub", "socat")
    work = k.Workdir()
    broker = k.Broker(work)
    try:
        broker.start()
        test_pilot_with_credential(work, broker)
        test_gcm_replay_and_wrong_key(work, broker)
        test_no_key(work, broker)
        test_config(work)
    finally:
        broker.stop()
        hits = [key for key in KEYS for t in TEXTS
                if key in t.upper() or " ".join(key[i:i + 2] for i in range(0, 32, 2)) in t.upper()]
        k.check(not hits, "no key in %d logs and outputs" % len(TEXTS))
        work.cleanup()
    k.finish()


if __name__ == "__main__":
    main()

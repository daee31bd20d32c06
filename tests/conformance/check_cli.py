#!/usr/bin/env python3
"""Behaviour of the kaifa-meter CLI on real captures and on bad input.

Each check runs the real binary; the script prints one line per check and
exits 1 if any failed.
"""
import argparse
import fcntl
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

FAILED = []


def check(name, ok, detail=""):
    print("%s %s%s" % ("ok  " if ok else "FAIL", name, (": " + detail) if detail and not ok else ""))
    if not ok:
        FAILED.append(name)


def run(cli, *args, stdin=None):
    return subprocess.run([cli, *args], input=stdin, capture_output=True, timeout=120, check=False)


def stats_of(stderr):
    out = {}
    for line in stderr.decode(errors="replace").splitlines():
        m = re.match(r"([a-z _]+): (\d+)", line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


def wait_for(cond, timeout=60):
    """Polls cond() until it holds (True) or the deadline passes (False): the
    tests wait for a state they can see, never for a fixed time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return False


def proc_io(pid):
    """The kernel's I/O counters of a process: rchar, wchar, ... (0 once it is gone)."""
    try:
        with open("/proc/%d/io" % pid) as f:
            return {k: int(v) for k, v in (line.split(": ") for line in f)}
    except (FileNotFoundError, ProcessLookupError):
        return {}


def proc_state(pid):
    """R (running), S (sleeping in a system call), ...; '' once it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return ""


def read_line(pipe, timeout=60):
    """The next line from a child's stdout pipe, or b"" after timeout."""
    box = []
    t = threading.Thread(target=lambda: box.append(pipe.readline()), daemon=True)
    t.start()
    t.join(timeout)
    return box[0] if box else b""


def stop_with(name, proc, ready, sig, expect_rc=0, err_ok=lambda err: not err):
    """Waits until ready() says the command is where the test wants it, sends
    sig and checks that it ends (exit expect_rc, err_ok(stderr): by default
    nothing on stderr). The
    wait for the end is generous (10 s) so a loaded machine cannot fail it;
    the time it took is printed."""
    if not wait_for(lambda: proc.poll() is not None or ready()) or proc.poll() is not None:
        proc.kill()
        _, err = proc.communicate()
        check(name, False, "never got ready: rc %s, %r" % (proc.returncode, err))
        return
    t0 = time.monotonic()
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=10)
        ended = True
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        ended = False
    if ended:
        print("     (%s: ended %.0f ms after the signal)" % (name, (time.monotonic() - t0) * 1000))
    check(name, ended and proc.returncode == expect_rc and err_ok(err),
          "ended %s, rc %s, stderr %r" % (ended, proc.returncode, err))


# Valid frame counts from the captures README (frames whose FCS checks).
NORDBO_GOOD = {
    "han-data-1095.bin": 14, "han-data-1109.bin": 39, "han-data-1190.bin": 17, "han-data-1954.bin": 321,
    "han-data-2723.bin": 6593, "han-data-3617.bin": 4, "han-data-3735.bin": 8, "han-data-3770.bin": 10,
    "han-data-3981.bin": 82, "han-data-MA304H3E-2017-01-18_1510-1559.bin": 1462,
    "han-data-MA304H3E-2017-01-20_1202-1608.bin": 7358, "han-data-MA304T3-2017-01-23_1303-1557.bin": 5206,
    "han-data-MA304T4-2017-01-18_1417-1507.bin": 1475, "han-data-MA304T4-2017-01-23_0835-1258.bin": 7892,
    "han-data-clear.bin": 3,
}
# 2017 pilot files: FCS never matches (HCS does), or AES-ECB pilot ciphertext.
NORDBO_BROKEN_FCS = {"han-data-MA105H2E-2017-01-26_0800-1100.bin": 4197,
                     "han-data-MA304H4-C00001111222233334444555566667777-2017-02-02_0828-0929.bin": 1757}
NORDBO_PILOT_ENCRYPTED = {"han-data-MA105H2E-C00112233445566778899AABBCCDDEEFF-2017-01-25_0800-1200.bin": 6733,
                          "han-data-crypted.bin": 8}


def check_nordbo(cli, captures):
    d = os.path.join(captures, "nordbo")
    for name, good in NORDBO_GOOD.items():
        r = run(cli, "parse-file", os.path.join(d, name), "--stats", "--compact")
        st = stats_of(r.stderr)
        lines = r.stdout.count(b"\n")
        check("nordbo %s decodes %d frames" % (name, good),
              r.returncode == 0 and st.get("good frames") == good and st.get("decoded frames") == good
              and lines == good, "%r, %d lines" % (st, lines))
    for name, frames in NORDBO_BROKEN_FCS.items():
        path = os.path.join(d, name)
        r = run(cli, "parse-file", path, "--stats", "--compact")
        st = stats_of(r.stderr)
        check("nordbo %s: bad FCS counted, nothing published" % name,
              r.returncode == 0 and st.get("good frames") == 0 and st.get("checksum failures", 0) >= frames
              and r.stdout == b"", repr(st))
        r = run(cli, "parse-file", path, "--stats", "--compact", "--ignore-checksum")
        st = stats_of(r.stderr)
        check("nordbo %s: --ignore-checksum decodes all %d" % (name, frames),
              r.returncode == 0 and st.get("decoded frames") == frames, repr(st))
    for name, frames in NORDBO_PILOT_ENCRYPTED.items():
        r = run(cli, "parse-file", os.path.join(d, name), "--stats")
        st = stats_of(r.stderr)
        check("nordbo %s: pilot ciphertext counted, not fatal" % name,
              r.returncode == 0 and st.get("good frames") == frames and st.get("decoded frames") == 0
              and sum(v for k, v in st.items() if k.startswith("rejected ")) == frames, repr(st))
    r = run(cli, "parse-file", os.path.join(d, "han-data-tcp-dump.bin"), "--stats")
    st = stats_of(r.stderr)
    check("nordbo tcp dump (mangled): no frame, exit 0",
          r.returncode == 0 and st.get("decoded frames") == 0 and r.stdout == b"", repr(st))


def check_amshan(cli, captures):
    d = os.path.join(captures, "amshan")

    def one(name):
        r = run(cli, "parse-file", os.path.join(d, name), "--compact", "--stats")
        objs = [json.loads(x) for x in r.stdout.decode().splitlines() if x.strip()]
        return r, objs, stats_of(r.stderr)

    r, objs, st = one("hdlc-frame-with-escape-character-in-info.bin")
    check("amshan frame with 0x7D in it decodes (Aidon list 1, 1661 W)",
          r.returncode == 0 and len(objs) == 1 and objs[0]["data"]["power_active_import"]["value"] == 1661, repr(objs))
    r, objs, st = one("hdlc-frame-with-flag-sequence-character-in-info.bin")
    check("amshan frame with 0x7E in its payload decodes (Kaifa list 1, 5502 W)",
          r.returncode == 0 and len(objs) == 1 and objs[0]["data"]["power_active_import"]["value"] == 5502, repr(objs))
    r, objs, st = one("hdlc-frame-empty-info.bin")
    check("amshan frame without information field: good frame, counted as empty",
          r.returncode == 0 and not objs and st.get("good frames") == 1 and st.get("rejected empty") == 1, repr(st))
    r, objs, st = one("hdlc-frame-short-info.bin")
    check("amshan frame with a non-DLMS info field: good frame, counted",
          r.returncode == 0 and not objs and st.get("good frames") == 1 and st.get("rejected not_dlms") == 1, repr(st))
    r, objs, st = one("hdlc-stuffed-frame-short-info.bin")
    check("amshan byte-stuffed frame (not used by meters): no reading, exit 0", r.returncode == 0 and not objs, repr(st))


def check_random(cli):
    rnd = random.Random(20261121)
    data = bytes(rnd.getrandbits(8) for _ in range(1 << 20))
    r = run(cli, "parse-file", "-", "--stats", stdin=data)
    st = stats_of(r.stderr)
    check("1 MiB of random bytes: zero frames, exit 0",
          r.returncode == 0 and st.get("decoded frames") == 0 and st.get("bytes read") == len(data), repr(st))


def frames_of(data):
    """Splits a clean capture into its frames (7E ... 7E), by length field."""
    out, i = [], 0
    while i + 3 <= len(data):
        if data[i] == 0x7E and data[i + 1] & 0xF0 == 0xA0:
            n = (data[i + 1] & 7) << 8 | data[i + 2]
            out.append(data[i + 1:i + 1 + n])
            i += n + 1
        else:
            i += 1
    return out


def check_damage(cli, captures):
    """Damage in one frame never costs the next good frame."""
    with open(os.path.join(captures, "smidsrod/KFM_001/MA304T4-3-ok.bin"), "rb") as f:
        frames = frames_of(f.read())
    rnd = random.Random(7)
    stream, damaged = bytearray(), 0
    for k, fr in enumerate(frames):
        fr = bytearray(fr)
        mode = k % 4
        if mode == 1:  # flip a byte
            fr[rnd.randrange(len(fr))] ^= 1 << rnd.randrange(8)
            damaged += 1
        elif mode == 2:  # cut the frame short
            fr = fr[:rnd.randrange(1, len(fr))]
            damaged += 1
        elif mode == 3:  # garbage before it, with a fake flag and header
            stream += bytes([0x00, 0xFF, 0x7E, 0xA0, 0x30, 0x12, 0x7E, 0x7E])
        stream += b"\x7e" + fr + b"\x7e"
    r = run(cli, "parse-file", "-", "--stats", "--compact", stdin=bytes(stream))
    st = stats_of(r.stderr)
    check("damaged frames in a real capture: every undamaged frame decodes (%d of %d)"
          % (len(frames) - damaged, len(frames)),
          r.returncode == 0 and st.get("decoded frames") == len(frames) - damaged, repr(st))


def check_usage(cli, captures):
    cap = os.path.join(captures, "smidsrod/KFM_001/MA304H3E-1-ok.bin")
    for args in ([], ["frobnicate"], ["parse-file"], ["parse-file", cap, "--frob"], ["parse-file", cap, cap],
                 ["serial", "/dev/null", "--parity", "mark"], ["serial", "/dev/null", "--baud", "fast"],
                 ["parse-file", cap, "-o"], ["parse-file", cap, "--baud", "9600"]):
        r = run(cli, *args)
        lines = r.stderr.decode().strip().splitlines()
        check("usage error %r exits 64 with one line" % (args,), r.returncode == 64 and len(lines) == 1, repr(lines))
    r = run(cli, "parse-file", "/nonexistent/capture.bin")
    check("missing input file exits 66 with one line",
          r.returncode == 66 and len(r.stderr.decode().strip().splitlines()) == 1, r.stderr.decode())
    for args in (["--help"], ["parse-file", "--help"], ["serial", "--help"]):
        r = run(cli, *args)
        check("%r exits 0 and prints usage" % (args,), r.returncode == 0 and b"Usage" in r.stdout)
    r = run(cli, "--version")
    check("--version", r.returncode == 0 and r.stdout.startswith(b"kaifa-meter "))


def check_outputs(cli, captures):
    cap = os.path.join(captures, "smidsrod/KFM_001/MA304H3E-1-ok.bin")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "readings.jsonl")
        for _ in range(2):
            r = run(cli, "parse-file", cap, "--compact", "-o", out)
        with open(out) as f:
            lines = f.read().splitlines()
        check("-o appends (2 runs x 14 frames)", r.returncode == 0 and len(lines) == 28 and r.stdout == b"",
              "%d lines" % len(lines))
    r = run(cli, "parse-file", cap, "--json")
    text = r.stdout.decode()
    check("--json pretty-prints one object per frame", r.returncode == 0 and text.count('"data"') == 14
          and "\n  " in text)
    r = run(cli, "parse-file", cap)
    text = r.stdout.decode()
    check("terminal output shows names, values and units",
          r.returncode == 0 and "phase_voltage_l1" in text and " V " in text and "MA304H3E" in text, text[:300])
    with open(cap, "rb") as f:
        data = f.read()
    r = run(cli, "parse-file", "-", "--hex", "--stats", stdin=data[:60] + data[70:])  # 2nd frame cut
    text = r.stdout.decode()
    check("--hex --stats prints frame bytes, and the rejected ones",
          r.returncode == 0 and "hex: 7ea0" in text and "rejected:" in text, text[:400])


def first_frame(captures):
    """The first frame of a real capture (a Kaifa list 1), with its flags."""
    with open(os.path.join(captures, "smidsrod/KFM_001/MA304H3E-1-ok.bin"), "rb") as f:
        return b"\x7e" + frames_of(f.read())[0] + b"\x7e"


def start_pty_pair(meter, port):
    """socat joining two ptys, linked as meter and port; None if they never appear."""
    socat = subprocess.Popen(["socat", "pty,raw,echo=0,link=" + meter, "pty,raw,echo=0,link=" + port],
                             stderr=subprocess.DEVNULL)
    if wait_for(lambda: socat.poll() is not None or (os.path.exists(meter) and os.path.exists(port)), 30) \
            and socat.poll() is None:
        return socat
    socat.kill()
    socat.wait()
    return None


def check_serial_pty(cli, captures):
    """`kaifa-meter serial` on a socat pty pair, the meter side written with a
    real capture; SIGINT ends it cleanly with every frame decoded. A pty
    keeps what the meter side sent until the port side reads it, so the
    capture may be written before the command has opened the port."""
    if not shutil.which("socat"):
        check("serial: socat is installed", False, "socat not found")
        return
    cap = os.path.join(captures, "smidsrod/KFM_001/MA304H3E-1-ok.bin")
    with tempfile.TemporaryDirectory() as tmp:
        meter, port = os.path.join(tmp, "meter"), os.path.join(tmp, "ttyHAN")
        socat = start_pty_pair(meter, port)
        if not socat:
            check("serial: socat makes a pty pair", False)
            return
        try:
            out_path = os.path.join(tmp, "out.jsonl")
            with open(out_path, "wb") as out:
                proc = subprocess.Popen([cli, "serial", port, "--compact", "--stats"], stdout=out,
                                        stderr=subprocess.PIPE)
            with open(cap, "rb") as f, open(meter, "wb", buffering=0) as w:
                data = f.read()
                for i in range(0, len(data), 100):  # in pieces, as a UART delivers
                    w.write(data[i:i + 100])
                    time.sleep(0.005)

            def lines():
                with open(out_path, "rb") as f:
                    return f.read().count(b"\n")
            wait_for(lambda: lines() >= 14 or proc.poll() is not None)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=10)
            st = stats_of(err)
            check("serial on a pty: all 14 frames of a real capture, SIGINT exits 0",
                  proc.returncode == 0 and lines() == 14 and st.get("decoded frames") == 14,
                  "rc %s, %d lines, %r" % (proc.returncode, lines(), st))
        finally:
            socat.terminate()
            socat.wait(timeout=10)

        # The port vanishes (socat gone): one line, exit 74. The command must
        # have opened the port first: it has when a frame came out.
        socat = start_pty_pair(meter + "2", port + "2")
        if not socat:
            check("serial: socat makes a pty pair", False)
            return
        try:
            proc = subprocess.Popen([cli, "serial", port + "2", "--compact"], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            with open(meter + "2", "wb", buffering=0) as w:
                w.write(first_frame(captures))
            line = read_line(proc.stdout)
            socat.terminate()
            socat.wait(timeout=10)
            try:
                _, err = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
            lines = err.decode().strip().splitlines()
            check("serial: the port vanishing is one line and exit 74",
                  line.startswith(b"{") and proc.returncode == 74 and len(lines) == 1 and "went away" in lines[0],
                  "first line %r, rc %s, %r" % (line, proc.returncode, lines))
        finally:
            socat.terminate()
            socat.wait(timeout=10)


def check_signals_and_stdin(cli, captures):
    """SIGINT ends a parse-file blocked on a FIFO with no data; reading stdin
    leaves the caller's descriptor blocking. The command is known to be in
    its read loop (signal handlers in place) once a frame came out."""
    frame = first_frame(captures)
    with tempfile.TemporaryDirectory() as tmp:
        fifo = os.path.join(tmp, "quiet.fifo")
        os.mkfifo(fifo)
        writer = os.open(fifo, os.O_RDWR)  # a writer that sends one frame, then nothing
        try:
            proc = subprocess.Popen([cli, "parse-file", fifo, "--compact"], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            os.write(writer, frame)
            line = read_line(proc.stdout)
            stop_with("SIGINT ends parse-file waiting on a FIFO (exit 0)", proc, lambda: line.startswith(b"{"),
                      signal.SIGINT)
        finally:
            os.close(writer)
    r, w = os.pipe()
    try:
        proc = subprocess.Popen([cli, "parse-file", "-", "--compact"], stdin=r, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        os.write(w, frame)
        line = read_line(proc.stdout)
        stop_with("SIGTERM ends parse-file - waiting on stdin (exit 0)", proc, lambda: line.startswith(b"{"),
                  signal.SIGTERM)
        check("parse-file - leaves stdin blocking for the next reader",
              not fcntl.fcntl(r, fcntl.F_GETFL) & os.O_NONBLOCK)
    finally:
        os.close(r)
        os.close(w)


def check_signals_end_any_wait(cli, captures):
    """SIGINT and SIGTERM end a command whatever it is blocked on. They were
    blocked except inside ppoll(), which does not deliver them when the input
    is ready at once (/dev/zero, a big file), nor during a write to a pipe
    nobody reads: such commands ran on until SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        proc = subprocess.Popen([cli, "parse-file", "/dev/zero"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        stop_with("%s ends parse-file /dev/zero (input always ready), exit 0" % sig.name, proc,
                  lambda: proc_io(proc.pid).get("rchar", 0) > (1 << 20), sig)
    # A reader that never reads: the output fills the pipe and write() blocks.
    # Reading a file never sleeps, so a sleeping process that has read its
    # first 64 KiB chunk (more than the loader reads) is blocked in a write.
    # (Not "has written": output to a pipe from a file is buffered, and the
    # first write() blocks before it returns, so wchar stays 0.)
    big = os.path.join(captures, "nordbo/han-data-MA304H3E-2017-01-20_1202-1608.bin")
    r, w = os.pipe()
    try:
        proc = subprocess.Popen([cli, "parse-file", big], stdout=w, stderr=subprocess.PIPE)
        stop_with("SIGTERM ends parse-file blocked writing to a full pipe, exit 0", proc,
                  lambda: proc_io(proc.pid).get("rchar", 0) >= 65536 and proc_state(proc.pid) == "S",
                  signal.SIGTERM)
    finally:
        os.close(r)
        os.close(w)
    # parse-file waiting at the end for a database that accepted the
    # connection but never answers: the rows are given up at once, one line
    cap = os.path.join(captures, "smidsrod/KFM_001/MA304H3E-1-ok.bin")
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(60)
    proc = subprocess.Popen([cli, "parse-file", cap, "--compact", "--dbname", "km", "--dbtable", "readings",
                             "--host", "127.0.0.1", "--port", str(srv.getsockname()[1])],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    conn = None
    try:
        conn, _ = srv.accept()
        conn.settimeout(60)
        first = conn.recv(8)
        # all 14 lines out: the input is read, the command waits for the database
        lines = [read_line(proc.stdout) for _ in range(14)]
        stop_with("SIGTERM ends parse-file waiting for a database that never answers (exit 69, one line)", proc,
                  lambda: len(first) > 0 and all(l.startswith(b"{") for l in lines), signal.SIGTERM, expect_rc=69,
                  err_ok=lambda err: len(err.splitlines()) == 1 and b"not written" in err)
    except OSError as e:
        proc.kill()
        proc.communicate()
        check("SIGTERM ends parse-file waiting for a database that never answers", False, "no connection: %s" % e)
    finally:
        if conn:
            conn.close()
        srv.close()
    # initdb waiting for a server that accepted the connection but never answers
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(60)
    proc = subprocess.Popen([cli, "initdb", "--dbname", "km", "--dbtable", "readings", "--host", "127.0.0.1",
                             "--port", str(srv.getsockname()[1])], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    conn = None
    try:
        conn, _ = srv.accept()
        conn.settimeout(60)
        first = conn.recv(8)  # the startup or SSL request: libpq now waits for the answer
        stop_with("SIGTERM ends initdb waiting for a server that never answers", proc,
                  lambda: len(first) > 0, signal.SIGTERM, expect_rc=-signal.SIGTERM)
    except OSError as e:
        proc.kill()
        proc.communicate()
        check("SIGTERM ends initdb waiting for a server that never answers", False, "no connection: %s" % e)
    finally:
        if conn:
            conn.close()
        srv.close()


def check_fifo_and_tcp(cli, captures):
    """A FIFO ends when its writer does; tcp:// reads a serial server (the
    kind ser2net offers) until it closes; a refused connection is one line."""
    cap = os.path.join(captures, "smidsrod/KFM_001/MA304H3E-1-ok.bin")
    with open(cap, "rb") as f:
        data = f.read()
    with tempfile.TemporaryDirectory() as tmp:
        fifo = os.path.join(tmp, "meter.fifo")
        os.mkfifo(fifo)

        def writer():
            with open(fifo, "wb") as w:
                w.write(data)
        t = threading.Thread(target=writer)
        t.start()
        r = run(cli, "parse-file", fifo, "--compact", "--stats")
        t.join()
        check("parse-file on a FIFO: 14 frames, ends with the writer",
              r.returncode == 0 and r.stdout.count(b"\n") == 14, repr(stats_of(r.stderr)))

    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]

    def serve():
        conn, _ = srv.accept()
        for i in range(0, len(data), 64):
            conn.sendall(data[i:i + 64])
        conn.close()
    t = threading.Thread(target=serve)
    t.start()
    r = run(cli, "serial", "tcp://127.0.0.1:%d" % port, "--compact", "--stats")
    t.join()
    srv.close()
    check("serial tcp://127.0.0.1:PORT: 14 frames from a serial server, exit 0 when it closes",
          r.returncode == 0 and r.stdout.count(b"\n") == 14, repr(stats_of(r.stderr)))
    # A port bound but not listening refuses, and stays ours meanwhile: a
    # closed one could be taken by a test running beside this one.
    closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    closed.bind(("127.0.0.1", 0))
    r = run(cli, "serial", "tcp://127.0.0.1:%d" % closed.getsockname()[1])
    closed.close()
    lines = r.stderr.decode().strip().splitlines()
    check("serial tcp:// refused: one line, exit 69 (unavailable)", r.returncode == 69 and len(lines) == 1,
          repr(lines))
    r = run(cli, "serial", "tcp://127.0.0.1")
    check("serial tcp:// without a port: usage error 64", r.returncode == 64, r.stderr.decode())
    r = run(cli, "serial", os.path.join(captures, "smidsrod/KFM_001/MA304H3E-1-ok.bin"))
    check("serial on a regular file: 'not a serial port', 64",
          r.returncode == 64 and b"not a serial port" in r.stderr, r.stderr.decode())


def check_iskra(cli, captures):
    """Bare-value lists of other makers (Iskraemeco AM550) are read by their
    own family (issue 9), never taken for Kaifa's."""
    d = os.path.join(captures, "amsreader/iskraemeco")
    for name in ("gh615-1.bin", "gh615-2.bin", "gh869-1.bin", "gh956-1.bin"):
        r = run(cli, "parse-file", os.path.join(d, name), "--stats", "--compact")
        st = stats_of(r.stderr)
        out = [json.loads(line) for line in r.stdout.decode().splitlines() if line.strip()]
        check("Iskraemeco %s: good frame, decoded as Iskraemeco, not Kaifa" % name,
              r.returncode == 0 and st.get("good frames") == 1 and st.get("decoded frames") == 1
              and len(out) == 1 and out[0].get("maker") == "Iskraemeco"
              and "KFM" not in out[0].get("list", ""), repr(st))


def check_p1(cli, captures):
    """DSMR/P1 telegrams: found without --transport, one reading each with a
    "p1" header; a wrong CRC counted, not decoded; a 7E1 line read as 8N1
    gives nothing; the simulator's telegrams all decode."""
    path = os.path.join(captures, "beyond/iskraemeco/dsmrp_v5_two_mbus.txt")
    r = run(cli, "parse-file", path, "--stats", "--compact")
    st = stats_of(r.stderr)
    out = [json.loads(line) for line in r.stdout.decode().splitlines() if line.strip()]
    ok = (r.returncode == 0 and len(out) == 1 and out[0]["header"].get("transport") == "p1"
          and out[0]["header"].get("p1_crc") == "56DD" and out[0].get("maker") == "Iskraemeco"
          and out[0]["data"]["mbus2_delivered"]["value"] == 246.138
          and out[0]["data"]["mbus2_delivered"]["captured"].startswith("2020-04-26 22:30:01")
          and out[0]["data"]["meter_id"]["value"] == "4530303434303037333832323436303139"
          and out[0]["data"]["meter_id"]["decoded"] == "E0044007382246019")
    check("P1 telegram: detected, transport p1, CRC, maker, M-Bus value with its time, id as sent and decoded", ok,
          r.stdout.decode()[:300])
    data = open(path, "rb").read()
    bad = data.replace(b"229.9*V", b"229.8*V")
    r = run(cli, "parse-file", "-", "--stats", "--compact", stdin=bad + data)
    st = stats_of(r.stderr)
    out = r.stdout.decode().splitlines()
    check("P1 telegram with a wrong CRC, then a good one: the bad one counted, the good one decoded",
          r.returncode == 0 and len(out) == 1 and st.get("decoded frames") == 1
          and st.get("rejected checksum") == 1, repr(st))
    as_8n1 = bytes(b | 0x80 if bin(b).count("1") % 2 else b for b in data)
    r = run(cli, "parse-file", "-", "--stats", "--transport", "p1", stdin=as_8n1 * 3)
    st = stats_of(r.stderr)
    check("P1 at 7E1 read as 8N1: no values, bytes skipped",
          r.returncode == 0 and not r.stdout.strip() and st.get("decoded frames") == 0
          and st.get("skipped bytes", 0) > len(data), repr(st))
    sim = run(cli, "simulate", "--protocol", "p1", "--speed", "0", "--duration", "1h")
    r = run(cli, "parse-file", "-", "--stats", stdin=sim.stdout)
    st = stats_of(r.stderr)
    check("simulate --protocol p1, one hour: 360 telegrams decoded",
          sim.returncode == 0 and st.get("good frames") == 360 and st.get("decoded frames") == 360, repr(st))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--captures", required=True)
    a = ap.parse_args()
    check_nordbo(a.cli, a.captures)
    check_amshan(a.cli, a.captures)
    check_random(a.cli)
    check_damage(a.cli, a.captures)
    check_usage(a.cli, a.captures)
    check_outputs(a.cli, a.captures)
    check_serial_pty(a.cli, a.captures)
    check_fifo_and_tcp(a.cli, a.captures)
    check_signals_and_stdin(a.cli, a.captures)
    check_signals_end_any_wait(a.cli, a.captures)
    check_iskra(a.cli, a.captures)
    check_p1(a.cli, a.captures)
    print("%d failed" % len(FAILED))
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())

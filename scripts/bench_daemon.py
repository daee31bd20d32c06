#!/usr/bin/env python3
"""The daemon lines of scripts/bench.sh (docs/benchmark.md): kaifa-meterd on
a socat pty, publishing to a real mosquitto on a free 127.0.0.1 port, with a
NOTIFY_SOCKET listener as systemd gives it (STATUS= is read from there) and
no WATCHDOG_USEC. Python standard library only; the test harness
tests/integration/daemon/kmtest.py supplies the broker, pty and daemon.

  bench_daemon.py --daemon KAIFA-METERD --cli KAIFA-METER [--fleet-only|--no-fleet]

Prints lines "name: value unit (details)":

  daemon_cpu_s_per_day         utime+stime (/proc/PID/stat) the daemon spent on
                               the 43,200 frames of one simulated day
                               (`kaifa-meter simulate --duration 1d`) written
                               into the pty at --day-speed times real time;
                               every frame must be decoded (STATUS=) and none
                               dropped, else the line says so
  daemon_private_kb            Private_Clean + Private_Dirty of
                               /proc/PID/smaps_rollup after that day
  latency_p99_ms               last byte of a frame written into the pty to
                               that frame's state document at a subscriber
                               (mosquitto_sub -F %U), one frame at a time,
                               1000 frames; p50 and max beside it
  daemon_idle_wakeups_per_min  voluntary + involuntary context switches of
                               every thread of the daemon while the meter is
                               silent, over --idle-seconds (20 by default),
                               scaled to a minute
  daemon_floor_cpu_s_per_day   with --floor: the same day into a pty read by
                               pty-floor, which only wakes and reads; the
                               machine's price of the frames themselves
  fleet_meters, fleet_cpu_pct  one daemon reading N meters ([meter.NAME]
                               sections, port = tcp://127.0.0.1:PORT, a port
                               per meter) served by one asyncio loop in this
                               process, a frame
                               every 2 s per meter, staggered; CPU percent of
                               one core over the measured window, which starts
                               once every meter has sent two frames, frames
                               sent vs decoded (STATUS=), state documents
                               received
  fleet_start_cpu_s            CPU seconds of those first two rounds: each
                               meter named, its discovery documents and first
                               values published

Environment: KM_BENCH_DAY_SPEED, KM_BENCH_IDLE_SECONDS, KM_BENCH_FLEET_N,
KM_BENCH_FLEET_SECONDS override the defaults; KM_BENCH_DAEMON_NOFILE sets the
daemon's soft RLIMIT_NOFILE (default: the one this script was started with).
"""
import argparse
import asyncio
import os
import re
import resource
import select
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration", "daemon"))
import kmtest as k  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
DAY_FRAMES = 43200
SIM_METER_ID = "7359992890941742"  # kaifa-meter simulate's default


NOFILE = resource.getrlimit(resource.RLIMIT_NOFILE)


def daemon_limits():
    """The daemon gets the limits this script was started with (it raises
    its own for the fleet's server side), or KM_BENCH_DAEMON_NOFILE as the
    soft limit (1024 is systemd's default for a service)."""
    soft = int(os.environ.get("KM_BENCH_DAEMON_NOFILE", NOFILE[0]))
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, NOFILE[1]), NOFILE[1]))


def row(name, value):
    print("%s: %s" % (name, value), flush=True)


def cpu_seconds(pid):
    """utime + stime of the process (every thread), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def private_kb(pid):
    total = 0
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                total += int(line.split()[1])
    return total


def context_switches(pid):
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                        total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def nofile_limit(pid):
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                p = line.split()
                return p[3], p[4]
    return "?", "?"


def decoded(notify):
    """Frames decoded according to the last STATUS= (summed over the
    meters when there are several), or None before the first."""
    lines = [l for _, l in notify.lines() if l.startswith("STATUS=")]
    if not lines:
        return None
    return sum(int(n) for n in re.findall(r"(\d+) frames decoded", lines[-1]))


def dropped(notify):
    lines = [l for _, l in notify.lines() if l.startswith("STATUS=")]
    return max([int(n) for l in lines for n in re.findall(r"(\d+) dropped", l)] or [0])


def config(port, broker, extra=""):
    return ("[serial]\nport = %s\n\n[mqtt]\nhost = 127.0.0.1\nport = %d\nclient_id = kmd-bench-%d\n%s\n"
            "[log]\nlevel = info\n" % (port, broker.port, os.getpid(), extra))


class Sub:
    """mosquitto_sub printing the arrival time (%U, the realtime clock with
    nanoseconds) and topic of every message; lines read without blocking."""

    def __init__(self, broker, topic):
        self.proc = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", topic,
                                      "-F", "%U %t"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     preexec_fn=k._die_with_parent)
        self.buf = b""
        self.count = 0
        self.poll = select.poll()
        self.poll.register(self.proc.stdout, select.POLLIN)

    def read(self, timeout):
        """Lines that arrived within timeout seconds (at least one if any)."""
        out = []
        end = time.monotonic() + timeout
        while not out:
            left = end - time.monotonic()
            if left <= 0:
                break
            if not self.poll.poll(left * 1000):  # poll: the fleet's sockets push fds past select()'s 1024
                break
            data = os.read(self.proc.stdout.fileno(), 65536)
            if not data:
                break
            self.buf += data
            *lines, self.buf = self.buf.split(b"\n")
            out += [l.decode() for l in lines if l]
        self.count += len(out)
        return out

    def drain(self):
        while self.read(0.05):
            pass

    def stop(self):
        self.proc.terminate()
        self.proc.wait(5)


def simulate_frames(cli, work, seconds, start, meter_id=None):
    path = work.file("sim-%d.bin" % seconds)
    cmd = [cli, "simulate", "--speed", "0", "--duration", "%ds" % seconds, "--start", start, "-o", path]
    if meter_id:
        cmd += ["--meter-id", meter_id]
    subprocess.run(cmd, check=True, timeout=120)
    return k.split_frames(open(path, "rb").read())


def wait_subscribed(broker, sub, topic):
    """Publishes to topic until sub sees it: the subscription is in place."""
    def seen():
        broker.publish(topic, "x")
        return sub.read(0.3)
    return k.wait_for(seen, 10, 0)


def day_and_latency(args, work, broker, notify):
    """One daemon: a simulated day at speed, its memory, 1000 frames one at
    a time for the latency, then the silent meter's wake-ups."""
    pty = k.Pty(work)
    daemon = sim = sub = None
    try:
        pty.start()
        # stale_after past the idle window: the one "offline" a silent meter
        # causes (a log line, a message, STATUS=) is not the steady state
        daemon = k.Daemon(work, config(pty.meter, broker, "[meter]\nstale_after = 3600\n"),
                          env={"NOTIFY_SOCKET": notify.path}, preexec=daemon_limits)
        daemon.start()
        if not notify.wait_line(lambda l: l == "READY=1", 10):
            raise RuntimeError("kaifa-meterd did not send READY=1: " + daemon.logtext()[-300:])
        pid = daemon.proc.pid

        # one simulated day, after the start-up (not counted)
        t0 = cpu_seconds(pid)
        w0 = time.monotonic()
        sim = subprocess.run([args.cli, "simulate", "--speed", str(args.day_speed), "--duration", "1d",
                              "--start", "2026-01-01T00:00:00", "--stats", "-o", pty.feeder],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=7200)
        m = re.search(r"frames written: (\d+)", sim.stderr.decode())
        sent = int(m.group(1)) if m else None
        got = k.wait_for(lambda: decoded(notify) == sent, 30)
        wall = time.monotonic() - w0
        cpu = cpu_seconds(pid) - t0
        n = decoded(notify)
        drops = dropped(notify)
        if sent == DAY_FRAMES and got and drops == 0:
            row("daemon_cpu_s_per_day", "%.2f s (goal <= 1.0; utime+stime for %d frames, 0 dropped, written at %sx "
                "real time in %.0f s wall)" % (cpu, sent, args.day_speed, wall))
        else:
            row("daemon_cpu_s_per_day", "not measured (%s frames written, %s decoded, %d MQTT messages dropped; "
                "%.2f CPU s)" % (sent, n, drops, cpu))
        row("daemon_private_kb", "%d kB (goal < 2048; Private_Clean + Private_Dirty of smaps_rollup after the day)"
            % private_kb(pid))

        # latency: one frame at a time, from the write to its state document
        frames = simulate_frames(args.cli, work, 2 * (args.latency_frames + 10), "2026-01-02T00:00:00")
        sub = Sub(broker, "kaifa/+/state")
        if not wait_subscribed(broker, sub, "kaifa/%s/state" % SIM_METER_ID):
            raise RuntimeError("mosquitto_sub did not subscribe")
        sub.drain()
        lat = []
        missing = 0
        for i, fr in enumerate(frames[:args.latency_frames + 10]):
            os.write(pty.fd, fr)
            t = time.time()
            lines = sub.read(2 * k.TIMEOUT_SCALE)
            if not lines:
                missing += 1
                continue
            if i >= 10:  # the first frames may be held until the meter id
                lat.append(float(lines[0].split()[0]) - t)
            sub.drain()
        lat.sort()
        if len(lat) >= 1000 and not missing:
            p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000  # noqa: E731
            row("latency_p99_ms", "%.2f ms (goal < 5; p50 %.2f, max %.2f; %d frames, last byte into the socat pty "
                "to the state document at mosquitto_sub)" % (p(0.99), p(0.5), lat[-1] * 1000, len(lat)))
        else:
            row("latency_p99_ms", "not measured (%d frames timed, %d without a message)" % (len(lat), missing))

        # the silent meter: no input, no watchdog
        sub.stop()
        sub = None
        time.sleep(6)  # the last frame's messages and the STATUS= after them (at most every 5 s) go out
        c0 = context_switches(pid)
        time.sleep(args.idle_seconds)  # the measurement window, not a synchronisation
        c = context_switches(pid) - c0
        row("daemon_idle_wakeups_per_min", "%.0f (goal <= 2; %d context switches in %d s with the meter silent, "
            "scaled to 60 s; NOTIFY_SOCKET set, no WATCHDOG_USEC)" % (c * 60.0 / args.idle_seconds, c,
                                                                   args.idle_seconds))
        rc, _ = daemon.stop()
        if rc != 0:
            print("# kaifa-meterd exited %s" % rc, file=sys.stderr)
    finally:
        k.cleanup(sub, daemon, pty)


COST_SPEED = 50  # slow enough for the daemon under callgrind or strace


def measured_hour(args, work, broker, notify, name, wrap, start):
    """A fresh daemon (argv prefix wrap) on one simulated hour (1,800 frames)
    written at COST_SPEED times real time; start(pid) runs once it is READY
    and returns what to call after the last frame is decoded. Returns
    (frames written, all decoded, what that call returned)."""
    notify.messages.clear()
    pty = k.Pty(work, name=name)
    daemon = None
    try:
        pty.start()
        daemon = k.Daemon(work, config(pty.meter, broker, "[meter]\nstale_after = 3600\n"),
                          env={"NOTIFY_SOCKET": notify.path}, name=name, wrap=wrap, preexec=daemon_limits)
        daemon.start()
        if not notify.wait_line(lambda l: l == "READY=1", 60):
            raise RuntimeError("kaifa-meterd did not send READY=1: " + daemon.logtext()[-300:])
        finish = start(daemon.proc.pid)
        sim = subprocess.run([args.cli, "simulate", "--speed", str(COST_SPEED), "--duration", "1h",
                              "--start", "2026-01-01T00:00:00", "--stats", "-o", pty.feeder],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)
        m = re.search(r"frames written: (\d+)", sim.stderr.decode())
        sent = int(m.group(1)) if m else 0
        ok = k.wait_for(lambda: decoded(notify) == sent, 60)
        return sent, ok, finish()
    finally:
        if daemon:
            daemon.stop(30)
        k.cleanup(pty)


def instructions_per_frame(args, work, broker, notify):
    """User-space instructions per frame, counted by callgrind from READY=1
    to the last frame: the daemon's own work, the same on any x86_64 machine
    whatever else it is doing (CPU seconds on a VM are not)."""
    out = work.file("callgrind.out")

    def start(pid):
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "check": True, "timeout": 60}
        subprocess.run(["callgrind_control", "--instr=on", str(pid)], **quiet)
        return lambda: subprocess.run(["callgrind_control", "--dump", str(pid)], **quiet)
    wrap = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file=" + out]
    sent, ok, _ = measured_hour(args, work, broker, notify, "callgrind", wrap, start)
    totals = 0
    for name in os.listdir(os.path.dirname(out)):
        if name.startswith("callgrind.out."):  # the dump (.1); callgrind.out at exit holds the stop
            with open(os.path.join(os.path.dirname(out), name)) as f:
                totals += sum(int(l.split()[1]) for l in f if l.startswith("totals:"))
    if ok and sent and totals:
        row("daemon_instructions_per_frame", "%.0f (no goal; callgrind, user space, %d frames of one simulated hour "
            "at %dx, from READY=1 to the last frame decoded)" % (totals / sent, sent, COST_SPEED))
    else:
        row("daemon_instructions_per_frame", "not measured (%d frames written, all decoded: %s)" % (sent, ok))


def syscalls_per_frame(args, work, broker, notify):
    """System calls per frame (strace -c attached from READY=1 to the last
    frame), with the most frequent beside: what the kernel is asked."""
    out = work.file("strace.out")
    holder = {}

    def start(pid):
        holder["proc"] = subprocess.Popen(["strace", "-c", "-f", "-o", out, "-p", str(pid)],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        holder["proc"].stderr.readline()  # "strace: Process N attached"

        def finish():
            holder["proc"].send_signal(2)
            holder["proc"].wait(60)
        return finish
    sent, ok, _ = measured_hour(args, work, broker, notify, "strace", [], start)
    calls = {}
    with open(out) as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 5 and fields[0][0].isdigit() and fields[-1] != "total":
                calls[fields[-1]] = int(fields[3])
    total = sum(calls.values())
    if ok and sent and total:
        top = sorted(calls.items(), key=lambda kv: -kv[1])[:6]
        row("daemon_syscalls_per_frame", "%.2f (no goal; strace -c, %d frames at %dx: %s)" % (
            total / sent, sent, COST_SPEED, ", ".join("%s %.2f" % (n, c / sent) for n, c in top)))
    else:
        row("daemon_syscalls_per_frame", "not measured (%d frames written, all decoded: %s)" % (sent, ok))


def read_until(sub, stop):
    """Reads the subscriber's lines until stop is set."""
    while not stop.is_set():
        sub.read(0.2)


def rchar(pid):
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    return 0


def floor_day(args, work):
    """The same simulated day into a pty read by pty-floor (one wake-up and
    one read per frame, nothing else): what the machine charges for the
    frames themselves."""
    pty = k.Pty(work, name="floor")
    proc = None
    try:
        pty.start()
        proc = subprocess.Popen([args.floor, pty.meter], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        t0 = cpu_seconds(proc.pid)
        sim = subprocess.run([args.cli, "simulate", "--speed", str(args.day_speed), "--duration", "1d",
                              "--start", "2026-01-01T00:00:00", "--stats", "-o", pty.feeder],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=7200)
        m = re.search(r"frames written: (\d+)", sim.stderr.decode())
        sent = int(m.group(1)) if m else 0
        # the last frames are read within milliseconds; wait until nothing more comes
        last = [-1]

        def settled():
            now = rchar(proc.pid)
            done = now == last[0]
            last[0] = now
            return done
        k.wait_for(settled, 10, 0.25)
        cpu = cpu_seconds(proc.pid) - t0
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
        row("daemon_floor_cpu_s_per_day", "%.2f s (no goal: pty-floor, which only wakes and reads, on the same %d "
            "frames through a socat pty at %sx; %s)" % (cpu, sent, args.day_speed, out.decode().strip()))
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        k.cleanup(pty)


# ---- the fleet ---------------------------------------------------------------

def crc16_x25(data):
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc ^ 0xFFFF


def with_meter_id(frame, meter_id):
    """The frame with the simulator's meter id replaced (same length) and its
    FCS made again; the header and its HCS do not change."""
    old = SIM_METER_ID.encode()
    if old not in frame:
        return frame
    body = frame[1:-3].replace(old, meter_id.encode())
    fcs = crc16_x25(body)
    return b"\x7e" + body + bytes([fcs & 0xFF, fcs >> 8]) + b"\x7e"


class Fleet:
    """N simulated meters, each on a listening socket of its own (the daemon
    takes each port for one meter only), all in this one process: meter k
    sends the next frame of its own stream every period seconds, the meters
    spread evenly over the period."""

    def __init__(self, n, frames_by_meter, period=2.0):
        self.n = n
        self.frames = frames_by_meter
        self.period = period
        self.writers = [None] * n
        self.servers = []
        self.ports = []
        self.sent = 0
        self.rounds_done = 0

    async def listen(self):
        for m in range(self.n):
            server = await asyncio.start_server(lambda r, w, m=m: self.on_connect(m, r, w), "127.0.0.1", 0)
            self.servers.append(server)
            self.ports.append(server.sockets[0].getsockname()[1])

    def connected(self):
        return sum(1 for w in self.writers if w is not None)

    async def on_connect(self, m, reader, writer):
        self.writers[m] = writer
        try:
            while await reader.read(4096):
                pass
        except (ConnectionError, asyncio.CancelledError):
            pass

    async def send(self, seconds):
        """Sends for seconds, each meter's frames going on where the last
        call left them; returns the frames sent in all."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        rounds = int(seconds / self.period)
        first = self.rounds_done
        self.rounds_done += rounds
        for r in range(first, first + rounds):
            for i in range(self.n):
                due = start + (r - first) * self.period + i * self.period / self.n
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                w = self.writers[i]
                if w is None or w.is_closing():
                    continue
                fr = self.frames[i]
                w.write(fr[r % len(fr)])
                self.sent += 1
        return self.sent

    def close(self):
        for w in self.writers:
            if w is not None:
                w.close()
        for s in self.servers:
            s.close()


async def fleet_run(args, work, broker, notify):
    n = args.fleet_n
    base = simulate_frames(args.cli, work, 2 * 60, "2026-01-03T00:00:00")
    frames = [[with_meter_id(f, "%016d" % (7000000000000000 + m)) for f in base] for m in range(n)]
    fleet = Fleet(n, frames)
    await fleet.listen()
    meters = "".join("[meter.m%04d]\nport = tcp://127.0.0.1:%d\n" % (m, fleet.ports[m]) for m in range(n))
    conf = ("[mqtt]\nhost = 127.0.0.1\nport = %d\nclient_id = kmd-fleet-%d\n\n[log]\nlevel = info\n\n%s"
            % (broker.port, os.getpid(), meters))
    daemon = k.Daemon(work, conf, env={"NOTIFY_SOCKET": notify.path}, name="fleet", preexec=daemon_limits)
    daemon.start()
    sub = None
    try:
        ok = await asyncio.to_thread(k.wait_for, lambda: "READY=1" in [l for _, l in notify.lines()]
                                     or not daemon.alive(), 30)
        if not daemon.alive():
            return "unavailable (kaifa-meterd with %d [meter.NAME] sections exited %s: %s)" % (
                n, daemon.proc.returncode, daemon.logtext().strip().splitlines()[-1:])
        deadline = time.monotonic() + 30 * k.TIMEOUT_SCALE
        while fleet.connected() < n and time.monotonic() < deadline and daemon.alive():
            await asyncio.sleep(0.1)
        pid = daemon.proc.pid
        if fleet.connected() < n:
            return "unavailable (%d of %d meters connected; %s fds open, limit %s/%s; log: %s)" % (
                fleet.connected(), n, fd_count(pid) if daemon.alive() else "-", *nofile_limit(pid),
                daemon.logtext().strip().splitlines()[-1:])
        fds = fd_count(pid)
        limit = nofile_limit(pid)
        sub = Sub(broker, "kaifa/+/state")
        await asyncio.to_thread(wait_subscribed, broker, sub, "kaifa/probe/state")
        await asyncio.to_thread(sub.drain)
        # the first frame of each meter names it: its discovery documents,
        # availability and first values (about 40 messages a meter) are the
        # start, reported apart; the steady state is measured after it
        s0 = cpu_seconds(pid)
        await fleet.send(2 * fleet.period)
        await asyncio.to_thread(k.wait_for, lambda: (decoded(notify) or 0) >= fleet.sent, 20)
        start_cpu = cpu_seconds(pid) - s0
        warm = fleet.sent
        count0 = sub.count
        # the subscriber is read all along: a full pipe would make the broker
        # drop QoS 0 messages to it, and the count would be of the reader
        reading = threading.Event()
        reader = asyncio.create_task(asyncio.to_thread(read_until, sub, reading))
        c0, w0 = cpu_seconds(pid), time.monotonic()
        await fleet.send(args.fleet_seconds)
        c1, w1 = cpu_seconds(pid), time.monotonic()
        sent = fleet.sent
        # frames lost = sent - decoded (STATUS=); the state documents are
        # counted too, but a topic's waiting messages are merged (newest
        # wins) when the broker falls behind, so fewer may arrive
        await asyncio.to_thread(k.wait_for, lambda: (decoded(notify) or 0) >= sent, 20)
        reading.set()
        await reader
        await asyncio.to_thread(sub.drain)
        got = sub.count - count0
        status = decoded(notify) or 0
        if status < sent:
            print("# frames lost; the daemon's last STATUS= and log lines:\n# %s\n%s" % (
                [l for _, l in notify.lines() if l.startswith("STATUS=")][-1:],
                "\n".join("# " + l for l in daemon.logtext().splitlines() if "marked offline" not in l)[-3000:]), file=sys.stderr)
        pct = 100.0 * (c1 - c0) / (w1 - w0)
        return (n, "%.1f %% (goal <= 10; %.2f CPU s in %.0f s after the start; %d frames sent, %d decoded "
                   "(STATUS=), %d lost; %d state documents at a subscriber, %d MQTT messages dropped; %d fds open, "
                   "NOFILE limit %s soft / %s hard)" % (pct, c1 - c0, w1 - w0, sent, status, max(0, sent - status),
                                                        got, dropped(notify), fds, limit[0], limit[1]),
                "%.2f s (the first %d frames: every meter named, announced to Home Assistant and online)"
                % (start_cpu, warm))
    finally:
        if sub:
            sub.stop()
        daemon.stop()
        fleet.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--daemon", required=True)
    ap.add_argument("--cli", required=True)
    ap.add_argument("--no-fleet", action="store_true")
    ap.add_argument("--floor", help="pty-floor (bench/pty_floor.c): also measure daemon_floor_cpu_s_per_day")
    ap.add_argument("--fleet-only", action="store_true")
    ap.add_argument("--cost", action="store_true",
                    help="also daemon_instructions_per_frame (valgrind) and daemon_syscalls_per_frame (strace)")
    ap.add_argument("--day-speed", type=float, default=float(os.environ.get("KM_BENCH_DAY_SPEED", "500")))
    ap.add_argument("--idle-seconds", type=int, default=int(os.environ.get("KM_BENCH_IDLE_SECONDS", "20")))
    ap.add_argument("--latency-frames", type=int, default=1000)
    ap.add_argument("--fleet-n", type=int, default=int(os.environ.get("KM_BENCH_FLEET_N", "1000")))
    ap.add_argument("--fleet-seconds", type=int, default=int(os.environ.get("KM_BENCH_FLEET_SECONDS", "60")))
    args = ap.parse_args()
    k.DAEMON = args.daemon
    k.need(args.daemon, args.cli, "mosquitto", "mosquitto_sub", "socat")
    # the server side of the fleet needs a socket per meter
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    work = k.Workdir()
    broker = k.Broker(work)
    notify = k.NotifyListener(work)
    try:
        broker.start()
        if not args.fleet_only:
            day_and_latency(args, work, broker, notify)
            if args.floor:
                floor_day(args, work)
            if args.cost:
                instructions_per_frame(args, work, broker, notify)
                syscalls_per_frame(args, work, broker, notify)
        if not args.no_fleet:
            notify.messages.clear()
            r = asyncio.run(fleet_run(args, work, broker, notify))
            if isinstance(r, tuple):
                row("fleet_meters", "%d meters (one daemon, tcp:// on loopback, a frame every 2 s each)" % r[0])
                row("fleet_cpu_pct", r[1])
                row("fleet_start_cpu_s", r[2])
            else:
                row("fleet_meters", r)
                row("fleet_cpu_pct", "not measured (no fleet)")
    finally:
        k.cleanup(notify, broker)
        work.cleanup()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Two template instances side by side, as kaifa-meter@a.service and
kaifa-meter@b.service run them: one broker, configs a.conf and b.conf in one
directory (ExecStart= -c DIR/%i.conf) without [mqtt] client_id, each meter on
its own pty, and each daemon in the cgroup systemd gives an instance
(.../kaifa-meter@a.service), which is where the daemon reads its instance name
from (sd_pid_get_unit), with the instance's STATE_DIRECTORY. Checks: the
default client ids are kaifa-meterd-HOST-a and -b, both meters publish, each
bridge topic says online, and the broker log shows each client connecting
exactly once (no "already connected" takeover, no reconnect loop).

Needs root and a writable cgroup2 hierarchy to place the daemons in; without
them the test is skipped (exit 77)."""
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kmtest as k  # noqa: E402

CLI = os.environ.get("KM_CLI")
METERS = {"a": "7359992890940001", "b": "7359992890940002"}


def cgroup2_root():
    """Where the cgroup2 hierarchy is mounted (pure or hybrid), or None."""
    with open("/proc/self/mounts") as f:
        for line in f:
            dev, mnt, fstype = line.split()[:3]
            if fstype == "cgroup2":
                return mnt
    return None


def make_unit_cgroup(root, instance):
    """<root>/kmtest-PID.slice/kaifa-meter@INSTANCE.service; its path."""
    path = os.path.join(root, "kmtest-%d.slice" % os.getpid(), "kaifa-meter@%s.service" % instance)
    os.makedirs(path, exist_ok=True)
    return path


def remove_cgroups(root):
    top = os.path.join(root, "kmtest-%d.slice" % os.getpid())
    for name in sorted(os.listdir(top)) if os.path.isdir(top) else []:
        try:
            os.rmdir(os.path.join(top, name))
        except OSError as e:
            print("cleanup: %s: %s" % (name, e))
    try:
        os.rmdir(top)
    except OSError:
        pass


def in_cgroup(path):
    """preexec: the child moves itself into the unit's cgroup before exec."""
    def move():
        with open(os.path.join(path, "cgroup.procs"), "w") as f:
            f.write("0")
    return move


def config(port_path, broker_port):
    return ("[serial]\nport = %s\n\n[mqtt]\nhost = 127.0.0.1\nport = %d\n\n[log]\nlevel = info\n"
            % (port_path, broker_port))


def main():
    k.need(k.DAEMON, CLI or "kaifa-meter", "mosquitto", "socat")
    root = cgroup2_root()
    if os.geteuid() != 0 or not root or not os.access(root, os.W_OK):
        print("skip - needs root and a writable cgroup2 hierarchy to run the daemons as template units")
        sys.exit(77)
    work = k.Workdir()
    broker = k.Broker(work)
    ptys = {i: k.Pty(work, "meter-" + i) for i in METERS}
    daemons = {}
    host = socket.gethostname()
    try:
        with open(broker.conf, "a") as f:
            f.write("log_type all\nconnection_messages true\n")
        broker.start()
        try:
            cgroups = {i: make_unit_cgroup(root, i) for i in METERS}
        except OSError as e:
            print("skip - cannot make a cgroup under %s: %s" % (root, e))
            sys.exit(77)
        for i, meter_id in METERS.items():
            ptys[i].start()
            state = work.file("state-" + i)
            os.makedirs(state)
            # a.conf and b.conf in one directory, as the template unit names them (%i.conf)
            d = k.Daemon(work, config(ptys[i].meter, broker.port), name=i,
                         env={"STATE_DIRECTORY": state}, preexec=in_cgroup(cgroups[i]))
            d.start()
            daemons[i] = d
        for i, d in daemons.items():
            k.check(bool(k.wait_for(lambda: "connected" in d.logtext(), 10)), "instance %s connects" % i)
            with open("/proc/%d/cgroup" % d.proc.pid) as f:
                k.check(("/kaifa-meter@%s.service" % i) in f.read(), "instance %s runs in kaifa-meter@%s.service" % (i, i))

        for i, meter_id in METERS.items():
            frames = subprocess.run([CLI, "simulate", "--speed", "0", "--duration", "30s", "--meter-id", meter_id,
                                     "--start", "2026-01-15T12:00:00"], stdout=subprocess.PIPE, check=True,
                                    timeout=30).stdout
            ptys[i].write(frames, pause=0.01)
        for i, meter_id in METERS.items():
            topic = "kaifa/%s/meter_id" % meter_id
            k.check(bool(k.wait_for(lambda: broker.retained(["kaifa/#"], 1).get(topic) == meter_id, 10, 0.3)),
                    "instance %s publishes meter %s" % (i, meter_id))

        want = {i: "kaifa-meterd-%s-%s" % (host, i) for i in METERS}
        for i, d in daemons.items():
            k.check(("MQTT client id %s" % want[i]) in d.logtext(), "instance %s: client id %s" % (i, want[i]))
        retained = broker.retained(["kaifa/bridge/#"], 1)
        for i in METERS:
            k.check(retained.get("kaifa/bridge/%s/status" % want[i]) == "online",
                    "instance %s: its bridge topic says online" % i)
        for i, d in daemons.items():
            rc, _ = d.stop()
            k.check(rc == 0, "instance %s: SIGTERM: exit 0" % i)
        with open(work.file("mosquitto.log"), errors="replace") as f:
            blog = f.read()
        k.check("already connected" not in blog, "no client was thrown off (broker log)")
        for i in METERS:
            n = blog.count("as %s " % want[i])
            k.check(n == 1, "%s connected once (%d times)" % (want[i], n))
    finally:
        k.cleanup(*daemons.values())
        k.cleanup(*ptys.values())
        k.cleanup(broker)
        if root:
            remove_cgroups(root)
        if k.FAILURES:
            for d in daemons.values():
                print("--- %s ---\n%s" % (d.logpath, d.logtext()))
        work.cleanup()
    k.finish()


if __name__ == "__main__":
    main()

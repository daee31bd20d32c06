#!/usr/bin/env python3
"""Which QoS each kind of message goes at, seen by a QoS 1 subscriber (it
gets the lower of the publisher's QoS and its own): momentary values and the
state document at [mqtt] measurement_qos (0 by default), registers,
identification, availability and discovery at [mqtt] qos (1). A topic keeps
one QoS. Identification the meter repeats in every list is sent once, not
with each list. With measurement_qos = 1 the momentary values go at 1."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kmtest as k  # noqa: E402

ID = k.METER_ID
MOMENTARY = ["power_active_import", "power_reactive_import", "phase_voltage_l1", "phase_current_l1", "state"]
KEPT = ["energy_active_cum_import", "meter_type", "obis_version", "status"]


class QosSubscriber:
    """mosquitto_sub at QoS 1 printing "QOS TOPIC" per message (-R: not what
    an earlier run left retained)."""

    def __init__(self, work, broker, name):
        self.path = work.file(name)
        self.log = open(self.path, "w")
        cmd = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1", "-R", "-F", "%q %t",
               "-t", "kaifa/#", "-t", "homeassistant/#", "-t", "probe/#"]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.DEVNULL)
        # subscribed once a message of our own comes through
        ok = k.wait_for(lambda: broker.publish("probe/x", "1") is None and self.count("probe/x") > 0, 10, 0.2)
        k.check(bool(ok), "subscriber is subscribed")

    def pairs(self):
        with open(self.path) as f:
            return [tuple(l.split(" ", 1)) for l in f.read().splitlines() if " " in l]

    def count(self, topic):
        return sum(1 for _, t in self.pairs() if t == topic)

    def qos_of(self, topic):
        return sorted({int(q) for q, t in self.pairs() if t == topic})

    def stop(self):
        self.proc.terminate()
        self.proc.wait(5)
        self.log.close()


def run(work, broker, pty, frames, extra, name):
    sub = QosSubscriber(work, broker, name + ".sub")
    daemon = k.Daemon(work, k.daemon_config(pty.meter, broker.port, extra), name=name)
    try:
        daemon.start()
        # connected first: the values of a reconnect (all sent again) are not counted here
        bridge = "kaifa/bridge/kmd-test-%d/status" % os.getpid()
        k.check(bool(k.wait_for(lambda: sub.count(bridge) > 0, 10, 0.1)), "%s: connected" % name)
        pty.write(b"".join(frames), pause=0.01)
        last = "kaifa/%s/energy_active_cum_import" % ID
        state = "kaifa/%s/state" % ID
        k.check(bool(k.wait_for(lambda: sub.count(last) > 0 and sub.count(state) >= len(frames) * 95 // 100, 20, 0.2)),
                "%s: the frames' messages arrived (%d state documents for %d frames, %d %s)"
                % (name, sub.count(state), len(frames), sub.count(last), last))
        rc, _ = daemon.stop()
        k.check(rc == 0, "%s: exit 0" % name)
        return sub
    finally:
        sub.stop()
        k.cleanup(daemon)


def main():
    k.need(k.DAEMON, "mosquitto", "mosquitto_sub", "socat")
    work = k.Workdir()
    broker = k.Broker(work)
    pty = k.Pty(work)
    try:
        frames = k.split_frames(open(k.KAIFA_T4, "rb").read())
        broker.start()
        pty.start()

        sub = run(work, broker, pty, frames, "", "default")
        lists2 = sub.count("kaifa/%s/phase_voltage_l1" % ID)
        for name in MOMENTARY:
            got = sub.qos_of("kaifa/%s/%s" % (ID, name))
            k.check(got == [0], "default: %s at QoS 0 only (%s)" % (name, got))
        for name in KEPT:
            got = sub.qos_of("kaifa/%s/%s" % (ID, name))
            k.check(got == [1], "default: %s at QoS 1 only (%s)" % (name, got))
        configs = [t for q, t in sub.pairs() if t.startswith("homeassistant/") and t.endswith("/config")]
        k.check(configs and all(sub.qos_of(t) == [1] for t in configs),
                "default: %d discovery configs at QoS 1" % len(configs))
        k.check(lists2 > 100, "default: %d lists with voltages went out" % lists2)
        for name in ("meter_type", "obis_version", "meter_id"):
            n = sub.count("kaifa/%s/%s" % (ID, name))
            k.check(n == 1, "default: %s sent once for %d lists carrying it (%d)" % (name, lists2, n))

        sub = run(work, broker, pty, frames, "measurement_qos = 1\n", "qos1")
        for name in MOMENTARY + KEPT:
            got = sub.qos_of("kaifa/%s/%s" % (ID, name))
            k.check(got == [1], "measurement_qos = 1: %s at QoS 1 only (%s)" % (name, got))
    finally:
        k.cleanup(pty, broker)
        work.cleanup()
    k.finish()


if __name__ == "__main__":
    main()

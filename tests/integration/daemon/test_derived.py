#!/usr/bin/env python3
"""kaifa-meterd's derived values (issue 13) against an independent model.

The simulated Kaifa meter (`kaifa-meter simulate --timezone Europe/Oslo
--start ... --seed ...`, its clock in local time with the DST change) runs
over the October 2026 DST day (25 hours) and, in a second run, over the end
of the month. Its frames go through a socat pty into the daemon; the test
decodes the same frames with `kaifa-meter parse-file --compact` and works out
every derived value itself, in Python, from the definition:

- this hour: the trapezoid of the active power over the meter's clock,
  cut at the hour; last hour: the difference of the registers the hourly
  list carries (frozen at xx:00:00), booked to the hour that ended; today:
  the finished hours of the local day plus the open one;
- capacity: the best hour of each day of the month, the top three on
  distinct days, their mean, the step (0-2, 2-5, 5-10, ... kW), the
  projected mean with the open hour, and the headroom to the next step.

Checks: every hourly value published (last hour with its start/end
attributes, top three with its attributes, average, step) equals the
model's, in order; every running value published (this hour, today,
projected, headroom: at most every 10 s) is one the model had after some
frame, in order; the 25-hour day books 25 distinct hours, none twice, none
missing. A second run of the same frames with a restart in the middle of
each of the two 02:00 hours and another across midnight publishes the same
figures (the state file). A meter clock that jumps back is said once and
the frames are placed by receive time. A corrupt state file costs one log line and a
fresh start, never the daemon. The discovery configs of the new entities
pass ha_check (Home Assistant's rules for device class, state class and
unit) with 0 failures and 0 warnings.
"""
import datetime
import json
import os
import re
import signal
import subprocess
import sys
from zoneinfo import ZoneInfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ha_check  # noqa: E402
import kmtest as k  # noqa: E402

CLI = os.environ.get("KM_CLI")
ZONE = "Europe/Oslo"
TZ = ZoneInfo(ZONE)
METER = "7359992890941742"
PREFIX = "kaifa/%s/" % METER
STEPS = [(0, 2), (2, 5), (5, 10), (10, 15), (15, 20), (20, 25), (25, 50), (50, 75), (75, 100)]
LIVE = ["energy_import_this_hour", "energy_export_this_hour", "energy_import_today", "energy_export_today",
        "capacity_average_projected", "capacity_headroom"]
HOURLY = ["energy_import_last_hour", "energy_export_last_hour", "capacity_top3", "capacity_average",
          "capacity_step"]
ATTRS = ["energy_import_last_hour", "energy_export_last_hour", "capacity_top3"]
HOUR = 3600


# ---- the model ---------------------------------------------------------------

def wall_of(reading):
    t = reading.get("notification_time")
    return datetime.datetime.strptime(t[:19], "%Y-%m-%d %H:%M:%S") if t else None


def instant(wall, hint):
    """The instant of a local wall clock; of two (autumn), the one nearer hint."""
    found = []
    for fold in (0, 1):
        ts = int(wall.replace(tzinfo=TZ, fold=fold).timestamp())
        if datetime.datetime.fromtimestamp(ts, TZ).replace(tzinfo=None) == wall and ts not in found:
            found.append(ts)
    return min(found, key=lambda ts: abs(ts - hint))


def local(ts):
    return datetime.datetime.fromtimestamp(ts, TZ)


def hour_of(ts):
    lt = local(ts)
    return ts - lt.minute * 60 - lt.second


def day_of(ts):
    d = local(ts).date()
    start = int(datetime.datetime(d.year, d.month, d.day, tzinfo=TZ).timestamp())
    n = d + datetime.timedelta(days=1)
    return start, int(datetime.datetime(n.year, n.month, n.day, tzinfo=TZ).timestamp()), d


def month_of(ts):
    d = local(ts).date()
    start = int(datetime.datetime(d.year, d.month, 1, tzinfo=TZ).timestamp())
    ny, nm = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    return start, int(datetime.datetime(ny, nm, 1, tzinfo=TZ).timestamp())


def iso(ts):
    return local(ts).isoformat()


def kwh(wh):
    return "%.3f" % (wh / 1000)


def step_text(avg):
    for lo, hi in STEPS:
        if avg < hi:
            return "%g-%g" % (lo, hi)
    return "above %g" % STEPS[-1][1]


def top3(best, extra_day=None, extra_wh=0.0):
    """best: {mday: (wh, hour start)}; the three best days, best first (ties: earlier day)."""
    days = dict(best)
    if extra_day and (extra_day not in days or extra_wh > days[extra_day][0]):
        days[extra_day] = (extra_wh, 0)
    order = sorted(days.items(), key=lambda kv: (-kv[1][0], kv[0]))[:3]
    return [(mday, wh, start) for mday, (wh, start) in order]


def average(top):
    return sum(wh for _, wh, _ in top) / len(top) / 1000 if top else 0.0


def headroom(best, mday, hour_wh):
    avg = average(top3(best, mday, hour_wh))
    limit = next((hi for lo, hi in STEPS if avg < hi), None)
    if limit is None:
        return None
    others = sorted((wh for d, (wh, _) in best.items() if d != mday), reverse=True)
    n = min(3, len(others) + 1)
    room = n * limit * 1000 - sum(others[:n - 1]) - hour_wh
    return max(room, 0)


class Model:
    def __init__(self):
        self.last_t = None
        self.held = [0.0, 0.0]      # the last power of each direction
        self.sample = None          # (t, [import W, export W])
        self.hour = None
        self.hour_ws = [0.0, 0.0]
        self.day = None             # (start, end, date)
        self.day_wh = [0.0, 0.0]
        self.month = None
        self.best = {}              # mday -> (Wh, hour start)
        self.pending = None         # [start, mday or 0, ws]
        self.reg = None             # (boundary, [Wh, Wh])
        self.last = None            # (start, [Wh, Wh])
        self.booked = []            # (hour start, import Wh) of every register-booked hour
        self.first = True
        self.live = []              # per frame: {key: payload}
        self.hourly = []            # publishes: {key: payload}, {key: attributes}

    def in_day(self, ts):
        return self.day[0] <= ts < self.day[1]

    def book(self, start, mday, wh):
        if self.in_day(start):
            self.day_wh = [self.day_wh[i] + wh[i] for i in range(2)]
        if mday:
            if mday not in self.best or wh[0] > self.best[mday][0]:
                self.best[mday] = (wh[0], start)

    def book_estimate(self, ev):
        if self.pending:
            start, mday, ws = self.pending
            self.book(start, mday, [ws[0] / HOUR, ws[1] / HOUR])
            self.pending = None
            ev.add("estimated")

    def advance(self, ts, ev):
        if self.hour is not None and self.hour <= ts < self.hour + HOUR:
            return
        hs = hour_of(ts)
        if self.hour is not None:
            self.book_estimate(ev)
            self.pending = [self.hour, self.day[2].day, list(self.hour_ws)]
        self.hour = hs
        self.hour_ws = [0.0, 0.0]
        ev.add("hour")
        if self.day is None or not self.in_day(hs):
            self.day = day_of(hs)
            self.day_wh = [0.0, 0.0]
            if self.month is None or not (self.month[0] <= hs < self.month[1]):
                self.month = month_of(hs)
                self.best = {}
                if self.pending:
                    self.pending[1] = 0
                ev.add("month")

    def power(self, ts, w, ev):
        if self.sample and ts <= self.sample[0]:
            return
        t0, w0 = self.sample if self.sample else (None, None)
        if not self.sample or ts - t0 > 900 or t0 < self.hour:
            self.advance(ts, ev)
        else:
            b = self.hour + HOUR
            if ts < b:
                for i in range(2):
                    self.hour_ws[i] += (w0[i] + w[i]) * 0.5 * (ts - t0)
            else:
                pb = [w0[i] + (w[i] - w0[i]) * (b - t0) / (ts - t0) for i in range(2)]
                for i in range(2):
                    self.hour_ws[i] += (w0[i] + pb[i]) * 0.5 * (b - t0)
                self.advance(ts, ev)
                for i in range(2):
                    self.hour_ws[i] += (pb[i] + w[i]) * 0.5 * (ts - b)
        self.sample = (ts, list(w))

    def registers(self, ts, wh, ev):
        boundary = self.hour if self.hour is not None and self.hour <= ts < self.hour + HOUR else hour_of(ts)
        if self.hour is None or boundary > self.hour:
            self.advance(boundary, ev)
        if self.reg and boundary == self.reg[0]:
            return
        if self.reg and boundary == self.reg[0] + HOUR and all(wh[i] >= self.reg[1][i] for i in range(2)):
            start = self.reg[0]
            diff = [wh[i] - self.reg[1][i] for i in range(2)]
            if self.pending and self.pending[0] != start:
                self.book_estimate(ev)
            in_month = self.month[0] <= start < self.month[1]
            mday = local(start).day if in_month else 0
            if self.pending and self.pending[0] == start:
                self.pending = None
            self.book(start, mday, diff)
            self.last = (start, diff)
            self.booked.append((start, diff[0]))
            ev.add("booked")
        elif self.pending and self.pending[0] < boundary:
            self.book_estimate(ev)
        self.reg = (boundary, list(wh))

    def frame(self, rd):
        d = rd["data"]
        # list 1 carries the import alone: the export keeps its last value
        for i, name in enumerate(("power_active_import", "power_active_export")):
            if name in d:
                self.held[i] = float(d[name]["value"])
        w = list(self.held)
        has_reg = "energy_active_cum_import" in d
        wall = wall_of(rd)
        hint = self.last_t if self.last_t is not None else int(datetime.datetime.now().timestamp())
        ct = instant(wall, hint)
        if self.last_t is None or ct >= self.last_t:
            ts, power = ct, True
        else:  # the hourly list's frozen clock
            ts, power = self.last_t, False
        ev = set()
        if power:
            self.power(ts, w, ev)
        if has_reg:
            wh = [round(d["energy_active_cum_import"]["value"] * 1000),
                  round(d["energy_active_cum_export"]["value"] * 1000)]
            self.registers(ct, wh, ev)
        self.last_t = ts
        self.live.append(self.live_values())
        if self.first or ev & {"booked", "estimated", "month"}:
            self.hourly.append(self.hourly_values())
        self.first = False
        return ev

    def today(self, i):
        wh = self.day_wh[i] + self.hour_ws[i] / HOUR
        if self.pending and self.in_day(self.pending[0]):
            wh += self.pending[2][i] / HOUR
        return wh

    def live_values(self):
        v = {"energy_import_this_hour": kwh(self.hour_ws[0] / HOUR),
             "energy_export_this_hour": kwh(self.hour_ws[1] / HOUR),
             "energy_import_today": kwh(self.today(0)), "energy_export_today": kwh(self.today(1))}
        best = dict(self.best)
        if self.pending and self.pending[1]:
            start, mday, ws = self.pending
            if mday not in best or ws[0] / HOUR > best[mday][0]:
                best[mday] = (ws[0] / HOUR, start)
        hour_wh = self.hour_ws[0] / HOUR
        mday = self.day[2].day
        v["capacity_average_projected"] = "%.3f" % average(top3(best, mday, hour_wh))
        room = headroom(best, mday, hour_wh)
        if room is not None:
            v["capacity_headroom"] = kwh(room)
        return v

    def hourly_values(self):
        v, a = {}, {}
        if self.last:
            start, wh = self.last
            attrs = {"start": iso(start), "end": iso(start + HOUR)}
            v["energy_import_last_hour"], v["energy_export_last_hour"] = kwh(wh[0]), kwh(wh[1])
            a["energy_import_last_hour"] = a["energy_export_last_hour"] = attrs
        top = top3(self.best)
        a["capacity_top3"] = {"hours": [{"day": iso(s)[:10], "start": iso(s), "end": iso(s + HOUR),
                                         "kwh": round(wh / 1000, 3)} for _, wh, s in top]}
        v["capacity_top3"] = kwh(top[-1][1]) if top else "0.000"
        avg = average(top)
        v["capacity_average"] = "%.3f" % avg
        v["capacity_step"] = step_text(avg)
        return v, a


# ---- what Home Assistant needs beyond ha_check ------------------------------

# key -> (device_class, state_class, unit)
CLASSES = {
    "energy_import_this_hour": ("energy", "total_increasing", "kWh"),
    "energy_export_this_hour": ("energy", "total_increasing", "kWh"),
    "energy_import_today": ("energy", "total_increasing", "kWh"),
    "energy_export_today": ("energy", "total_increasing", "kWh"),
    "energy_import_last_hour": ("energy", "total", "kWh"),
    "energy_export_last_hour": ("energy", "total", "kWh"),
    "capacity_top3": ("power", "measurement", "kW"),
    "capacity_average": ("power", "measurement", "kW"),
    "capacity_average_projected": ("power", "measurement", "kW"),
    "capacity_headroom": ("energy_storage", "measurement", "kWh"),
    "capacity_step": (None, None, None),
}


def derived_checks(configs, retained):
    """The classes chosen, the attributes topics (a JSON object retained
    there), the last-hour cycle, a retained state for each."""
    failures = []
    for key, c in configs.items():
        got = (c.get("device_class"), c.get("state_class"), c.get("unit_of_measurement"))
        if got != CLASSES[key]:
            failures.append("%s: classes %s, want %s" % (key, got, CLASSES[key]))
        at = c.get("json_attributes_topic")
        if key in ATTRS:
            if at != PREFIX + key + "/attributes":
                failures.append("%s: json_attributes_topic %s" % (key, at))
            else:
                try:
                    if not isinstance(json.loads(retained.get(at, "")), dict):
                        failures.append("%s: attributes are not a JSON object" % key)
                except ValueError:
                    failures.append("%s: attributes are not JSON" % key)
        elif at:
            failures.append("%s: an attributes topic it does not fill" % key)
        reset = c.get("last_reset_value_template")
        if (c.get("state_class") == "total") != (reset == "{{ state_attr(entity_id, 'start') }}"):
            failures.append("%s: last_reset_value_template %r with state class %s" % (key, reset,
                                                                                       c.get("state_class")))
        if c.get("state_topic") != PREFIX + key:
            failures.append("%s: state topic %s" % (key, c.get("state_topic")))
        if retained.get(PREFIX + key) is None:
            failures.append("%s: no retained state" % key)
    return failures


# ---- running the daemon ------------------------------------------------------

def simulate(work, name, start, duration, seed):
    path = work.file(name + ".bin")
    subprocess.run([CLI, "simulate", "--timezone", ZONE, "--start", start, "--duration", duration, "--seed",
                    str(seed), "--speed", "0", "-o", path], check=True, timeout=120)
    data = open(path, "rb").read()
    frames = k.split_frames(data)
    out = subprocess.run([CLI, "parse-file", "--compact", path], stdout=subprocess.PIPE, check=True,
                         timeout=300).stdout
    readings = [json.loads(l) for l in out.decode().splitlines() if l.strip()]
    k.check(len(frames) == len(readings) > 0, "%s: %d frames, %d decoded by parse-file" % (name, len(frames),
                                                                                            len(readings)))
    return frames, readings


def config(pty, broker, extra=""):
    return ("[serial]\nport = %s\n\n[meter]\ntimezone = %s\n\n[mqtt]\nhost = 127.0.0.1\nport = %d\n"
            "client_id = kmd-derived-%d\nqos = 0\n\n[log]\nlevel = info\n%s" % (pty.meter, ZONE, broker.port,
                                                                            os.getpid(), extra))


def decoded(notify):
    n = None
    for _, line in notify.lines():
        m = re.match(r"STATUS=(\d+) frames decoded", line)
        if m:
            n = int(m.group(1))
    return n


class Prefixed:
    """A Workdir whose file names get a prefix (one NOTIFY_SOCKET per run)."""

    def __init__(self, work, prefix):
        self.work, self.prefix = work, prefix

    def file(self, name):
        return self.work.file(self.prefix + "-" + name)


class Run:
    """One daemon at a time on one pty, fed frames in pieces: each piece is
    decoded before the next goes (the STATUS= count), so nothing piles up."""

    def __init__(self, work, name, state_dir, extra=""):
        # a broker of its own: no retained message of another run
        broker = k.Broker(Prefixed(work, name))
        broker.start()
        self.work, self.broker, self.name = work, broker, name
        self.state_dir = state_dir
        os.makedirs(state_dir, exist_ok=True)
        self.pty = k.Pty(work, name)
        self.pty.start()
        self.sub = k.Subscriber(work, broker, [PREFIX + t for t in LIVE + HOURLY] +
                                [PREFIX + t + "/attributes" for t in ATTRS], name + "-sub.log")
        self.daemon = None
        self.starts = 0
        self.extra = extra

    def start(self):
        self.starts += 1
        if self.starts == 1:
            self.notify = k.NotifyListener(Prefixed(self.work, self.name))
        self.notify.messages.clear()
        self.daemon = k.Daemon(self.work, config(self.pty, self.broker, self.extra),
                               env={"NOTIFY_SOCKET": self.notify.path, "STATE_DIRECTORY": self.state_dir},
                               name="%s-%d" % (self.name, self.starts))
        self.daemon.start()
        k.wait_for(lambda: ": connected" in self.daemon.logtext(), 10)
        self.fed = 0

    def feed(self, frames, piece=10800):
        for i in range(0, len(frames), piece):
            part = frames[i:i + piece]
            self.pty.write(b"".join(part), chunk=65536, pause=0)
            self.fed += len(part)
            want = self.fed
            if not k.wait_for(lambda: (decoded(self.notify) or 0) >= want, 30, 0.05):
                return False
        return True

    def stop(self):
        lines = [l for _, l in self.notify.lines() if l.startswith("STATUS=")]
        self.status = lines[-1] if lines else ""
        rc, _ = self.daemon.stop(10)
        return rc

    def messages(self):
        return self.sub.messages()

    def cleanup(self):
        k.cleanup(self.daemon, self.sub, self.pty, getattr(self, "notify", None), self.broker)


def published(msgs):
    """{key: [payload, ...]} and {key: [attributes, ...]} in arrival order."""
    vals, attrs = {}, {}
    for topic, payload in msgs:
        key = topic[len(PREFIX):]
        if key.endswith("/attributes"):
            attrs.setdefault(key[:-len("/attributes")], []).append(json.loads(payload))
        else:
            vals.setdefault(key, []).append(payload)
    return vals, attrs


def dedup(seq):
    out = []
    for x in seq:
        if not out or out[-1] != x:
            out.append(x)
    return out


def is_subsequence(got, want):
    """Every got[i] is some want[j], with j never going back."""
    j = 0
    for g in got:
        while j < len(want) and want[j] != g:
            j += 1
        if j == len(want):
            return False
    return True


def check_against_model(what, model, msgs, restarts=False):
    vals, attrs = published(msgs)
    for key in HOURLY:
        want = [v[key] for v, _ in model.hourly if key in v]
        got = vals.get(key, [])
        if restarts:  # a restart publishes the hourly figures once more
            want, got = dedup(want), dedup(got)
        ok = k.check(got == want, "%s: %s published %d times, each equal to the model's" % (what, key, len(got)))
        if not ok:
            bad = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
            print("  first difference at %d: daemon %s, model %s" % (bad, got[bad:bad + 3], want[bad:bad + 3]))
    for key in ATTRS:
        want = [a[key] for _, a in model.hourly if key in a]
        got = attrs.get(key, [])
        if restarts:
            want, got = dedup(want), dedup(got)
        ok = k.check(got == want, "%s: %s attributes published %d times, equal to the model's" % (what, key, len(got)))
        if not ok:
            bad = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
            print("  first difference at %d:\n    daemon %s\n    model  %s" % (bad, got[bad:bad + 1], want[bad:bad + 1]))
    for key in LIVE:
        want = [v[key] for v in model.live if key in v]
        got = vals.get(key, [])
        ok = k.check(len(got) > 0 and is_subsequence(got, want),
                     "%s: %s published %d times, each a value of the model's, in order" % (what, key, len(got)))
        if not ok:
            print("  daemon: %s ...\n  model:  %s ..." % (got[:8], dedup(want)[:8]))
    return vals, attrs


def main():
    k.need(k.DAEMON, CLI, "mosquitto", "mosquitto_sub", "socat")
    work = k.Workdir()
    runs = []
    try:
        # the DST day: Saturday 21:00 to Monday 03:00 local, 30 hours
        frames, readings = simulate(work, "dst", "2026-10-24T21:00:00", "30h", 13)
        model = Model()
        for rd in readings:
            model.frame(rd)

        # what the model says about the 25-hour day
        oct25 = [(s, wh) for s, wh in model.booked if local(s).date() == datetime.date(2026, 10, 25)]
        starts = [s for s, _ in oct25]
        k.check(len(oct25) == 25 and len(set(starts)) == 25 and all(b - a == HOUR for a, b in zip(starts, starts[1:])),
                "model: 25 October has 25 booked hours, each once, none missing")
        twice = [iso(s) for s in starts if local(s).hour == 2]
        k.check(twice == ["2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00"],
                "model: the 02:00 hour twice, once in summer time and once in winter time (%s)" % twice)
        print("  25 October: %.3f kWh import in 25 hours" % (sum(wh for _, wh in oct25) / 1000))

        # run 1: uninterrupted
        r1 = Run(work, "run1", work.file("state1"))
        runs.append(r1)
        r1.start()
        k.check(r1.feed(frames), "run 1: all %d frames decoded" % len(frames))
        rc = r1.stop()
        k.check(rc == 0, "run 1: daemon stopped cleanly (%s)" % rc)
        vals1, attrs1 = check_against_model("run 1", model, r1.messages())
        last = [a for a in attrs1.get("energy_import_last_hour", [])]
        oct25_pub = [a["start"] for a in last if a["start"].startswith("2026-10-25")]
        k.check(len(oct25_pub) == 25 and len(set(oct25_pub)) == 25,
                "run 1: last hour published for 25 distinct hours of 25 October (%d)" % len(oct25_pub))
        k.check(", 0 dropped" in r1.status, "run 1: nothing dropped (%s)" % r1.status)
        state_file = os.path.join(r1.state_dir, METER + ".derived")
        k.check(os.path.exists(state_file) and open(state_file).read().startswith("kaifa-meterd-state 1\n"),
                "run 1: state file written at stop (%s)" % state_file)

        # discovery of the new entities
        retained = r1.broker.retained(["homeassistant/#", "kaifa/#"], 2)
        configs = {}
        for key in LIVE + HOURLY:
            t = "homeassistant/sensor/kaifa_%s/%s/config" % (METER, key)
            if k.check(t in retained, "discovery config for %s" % key):
                configs[key] = json.loads(retained[t])
        derived = {t: p for t, p in retained.items()
                   if t.startswith("homeassistant/sensor/kaifa_%s/" % METER) and k.is_derived(t.split("/")[3])}
        failures, warnings = ha_check.check_all(derived)
        for f in failures + warnings:
            print("  ha_check: " + f)
        k.check(not failures and not warnings, "ha_check: %d failures, %d warnings for %d new entities"
                % (len(failures), len(warnings), ha_check.count_configs(derived)))
        failures = derived_checks(configs, retained)
        for f in failures:
            print("  " + f)
        k.check(not failures, "classes, attributes topics, last_reset of the last hour, a retained state for each")

        # run 2: the same frames, stopped in the second 02:00 hour and
        # across midnight of 25/26 October
        times = []
        hint = None
        for rd in readings:
            w = wall_of(rd)
            ts = instant(w, hint if hint is not None else 0)
            hint = max(ts, hint or ts)
            times.append(hint)
        first_0230 = int(datetime.datetime(2026, 10, 25, 2, 30, tzinfo=TZ, fold=0).timestamp())
        second_0230 = int(datetime.datetime(2026, 10, 25, 2, 30, tzinfo=TZ, fold=1).timestamp())
        midnight = int(datetime.datetime(2026, 10, 26, 0, 0, tzinfo=TZ).timestamp())
        cut0 = next(i for i, t in enumerate(times) if t >= first_0230)
        cut1 = next(i for i, t in enumerate(times) if t >= second_0230)
        cut2 = next(i for i, t in enumerate(times) if t >= midnight - 6)
        r2 = Run(work, "run2", work.file("state2"))
        runs.append(r2)
        r2.start()
        ok = r2.feed(frames[:cut0])
        k.check(r2.stop() == 0, "run 2: stopped at %s (mid-hour, the first 02:00 hour)" % iso(times[cut0]))
        r2.start()
        ok &= r2.feed(frames[cut0:cut1])
        k.check(r2.stop() == 0, "run 2: stopped at %s (mid-hour, the repeated 02:00 hour)" % iso(times[cut1]))
        r2.start()
        ok &= r2.feed(frames[cut1:cut2])
        k.check(r2.stop() == 0, "run 2: stopped at %s, started again after midnight" % iso(times[cut2 - 1]))
        r2.start()
        ok &= r2.feed(frames[cut2:])
        k.check(ok, "run 2: all frames decoded across the restarts")
        k.check("state read from" in r2.daemon.logtext(), "run 2: the state file was read at the restart")
        k.check(r2.stop() == 0, "run 2: stopped cleanly")
        vals2, attrs2 = check_against_model("run 2 (restarts)", model, r2.messages(), restarts=True)
        for key in HOURLY:
            k.check(dedup(vals2.get(key, [])) == dedup(vals1.get(key, [])),
                    "run 2 publishes the same %s figures as run 1" % key)

        # run 3: a corrupt state file
        state2 = os.path.join(r2.state_dir, METER + ".derived")
        with open(state2, "w") as f:
            f.write("kaifa-meterd-state 1\ntz Europe/Oslo\nsample 1 12\x00garbage\n")
        r2.sub.stop()
        r2.sub = k.Subscriber(work, r2.broker, [PREFIX + "energy_import_this_hour"], "run3-sub.log")
        r2.start()
        ok = r2.feed(frames[:1800])
        log = r2.daemon.logtext()
        corrupt = [l for l in log.splitlines() if "is corrupt" in l]
        k.check(ok and r2.daemon.alive(), "run 3: the daemon survives a corrupt state file and decodes on")
        k.check(len(corrupt) == 1, "run 3: one log line says so (%s)" % (corrupt[:1],))
        k.check(len(r2.sub.messages()) > 0, "run 3: energy_import_this_hour published again")
        k.check(r2.stop() == 0, "run 3: stopped cleanly")
        k.check(open(state2, encoding="utf-8", errors="replace").read().startswith("kaifa-meterd-state 1\n"),
                "run 3: a good state file written again at stop")

        # run 4: the end of the month (October 31 to November 1)
        frames4, readings4 = simulate(work, "month", "2026-10-31T19:00:00", "8h", 14)
        model4 = Model()
        for rd in readings4:
            model4.frame(rd)
        r4 = Run(work, "run4", work.file("state4"))
        runs.append(r4)
        r4.start()
        k.check(r4.feed(frames4), "run 4: all %d frames decoded" % len(frames4))
        k.check(r4.stop() == 0, "run 4: stopped cleanly")
        vals4, attrs4 = check_against_model("run 4 (month end)", model4, r4.messages())
        tops = attrs4.get("capacity_top3", [])
        nov = [t for t in tops if t["hours"] and t["hours"][0]["day"].startswith("2026-11")]
        k.check(bool(nov) and all(h["day"].startswith("2026-11") for t in nov for h in t["hours"]),
                "run 4: after midnight of 1 November the top three holds November hours only")
        oct_tops = [t for t in tops if t["hours"] and t["hours"][0]["day"].startswith("2026-10")]
        k.check(bool(oct_tops), "run 4: October's top three before the reset")
        # run 5: a meter clock that jumps back 80 minutes; [capacity] enabled = no
        fx, _ = simulate(work, "clock-a", "2026-10-27T10:00:00", "20m", 21)
        fy, _ = simulate(work, "clock-b", "2026-10-27T09:00:00", "20m", 21)
        r5 = Run(work, "run5", work.file("state5"), "\n[capacity]\nenabled = no\n")
        runs.append(r5)
        r5.start()
        ok = r5.feed(fx)
        before = len(r5.messages())
        ok &= r5.feed(fy[:400])
        log = r5.daemon.logtext()
        back = [l for l in log.splitlines() if "clock went back" in l and METER in l]
        k.check(ok and r5.daemon.alive(), "run 5: a clock that jumps back is survived, frames decoded on")
        k.check(len(back) == 1 and "receive time" in back[0], "run 5: said once (%s)" % back[:1])
        # placed by receive time now: the next running figures come 10 s
        # (of arrival) after the last; frames go one at a time until then
        rest = iter(fy[400:])
        k.check(k.wait_for(lambda: len(r5.messages()) > before or not r5.feed([next(rest)], 1), 20, 0.5)
                and len(r5.messages()) > before, "run 5: derived values published on, by receive time")
        k.check(r5.stop() == 0, "run 5: stopped cleanly")
        topics5 = {t for t, _ in r5.messages()}
        k.check(PREFIX + "energy_import_this_hour" in topics5 and not [t for t in topics5 if "capacity" in t],
                "run 5: [capacity] enabled = no: energy values, no capacity_* topic")
        print("  example: last hour %s = %s kWh, top three %s, average %s kW, step %s"
              % (attrs1["energy_import_last_hour"][-1]["start"], vals1["energy_import_last_hour"][-1],
                 [h["kwh"] for h in attrs1["capacity_top3"][-1]["hours"]], vals1["capacity_average"][-1],
                 vals1["capacity_step"][-1]))
    finally:
        for r in runs:
            r.cleanup()
        if not k.FAILURES:
            work.cleanup()
        else:
            print("work directory kept: " + work.path)
    k.finish()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Integration tests of the PostgreSQL output against a real server.

Usage: test_pg.py initdb|parse_file|outage|queue|nolib KAIFA_METER CAPTURES_DIR [PG_QUEUE_CLIENT]

initdb      `kaifa-meter initdb` creates the table with the original tool's
            columns and types, says so, and says so again the second time;
            a table name that needs quoting works; rows sent before the
            table exists wait for it; a server that is down
            gives exit 69 and usage errors exit 64, each with one line.
parse_file  Real Kaifa, Aidon and Kamstrup captures through `parse-file
            --dbname ...`: one row per decoded frame, every column equal to
            the decoder's JSON output (W, var, A, V; energies in Wh/varh),
            NULL where a frame lacks the value; the Kaifa list 3 row holds
            energy_act_pos 801652 Wh and meter id 6970631400000233.
outage      The simulated meter (10x speed) piped into parse-file while the
            server is stopped for 20 s: reading and decoding go on during the
            outage, and afterwards every frame has its row, none twice.
queue       The sink driven directly (pg_queue_client) with a queue of 5 rows
            while the server is frozen with SIGSTOP (a hung server, worse than
            a stopped one): no call blocks, the oldest rows are dropped and
            counted, the row in flight is kept, and all kept rows arrive once
            the server is thawed.
nolib       As on a machine without libpq (nolibpq.py: libpq.so.5 is
            /dev/null in a private mount namespace): parse-file without
            PostgreSQL decodes as usual (libpq is loaded only for the
            PostgreSQL output, not linked); with --dbname, and initdb, exit
            69 with one line that says to install libpq5. Skipped (77) where
            unshare is not allowed.
Exit 77 (skipped) when no PostgreSQL server binaries are installed.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nolibpq  # noqa: E402
import pgserver  # noqa: E402

MODE, KM, CAPTURES = sys.argv[1], sys.argv[2], sys.argv[3]
CLIENT = sys.argv[4] if len(sys.argv) > 4 else None
DB = "power"
failures = []

COLUMNS = [
    ("id", "integer"), ("savetime", "timestamp with time zone"),
    ("meter_ts", "timestamp without time zone"), ("obis_version", "text"), ("meter_id", "text"),
    ("meter_type", "text"), ("items_count", "integer"),
    ("pwr_act_pos", "double precision"), ("pwr_act_neg", "double precision"),
    ("pwr_react_pos", "double precision"), ("pwr_react_neg", "double precision"),
    ("il1", "double precision"), ("il2", "double precision"), ("il3", "double precision"),
    ("uln1", "double precision"), ("uln2", "double precision"), ("uln3", "double precision"),
    ("meter_ts2", "timestamp without time zone"),
    ("energy_act_pos", "double precision"), ("energy_act_neg", "double precision"),
    ("energy_react_pos", "double precision"), ("energy_react_neg", "double precision"),
]

# column <- name in the decoder's JSON `data`
NUMBERS = {
    "pwr_act_pos": "power_active_import", "pwr_act_neg": "power_active_export",
    "pwr_react_pos": "power_reactive_import", "pwr_react_neg": "power_reactive_export",
    "il1": "phase_current_l1", "il2": "phase_current_l2", "il3": "phase_current_l3",
    "uln1": "phase_voltage_l1", "uln2": "phase_voltage_l2", "uln3": "phase_voltage_l3",
    "energy_act_pos": "energy_active_cum_import", "energy_act_neg": "energy_active_cum_export",
    "energy_react_pos": "energy_reactive_cum_import",
    "energy_react_neg": "energy_reactive_cum_export",
}
TEXTS = {"obis_version": "obis_version", "meter_id": "meter_id", "meter_type": "meter_type"}
ROW_COLUMNS = ["meter_ts", "items_count", "meter_ts2"] + list(TEXTS) + list(NUMBERS)


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def km(args, **kw):
    return subprocess.run([KM] + args, capture_output=True, text=True, timeout=60, **kw)


def db_args(srv, table):
    return ["--dbname", DB, "--dbuser", pgserver.USER, "--dbtable", table, "--host", srv.sock]


def rows(srv, table, where="true"):
    cols = ", ".join(ROW_COLUMNS)
    out = srv.psql('SELECT %s FROM "%s" WHERE %s ORDER BY id' % (cols, table.replace('"', '""'), where), DB)
    return [dict(zip(ROW_COLUMNS, r)) for r in out]


# ---------------------------------------------------------------------------

def test_initdb(srv):
    r = km(["initdb"] + db_args(srv, "readings"))
    check(r.returncode == 0, "initdb: exit 0 (%d %s)" % (r.returncode, r.stderr.strip()))
    check(r.stdout.strip() == 'Created table "readings".', "initdb: says it created the table: %r" % r.stdout)
    r = km(["initdb"] + db_args(srv, "readings"))
    check(r.returncode == 0, "initdb twice: exit 0")
    check(r.stdout.strip() == 'Table "readings" already exists.', "initdb twice: says it exists: %r" % r.stdout)
    got = srv.psql("SELECT column_name, data_type FROM information_schema.columns "
                   "WHERE table_name = 'readings' ORDER BY ordinal_position", DB)
    check([tuple(c) for c in got] == COLUMNS, "initdb: the original tool's columns and types, in order")
    default = srv.psql("SELECT column_default FROM information_schema.columns "
                       "WHERE table_name = 'readings' AND column_name = 'id'", DB)
    check(default and default[0][0].startswith("nextval("), "initdb: id is serial")
    pk = srv.psql("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                  "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'readings'::regclass AND i.indisprimary", DB)
    check(pk == [["id"]], "initdb: id is the primary key")

    odd = 'Meter "A"; DROP TABLE readings; --'
    r = km(["initdb"] + db_args(srv, odd))
    check(r.returncode == 0 and "Created table" in r.stdout, "initdb: a name that needs quoting")
    cap = os.path.join(CAPTURES, "smidsrod", "KFM_001", "MA304H3E-1-ok.bin")
    r = km(["parse-file", cap] + db_args(srv, odd))
    n = srv.psql('SELECT count(*) FROM "%s"' % odd.replace('"', '""'), DB)
    check(r.returncode == 0 and n == [["14"]], "parse-file into the quoted table: 14 rows (%s)" % n)
    check(srv.psql("SELECT to_regclass('readings') IS NOT NULL", DB) == [["t"]], "readings survived the name")

    # rows wait (and are retried) until the table exists
    late = subprocess.Popen([KM, "parse-file", cap, "-o", os.devnull] + db_args(srv, "late"),
                            stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    km(["initdb"] + db_args(srv, "late"))
    _, err = late.communicate(timeout=30)
    n = srv.psql('SELECT count(*) FROM "late"', DB)
    check(late.returncode == 0 and n == [["14"]] and "does not exist" in err,
          "rows sent before initdb wait for the table: 14 rows (%s)" % n)

    down = ["--dbname", DB, "--dbuser", "km", "--dbtable", "t", "--host", srv.tmp + "/nowhere"]
    r = km(["initdb"] + down)
    check(r.returncode == 69 and len((r.stdout + r.stderr).strip().splitlines()) == 1,
          "initdb: server down -> exit 69, one line (%d: %s)" % (r.returncode, (r.stdout + r.stderr).strip()))
    for args in (["--dbname", DB], ["--dbtable", "t"], ["--dbname", DB, "--dbtable", "t", "--bogus"],
                 ["--dbname", DB, "--dbtable", "t", "extra"], ["--dbname"]):
        r = km(["initdb"] + args)
        check(r.returncode == 64 and len(r.stderr.strip().splitlines()) == 1 and not r.stdout,
              "initdb %s: exit 64, one line" % " ".join(args))


# ---------------------------------------------------------------------------

def close(a, b):
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def expected_row(frame):
    d = frame["data"]
    exp = {"items_count": str(len(d))}
    nt = frame.get("notification_time")
    exp["meter_ts"] = nt[:19] if nt else ""
    ts = d.get("meter_timestamp", {}).get("value")
    exp["meter_ts2"] = ts[:19] if ts else ""
    for col, name in TEXTS.items():
        exp[col] = d[name]["value"] if name in d else ""
    for col, name in NUMBERS.items():
        if name in d:
            v = float(d[name]["value"])
            if d[name].get("unit", "").lower() in ("kwh", "kvarh"):
                v *= 1000
            exp[col] = v
        else:
            exp[col] = None
    return exp


def same(row, exp):
    for col in ROW_COLUMNS:
        want, got = exp[col], row[col]
        if col in NUMBERS:
            if want is None:
                if got != "":
                    return col
            elif got == "" or not close(float(got), want):
                return col
        elif got != want:
            return col
    return None


def ingest(srv, table, capture):
    km(["initdb"] + db_args(srv, table))
    path = os.path.join(CAPTURES, capture)
    dec = km(["parse-file", path, "--compact"])
    frames = [json.loads(line) for line in dec.stdout.splitlines() if line.strip()]
    r = km(["parse-file", path, "--stats"] + db_args(srv, table))
    check(r.returncode == 0, "%s: parse-file with the database exits 0" % capture)
    got = rows(srv, table)
    check(len(got) == len(frames) > 0, "%s: one row per frame (%d rows, %d frames)" % (capture, len(got), len(frames)))
    bad = [(i, same(g, expected_row(f))) for i, (g, f) in enumerate(zip(got, frames))]
    bad = [b for b in bad if b[1]]
    if bad:
        i, col = bad[0]
        print("  first difference: row %d column %s: %r vs %r" % (i, col, got[i][col], expected_row(frames[i])[col]))
    check(not bad, "%s: every column of every row equals the decoded frame (%d differ)" % (capture, len(bad)))
    return got


def test_parse_file(srv):
    got = ingest(srv, "kaifa", "smidsrod/KFM_001/MA304T4-3-ok.bin")
    l3 = [g for g in got if g["items_count"] == "18"]
    check(len(l3) == 1, "kaifa: one list 3 row")
    if l3:
        r = l3[0]
        check(float(r["energy_act_pos"]) == 801652 and float(r["energy_act_neg"]) == 113 and
              float(r["energy_react_pos"]) == 188933 and float(r["energy_react_neg"]) == 6041,
              "kaifa list 3: energies 801652 / 113 Wh, 188933 / 6041 varh")
        check(r["meter_id"] == "6970631400000233" and r["meter_type"] == "MA304T4" and
              r["obis_version"] == "KFM_001", "kaifa list 3: meter id, type, list version")
        check(r["meter_ts"] == "2017-01-18 15:00:00" and r["meter_ts2"] == "2017-01-18 15:00:00",
              "kaifa list 3: meter_ts and meter_ts2 15:00:00")
        check(float(r["pwr_act_pos"]) == 215 and float(r["il1"]) == 0.892 and float(r["uln1"]) == 138.1,
              "kaifa list 3: 215 W, 0.892 A, 138.1 V")
    l1 = [g for g in got if g["items_count"] == "1"]
    check(l1 and all(g["meter_id"] == "" and g["il1"] == "" and g["energy_act_pos"] == "" and
                     g["pwr_act_pos"] != "" for g in l1), "kaifa list 1 rows: only pwr_act_pos, the rest NULL")
    got = ingest(srv, "aidon", "smidsrod/AIDON_V0001/6525-3-FC722-ok.bin")
    check(any(g["items_count"] == "17" and g["il2"] == "" and g["il1"] != "" for g in got),
          "aidon: 3-wire meter, il2 NULL")
    ingest(srv, "kamstrup", "smidsrod/Kamstrup_V0001/6841121BN243101040-1-ok-not-norwegian.bin")
    saved = srv.psql("SELECT count(*) FROM kaifa WHERE savetime > now() - interval '5 minutes' "
                     "AND savetime <= now()", DB)
    check(saved == [["1475"]], "kaifa: savetime is the time of receipt (%s)" % saved)


# ---------------------------------------------------------------------------

def count_lines(path):
    try:
        with open(path) as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


def test_outage(srv):
    table = "outage"
    km(["initdb"] + db_args(srv, table))
    out = os.path.join(srv.tmp, "decoded.jsonl")
    # 300 simulated seconds at 10x: 150 frames over 30 s
    sim = subprocess.Popen([KM, "simulate", "--speed", "10", "--duration", "300s",
                            "--start", "2026-01-01T00:00:00", "--stats"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dec = subprocess.Popen([KM, "parse-file", "-", "--compact", "-o", out, "--stats"] + db_args(srv, table),
                           stdin=sim.stdout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    sim.stdout.close()
    try:
        time.sleep(3)
        before = int(srv.psql('SELECT count(*) FROM "%s"' % table, DB)[0][0])
        check(before > 0, "outage: rows arrive before the outage (%d)" % before)
        t_stop = time.time()
        srv.stop()
        time.sleep(3)
        seen_down = count_lines(out)
        time.sleep(14)
        seen_later = count_lines(out)
        check(seen_later - seen_down >= 50,
              "outage: frames keep being decoded while the server is down (%d in 14 s)" % (seen_later - seen_down))
        time.sleep(max(0, 20 - (time.time() - t_stop)))
        srv.start()
        t_start = time.time()
        _, err = dec.communicate(timeout=40)
        sim_err = sim.stderr.read().decode()
        sim.wait(timeout=5)
    finally:
        for p in (sim, dec):
            if p.poll() is None:
                p.kill()
                p.wait()
    check(dec.returncode == 0, "outage: parse-file exits 0 (%s)" % dec.returncode)
    check("frames written: 150 " in sim_err, "outage: simulate wrote 150 frames")
    check(count_lines(out) == 150, "outage: 150 frames decoded")
    got = rows(srv, table)
    check(len(got) == 150, "outage: 150 rows, none lost (%d)" % len(got))
    stamps = [g["meter_ts"] for g in got if g["items_count"] != "18"]
    check(len(set(stamps)) == len(stamps) == 149, "outage: no row twice")
    want = ["2026-01-01 00:%02d:%02d" % divmod(s, 60) for s in range(0, 300, 2) if s != 10]
    check(stamps == want, "outage: every 2-second frame in order")
    during = srv.psql("SELECT count(*) FROM \"%s\" WHERE savetime >= to_timestamp(%f) AND savetime < to_timestamp(%f)"
                      % (table, t_stop + 1, t_start - 1), DB)
    check(int(during[0][0]) >= 60, "outage: rows received while the server was down were kept (%s)" % during[0][0])
    check("again" in err, "outage: the sink logs that it reconnected")
    print("  parse-file said:\n    " + "\n    ".join(err.strip().splitlines()))


# ---------------------------------------------------------------------------

def server_pids(srv):
    """The postmaster and its children (the backends), from postmaster.pid and /proc."""
    with open(os.path.join(srv.data, "postmaster.pid")) as f:
        pm = int(f.readline())
    pids = [pm]
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pm:
            pids.append(int(d))
    return pids


def signal_all(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def test_queue(srv):
    table = "queue"
    km(["initdb"] + db_args(srv, table))
    client = subprocess.Popen([CLIENT, srv.sock, DB, pgserver.USER, table], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    frozen = []

    def line():
        out = [None]
        t = threading.Thread(target=lambda: out.__setitem__(0, client.stdout.readline().strip()))
        t.start()
        t.join(30)
        return out[0] or ""

    def go():
        client.stdin.write("go\n")
        client.stdin.flush()

    try:
        check(line() == "drained 1", "queue: a first row is written")
        frozen = server_pids(srv)
        signal_all(frozen, signal.SIGSTOP)
        go()
        slowest = line()
        stats = line()
        ms = float(slowest.split()[1]) if slowest.startswith("slowest_ms") else 1e9
        check(ms < 100, "queue: with the server hung no call blocks (slowest %.1f ms)" % ms)
        check(stats == "queued 13 inserted 1 dropped 7 failed 0 pending 5",
              "queue: bounded at 5, 7 oldest dropped and counted (%s)" % stats)
        signal_all(frozen, signal.SIGCONT)
        frozen = []
        go()
        drain = line()
        stats = line()
        check(drain == "drain 0", "queue: drained once the server is back")
        check(stats == "queued 13 inserted 6 dropped 7 failed 0 pending 0", "queue: counters after (%s)" % stats)
        client.wait(timeout=10)
        got = [r[0] for r in srv.psql('SELECT pwr_act_pos FROM "%s" ORDER BY id' % table, DB)]
        check(got == ["1000", "1001", "1009", "1010", "1011", "1012"],
              "queue: the row in flight and the 4 newest were kept (%s)" % got)
    finally:
        signal_all(frozen, signal.SIGCONT)
        if client.poll() is None:
            client.kill()
            client.wait()


def test_nolib(srv, without):
    cap = os.path.join(CAPTURES, "smidsrod", "KFM_001", "MA304H3E-1-ok.bin")
    want = km(["parse-file", cap, "--json", "--compact"])
    r = subprocess.run(without + [KM, "parse-file", cap, "--json", "--compact"], capture_output=True,
                       text=True, timeout=60)
    check(r.returncode == 0 and r.stdout == want.stdout and want.stdout.count("\n") == 14,
          "without libpq, parse-file without PostgreSQL decodes the 14 frames as usual (%d: %s)"
          % (r.returncode, r.stderr.strip()))
    msg = "PostgreSQL output needs libpq: install the libpq5 package"
    for what, args in (("parse-file --dbname", ["parse-file", cap] + db_args(srv, "readings")),
                       ("initdb", ["initdb"] + db_args(srv, "readings"))):
        r = subprocess.run(without + [KM] + args, capture_output=True, text=True, timeout=60)
        lines = (r.stdout + r.stderr).strip().splitlines()
        check(r.returncode == 69 and len(lines) == 1 and msg in lines[0],
              "without libpq, %s: exit 69, one line that says to install libpq5 (%d: %s)"
              % (what, r.returncode, lines))
    check(srv.psql("SELECT to_regclass('readings') IS NULL", DB) == [["t"]], "and no table was made")


def main():
    tests = {"initdb": test_initdb, "parse_file": test_parse_file, "outage": test_outage,
             "queue": test_queue}
    if MODE == "nolib":
        without = nolibpq.prefix()
        if not without:
            print("cannot hide libpq here (needs unshare and user namespaces): skipped")
            return 77
        tests["nolib"] = lambda srv: test_nolib(srv, without)
    if MODE not in tests:
        print("unknown test %s" % MODE)
        return 2
    if not pgserver.find_bindir():
        print("PostgreSQL server binaries not found: skipped")
        return 77
    srv = pgserver.Server()
    try:
        srv.init().start()
        srv.createdb(DB)
        tests[MODE](srv)
    except Exception:
        print(srv.server_log()[-3000:])
        raise
    finally:
        srv.cleanup()
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    sys.exit(main())

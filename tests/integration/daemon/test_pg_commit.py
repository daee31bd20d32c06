#!/usr/bin/env python3
"""A row is written when its transaction commits, not when the server says
CommandComplete. kaifa-meterd sends each INSERT as Parse/Bind/Execute/Sync:
the server answers the Execute with CommandComplete and commits only at the
Sync after it. A backend terminated between the two (a fast shutdown, an
administrator's pg_terminate_backend) rolls the row back; a sink that took
CommandComplete for the commit lost that row (seen once in
daemon_fault_postgresql: 2317 rows for 2318 frames).

Here the gap is made wide on purpose: a deferred constraint trigger sleeps
at commit while the table hold says so. One frame goes in; once its backend
sleeps in the commit, hold is cleared and the backend terminated. The row
must come back on the next connection, exactly once.
Exit 77 (skipped) when no PostgreSQL server binaries are installed."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "pg"))
import kmtest as k  # noqa: E402
import pgserver  # noqa: E402
from test_postgresql import DB, CLI, count, initdb, pg_config  # noqa: E402

SLOW_COMMIT = """
CREATE TABLE hold (slow boolean NOT NULL);
INSERT INTO hold VALUES (true);
CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT slow FROM hold) THEN
        PERFORM pg_sleep(60);
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON readings
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit();
"""


def sleeping_in_commit(srv):
    rows = srv.psql("SELECT pid FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = '%s'" % DB, DB)
    return rows[0][0] if rows else None


def main():
    k.need(k.DAEMON, CLI, "mosquitto", "socat", "psql")
    pgserver.exit_unless_installed()
    work = k.Workdir()
    srv = pgserver.Server()
    broker = k.Broker(work)
    pty = k.Pty(work)
    daemon = None
    try:
        frames = k.split_frames(open(k.KAIFA_T4, "rb").read())
        srv.init().start()
        srv.createdb(DB)
        rc, out = initdb(srv, "readings")
        k.check(rc == 0, "kaifa-meter initdb makes the table (%s)" % out)
        srv.psql(SLOW_COMMIT, DB)
        broker.start()
        pty.start()
        daemon = k.Daemon(work, k.daemon_config(pty.meter, broker.port) + pg_config(srv, "readings"))
        daemon.start()
        k.check(bool(k.wait_for(lambda: "postgresql: connected to database power" in daemon.logtext(), 10)),
                "the daemon connects to the database")

        pty.write(frames[0])
        pid = k.wait_for(lambda: sleeping_in_commit(srv), 10, 0.1)
        k.check(bool(pid), "the INSERT's backend sleeps in its commit (CommandComplete already sent)")
        if pid:
            srv.psql("UPDATE hold SET slow = false", DB)
            srv.psql("SELECT pg_terminate_backend(%s)" % pid, DB)
        k.check(bool(k.wait_for(lambda: "terminating connection due to administrator command" in daemon.logtext(),
                                10)), "the daemon sees the backend end")
        k.check(bool(k.wait_for(lambda: count(srv, "readings") >= 1, 15, 0.2)),
                "the row rolled back at the terminated commit is written on the next connection")
        pty.write(frames[1])  # a later row: the first is no longer in flight once this one is stored
        k.wait_for(lambda: count(srv, "readings") >= 2, 15, 0.2)
        k.check(count(srv, "readings") == 2, "two frames, two rows (%d)" % count(srv, "readings"))
        rc, _ = daemon.stop()
        k.check(rc == 0, "SIGTERM: exit 0")
    finally:
        try:
            if k.FAILURES:
                print(daemon.logtext()[-2000:] if daemon else "", srv.server_log()[-2000:])
        finally:  # the servers go even when stdout does not take the logs
            k.cleanup(daemon, pty, broker)
            srv.cleanup()
            work.cleanup()
    k.finish()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A meter port that opens but never gives a good frame must not be retried
every 0.5 s forever, nor logged per retry: the backoff grows (0.5 s, 1 s,
2 s, ...) until a good frame arrives, and each kind of failure is logged
once. Two such ports: a directory (`[serial] port = DIR`: open works, every
read fails with EISDIR) and a TCP serial server that accepts and at once
closes every connection. The log of a window of several seconds is counted.
Then the TCP server starts sending frames: the good frame resets the
backoff, so the next loss is retried after 0.5 s again and logged again."""
import os
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kmtest as k  # noqa: E402

WINDOW = 6.0  # seconds of retries counted


class ClosingServer:
    """Accepts connections and closes each at once; sends `payload` first, once."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.payload = b""
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while self.running:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.accepted += 1
            if self.payload:
                c.sendall(self.payload)
                self.payload = b""  # once
            c.shutdown(socket.SHUT_RDWR)
            c.close()

    def stop(self):
        self.running = False
        self.sock.close()
        self.thread.join(2)


def delays(log):
    return [int(m) for m in re.findall(r"next try in (\d+) ms", log)]


def problem_lines(log, port):
    """Lines about the port other than the debug retry notes."""
    return [l for l in log.splitlines() if port in l and "next try in" not in l]


def check_bounded(what, daemon, port, expect_words):
    time.sleep(WINDOW)
    log = daemon.logtext()
    lines = problem_lines(log, port)
    d = delays(log)
    k.check(daemon.alive(), "%s: the daemon keeps running" % what)
    k.check(len(lines) <= 2, "%s: at most 2 lines about the port in %.0f s (got %d: %r)"
            % (what, WINDOW, len(lines), lines[:6]))
    k.check(sum(1 for l in lines if expect_words in l) == 1, "%s: the failure '%s' logged once" % (what, expect_words))
    k.check(len(d) >= 3 and d[:3] == [500, 1000, 2000] and all(b >= a for a, b in zip(d, d[1:])),
            "%s: the backoff grows 500, 1000, 2000 ms ... (got %s)" % (what, d))
    k.check(len(d) <= 6, "%s: a handful of retries in %.0f s, not one per 0.5 s (%d)" % (what, WINDOW, len(d)))


def main():
    k.need(k.DAEMON)
    work = k.Workdir()
    daemon = server = None
    try:
        # 1. a directory: opens, every read fails
        port = work.file("a-directory")
        os.mkdir(port)
        daemon = k.Daemon(work, k.daemon_config(port, k.free_port()), name="dir")
        daemon.start()
        check_bounded("directory", daemon, port, "Is a directory")
        daemon.stop()

        # 2. a TCP serial server that closes every connection at once
        server = ClosingServer()
        port = "tcp://127.0.0.1:%d" % server.port
        daemon = k.Daemon(work, k.daemon_config(port, k.free_port()), name="tcp")
        daemon.start()
        check_bounded("closing TCP server", daemon, port, "connection closed")
        k.check(server.accepted <= 6, "the server saw a handful of connections (%d)" % server.accepted)

        # 3. frames arrive: a good frame resets the backoff and the failure
        frames = k.split_frames(open(k.KAIFA_T4, "rb").read())
        server.payload = b"".join(frames[0:3])
        before = len(delays(daemon.logtext()))
        got = k.wait_for(lambda: delays(daemon.logtext())[before:] and
                         delays(daemon.logtext())[-1] == 500, 40, 0.2)
        k.check(bool(got), "after a good frame the next retry is 0.5 s again (%s)" % delays(daemon.logtext()))
        closed = problem_lines(daemon.logtext(), port)
        k.check(sum(1 for l in closed if "connection closed" in l) == 2,
                "the loss after good frames is logged again, once (%r)" % closed)
        rc, took = daemon.stop()
        k.check(rc == 0 and took < 1.0, "SIGTERM: exit 0 within 1 s (%s, %.2f s)" % (rc, took))
    finally:
        k.cleanup(daemon, server)
        if daemon:
            print("--- daemon log ---")
            print(daemon.logtext())
        work.cleanup()
    k.finish()


if __name__ == "__main__":
    main()

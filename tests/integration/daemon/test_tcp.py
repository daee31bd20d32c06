#!/usr/bin/env python3
"""[serial] port = tcp://HOST:PORT, as for a ser2net serial server: the
daemon reads frames from a TCP server (a thread of this test), notices when
the server drops the connection, connects again with backoff, and publishes
what the server sends after the comeback (the hourly list 3)."""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kmtest as k  # noqa: E402


class SerialServer:
    """Accepts one connection at a time and sends it whatever is queued."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.conn = None
        self.accepted = 0
        self.running = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        self.sock.settimeout(0.2)
        while self.running:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.conn = c
            self.accepted += 1

    def send(self, data):
        for i in range(0, len(data), 1024):
            self.conn.sendall(data[i:i + 1024])
            time.sleep(0.01)

    def drop(self):
        c, self.conn = self.conn, None
        c.shutdown(socket.SHUT_RDWR)
        c.close()

    def stop(self):
        self.running = False
        if self.conn:
            self.conn.close()
        self.sock.close()
        self.thread.join(2)


def main():
    k.need(k.DAEMON, "mosquitto", "mosquitto_sub")
    work = k.Workdir()
    broker = k.Broker(work)
    server = SerialServer()
    daemon = None
    topic = "kaifa/%s/" % k.METER_ID
    try:
        frames = k.split_frames(open(k.KAIFA_T4, "rb").read())
        broker.start()
        daemon = k.Daemon(work, k.daemon_config("tcp://127.0.0.1:%d" % server.port, broker.port))
        daemon.start()
        k.check(bool(k.wait_for(lambda: server.conn is not None, 5)), "daemon connected to the serial server")
        server.send(b"".join(frames[0:20]))
        k.check(bool(k.wait_for(lambda: broker.retained(["kaifa/#"], 1).get(topic + "meter_type") == "MA304T4", 10, 0.3)),
                "values read over TCP are published")

        server.drop()
        k.check(bool(k.wait_for(lambda: "connection closed" in daemon.logtext(), 5)), "daemon noticed the drop")
        k.check(bool(k.wait_for(lambda: server.accepted >= 2 and server.conn is not None, 10)),
                "daemon connected again")
        server.send(b"".join(frames[1250:1270]))
        k.check(bool(k.wait_for(lambda: broker.retained(["kaifa/#"], 1).get(topic + "energy_active_cum_import")
                                == "801.652", 10, 0.3)), "the hourly values sent after the comeback are published")
        rc, took = daemon.stop()
        k.check(rc == 0 and took < 1.0, "SIGTERM: exit 0 within 1 s (%s, %.2f s)" % (rc, took))
    finally:
        k.cleanup(daemon, server, broker)
        if daemon:
            print("--- daemon log ---")
            print("\n".join(l for l in daemon.logtext().splitlines() if "next try" not in l))
        work.cleanup()
    k.finish()


if __name__ == "__main__":
    main()

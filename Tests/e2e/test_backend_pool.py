"""The backend connection pool through the gateway, against a small FastCGI responder written here
(so the test decides when the application closes a kept connection and how long it takes):

- the keep-alive race: the application closes a kept (FCGI_KEEP_CONN) connection just as the next
  request goes out on it; that request has had no response byte, so the gateway sends it once more
  on a fresh connection instead of answering 502;
- `max-connections`: a worker opens at most that many connections to a host; a request beyond it
  is answered 503 at once (not queued) with a log line naming the option."""
import socket
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from e2e_util import q, request, wait_until
from proxy_peers import ThreadedPeer

BEGIN, END, PARAMS, STDIN, STDOUT = 1, 3, 4, 5, 6


class MiniFastCGI(ThreadedPeer):
    """A threaded FastCGI responder on a unix socket. Answers each request with 200 "ok" after
    `delay` seconds and keeps the connection (KEEP_CONN). With `drop_reused`, a connection that
    already served a request is closed, unanswered, when the next request arrives on it."""

    def __init__(self, path, delay=0.0, drop_reused=False):
        self.delay = delay
        self.drop_reused = drop_reused
        self.accepted = 0
        self.dropped = 0
        self.open = []
        super().__init__(backlog=64, unix_path=path)

    def _accepted(self, conn):
        self.accepted += 1
        self.open.append(conn)

    @staticmethod
    def _read(conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def _serve(self, conn):
        served = 0
        try:
            while True:
                _, rtype, rid, clen, pad = struct.unpack("!BBHHBx", self._read(conn, 8))
                content = self._read(conn, clen + pad)[:clen]
                if rtype == BEGIN and served > 0 and self.drop_reused:
                    self.dropped += 1
                    conn.close()
                    return
                if rtype == STDIN and not content:
                    time.sleep(self.delay)
                    body = b"Status: 200\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
                    conn.sendall(struct.pack("!BBHHBx", 1, STDOUT, rid, len(body), 0) + body
                                 + struct.pack("!BBHHBx", 1, END, rid, 8, 0) + bytes(8))
                    served += 1
        except (EOFError, OSError):
            pass
        finally:
            conn.close()

    def close(self):
        self.sock.close()
        for c in self.open:
            try:
                c.close()
            except OSError:
                pass


def _config(tmp_path, sock, extra=""):
    return f"""
server.document-root = {q(tmp_path)}
server.event-loops = 1
server.modules += ("mod_fastcgi")
fastcgi.debug = 1
fastcgi.server = ("/app/" => ((
    "socket" => {q(sock)},
    "check-local" => "disable",
    "connection-pool" => "enable",
    "multiplex" => "disable"{extra}
)))
"""


def test_a_request_on_a_connection_the_app_just_closed_is_sent_again(switchyard, tmp_path):
    sock = tmp_path / "app.sock"
    app = MiniFastCGI(sock, drop_reused=True)
    try:
        server = switchyard(_config(tmp_path, sock))
        for i in range(3):
            r = request(server.port, "GET", f"/app/{i}")
            assert r.status == 200 and r.body == b"ok", (i, r.status, server.log_text()[-2000:])
        # Requests 2 and 3 each went out on the kept connection, found it closed, and were sent
        # once more on a fresh one: 3 connections the app accepted, 2 it dropped.
        assert app.dropped == 2 and app.accepted == 3
        wait_until(lambda: server.log_text().count("sending the request once more on a fresh connection") >= 2, 5)
        assert server.log_text().count("sending the request once more on a fresh connection") == 2
        assert "disabled for" not in server.log_text(), "a stale kept connection is no fault of the host"
    finally:
        app.close()


def test_a_request_with_a_body_is_not_sent_twice(switchyard, tmp_path):
    """Its body bytes went to the dropped connection and cannot be replayed: 502, said once."""
    sock = tmp_path / "app.sock"
    app = MiniFastCGI(sock, drop_reused=True)
    try:
        server = switchyard(_config(tmp_path, sock))
        assert request(server.port, "GET", "/app/first").status == 200
        r = request(server.port, "POST", "/app/second", headers=[("Content-Type", "text/plain")], body=b"payload")
        assert r.status == 502
        assert app.accepted == 1
        assert "sending the request once more" not in server.log_text()
    finally:
        app.close()


def test_max_connections_refuses_beyond_the_limit(switchyard, tmp_path):
    sock = tmp_path / "app.sock"
    app = MiniFastCGI(sock, delay=1.0)
    try:
        server = switchyard(_config(tmp_path, sock, ',\n    "max-connections" => 2'))
        with ThreadPoolExecutor(4) as pool:
            statuses = sorted(pool.map(lambda i: request(server.port, "GET", f"/app/{i}").status, range(4)))
        assert statuses == [200, 200, 503, 503], statuses
        assert app.accepted == 2
        wait_until(lambda: "(max-connections)" in server.log_text(), 5)
        assert "(max-connections)" in server.log_text()
        assert "disabled for" not in server.log_text(), "a busy host is not a failed host"
        # The two connections are kept and serve the next requests.
        assert [request(server.port, "GET", "/app/again").status for _ in range(3)] == [200, 200, 200]
        assert app.accepted == 2
    finally:
        app.close()

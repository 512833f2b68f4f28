"""mod_proxy beyond the basics (issue 11): `proxy.debug` log lines, interim 1xx heads from the
backend relayed to HTTP/1.1 clients, and `proxy.header` `connect-method`. The backends are raw
Python sockets that answer what the test scripts, so every byte the gateway relays is known."""
import socket
import threading

import pytest

from e2e_util import HTTPConnection, request, wait_until
from proxy_peers import Backend, WSEcho


class ScriptedBackend:
    """Accepts connections; for each request head (and its Content-Length body) runs
    `script(conn, head, body)`, which writes the answer (False: close the connection after it).
    Records every request head."""

    def __init__(self, script):
        self.script = script
        self.heads = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            data = b""
            while True:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, data = data.split(b"\r\n\r\n", 1)
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(data) < length:
                    data += conn.recv(65536)
                body, data = data[:length], data[length:]
                self.heads.append(head.decode("latin-1"))
                if self.script(conn, head, body) is False:
                    return

    def close(self):
        self.sock.close()


def conf(port, extra="", prefix="/api/", ws_port=None):
    routes = f'"{prefix}" => (( "host" => "127.0.0.1", "port" => {port} ))'
    if ws_port:
        routes += f', "/ws/" => (( "host" => "127.0.0.1", "port" => {ws_port} ))'
    return f'server.modules = ( "mod_proxy" )\nproxy.server = ( {routes} )\n' + extra


# ---------------------------------------------------------------- proxy.debug

def test_debug_lines_only_with_proxy_debug(switchyard, tmp_path):
    backend = Backend()
    echo = WSEcho()
    try:
        extra = 'proxy.header = ( "upgrade" => "enable" )\nserver.event-loops = 1\n'
        quiet = switchyard(conf(backend.port, extra, ws_port=echo.port), name="quiet")
        loud = switchyard(conf(backend.port, extra + "proxy.debug = 1\n", ws_port=echo.port), name="loud")
        from websockets.sync.client import connect
        for s in (quiet, loud):
            for n in (5, 6):
                assert request(s.port, "GET", f"/api/big?n={n}").status == 200
            with connect(f"ws://127.0.0.1:{s.port}/ws/dbg", compression=None, open_timeout=10) as ws:
                ws.send("x")
                assert ws.recv(timeout=10) == "x"
        assert loud.wait_for_log("switched to a two-way byte stream")
        log = loud.log_text()
        for needle in ("proxy debug: GET /api/big?n=5 from 127.0.0.1 to backend 127.0.0.1:",
                       "proxy debug: request line sent: GET /api/big?n=5 HTTP/1.1",
                       "proxy debug: new connection", "proxy debug: reusing a pooled keep-alive connection",
                       "proxy debug: response 200 from the backend, Content-Length 5",
                       "proxy debug: request line sent: GET /ws/dbg HTTP/1.1",
                       "proxy debug: upgrade request on a new connection of its own",
                       "proxy debug: 101 from the backend: switched to a two-way byte stream"):
            assert needle in log, f"{needle!r} not in\n{log}"
        assert "proxy debug" not in quiet.log_text()
    finally:
        backend.close()
        echo.close()


# ---------------------------------------------------------------- interim 1xx

EARLY_HINTS = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\nConnection: X-Hop\r\nX-Hop: 1\r\n\r\n"


def test_103_relayed_before_the_final_head_to_http11_only(switchyard):
    go = threading.Event()

    def script(conn, head, body):
        conn.sendall(EARLY_HINTS)
        go.wait(10)           # the final head only once the client has seen the 103
        go.clear()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    backend = ScriptedBackend(script)
    try:
        s = switchyard(conf(backend.port))
        with HTTPConnection(s.port) as c:
            c.request("GET", "/api/hints")
            interim = c.read_until(b"\r\n\r\n")
            assert interim.startswith(b"HTTP/1.1 103 Early Hints\r\n"), interim
            assert b"Link: </style.css>; rel=preload\r\n" in interim and b"X-Hop" not in interim, interim
            go.set()
            r = c.read_response()
            assert r.status == 200 and r.body == b"ok"
            # the connection goes on: a second exchange on it, 103 again
            c.request("GET", "/api/again", close=True)
            assert c.read_until(b"\r\n\r\n").startswith(b"HTTP/1.1 103")
            go.set()
            assert c.read_response().body == b"ok"
        # HTTP/1.0: no interim head at all, the final one first
        with HTTPConnection(s.port) as c:
            go.set()
            c.request("GET", "/api/old", version="HTTP/1.0")
            r = c.read_response()
            assert r.status == 200 and r.body == b"ok" and b"103" not in r.raw_head, r.raw_head
    finally:
        backend.close()


def test_backend_100_continue_is_not_sent_twice(switchyard):
    def script(conn, head, body):
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    backend = ScriptedBackend(script)
    try:
        s = switchyard(conf(backend.port))
        with HTTPConnection(s.port) as c:
            c.send(b"POST /api/up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
            assert c.read_until(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
            c.send(b"hello")
            rest = c.read_to_eof()
        assert rest.count(b"100 Continue") == 0 and rest.startswith(b"HTTP/1.1 201"), rest
        assert rest.endswith(b"hello")
        # Without Expect the backend's own 100 is relayed (HTTP/1.1 client), then the final head.
        with HTTPConnection(s.port) as c:
            c.send(b"POST /api/up HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
            raw = c.read_to_eof()
        assert raw.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n") and raw.endswith(b"hi"), raw
    finally:
        backend.close()


# ---------------------------------------------------------------- CONNECT

def forward_proxy_script(conn, head, body):
    """A forward proxy's answers: 200 and a tunnel (each piece back as "tunnel:<piece>", "bye" at the
    client's EOF) for allowed.example:443, 403 for any other CONNECT, 200 "ok" for anything else."""
    line = head.split(b"\r\n", 1)[0]
    if line == b"CONNECT allowed.example:443 HTTP/1.1":
        conn.sendall(b"HTTP/1.1 200 Connection established\r\nX-Proxy: fwd\r\n\r\n")
        while True:
            data = conn.recv(65536)
            if not data:
                conn.sendall(b"bye")
                return False
            conn.sendall(b"tunnel:" + data)
    if line.startswith(b"CONNECT "):
        conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 6\r\n\r\ndenied")
    else:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


def connect_request(c, authority):
    c.send(f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode())


@pytest.mark.parametrize("relay", ["splice", "copy"])
def test_connect_method_tunnels_through_a_forward_proxy(switchyard, relay):
    backend = ScriptedBackend(forward_proxy_script)
    try:
        s = switchyard(conf(backend.port, 'proxy.header = ( "connect-method" => "enable" )\n'
                                          f'server.upgrade-relay = "{relay}"\nproxy.debug = 1\n', prefix=""))
        with HTTPConnection(s.port) as c:
            connect_request(c, "allowed.example:443")
            head = c.read_until(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 Connection established\r\n") and b"X-Proxy: fwd\r\n" in head, head
            assert b"content-length" not in head.lower() and b"transfer-encoding" not in head.lower()
            for piece in (b"hello", bytes(range(256)) * 64):
                c.send(piece)
                assert c.read_exact(7 + len(piece)) == b"tunnel:" + piece
            c.sock.shutdown(socket.SHUT_WR)      # the client's FIN reaches the forward proxy
            assert c.read_to_eof() == b"bye"
        sent = backend.heads[0].split("\r\n")
        assert sent[0] == "CONNECT allowed.example:443 HTTP/1.1" and "Host: allowed.example:443" in sent, sent
        assert s.wait_for_log("proxy debug: CONNECT request on a new connection of its own")
        # A refusal is an ordinary response, and the client connection goes on.
        with HTTPConnection(s.port) as c:
            connect_request(c, "denied.example:443")
            r = c.read_response()
            assert r.status == 403 and r.body == b"denied"
            c.request("GET", "/after", close=True)
            assert c.read_response().body == b"ok"
    finally:
        backend.close()


def test_connect_without_the_option_or_a_matching_route_is_405(switchyard):
    backend = ScriptedBackend(forward_proxy_script)
    try:
        off = switchyard(conf(backend.port, prefix=""), name="off")
        prefix_only = switchyard(conf(backend.port, 'proxy.header = ( "connect-method" => "enable" )\n'), name="prefix")
        for s in (off, prefix_only):
            with HTTPConnection(s.port) as c:
                connect_request(c, "allowed.example:443")
                assert c.read_response().status == 405
        assert backend.heads == []
    finally:
        backend.close()

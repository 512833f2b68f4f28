"""mod_proxy beyond the basics (issue 11): `proxy.debug` log lines, interim 1xx heads from the
backend relayed to HTTP/1.1 clients, and `proxy.header` `connect` (CONNECT tunnelled by the
gateway itself, like lighttpd). The backends are raw Python sockets that answer what the test
scripts, so every byte the gateway relays is known."""
import socket
import threading

import pytest

from e2e_util import HTTPConnection, request, wait_until
from proxy_peers import Backend, ThreadedPeer, WSEcho


class ScriptedBackend(ThreadedPeer):
    """Accepts connections; for each request head (and its Content-Length body) runs
    `script(conn, head, body)`, which writes the answer (False: close the connection after it).
    Records every request head."""

    def __init__(self, script):
        self.script = script
        self.heads = []
        super().__init__()

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
# lighttpd's mod_proxy (proxy_create_env_connect) answers a CONNECT itself with `200 OK` and tunnels
# raw bytes to the route's host: that host is the destination (the request's authority is not), and
# it never sees an HTTP line. Targets are IP literals: lighttpd 1.4.69 (header-strict) refuses a
# host name in a CONNECT target with 400, so these run unchanged in reference mode.

BANNER = b"SSH-2.0-RawPeer\r\n"


class RawPeer(ThreadedPeer):
    """A TCP server that speaks no HTTP (like sshd): a banner first, then every byte echoed; at the
    client's EOF (a half-close) "bye <n>" with the count of bytes it got, then close. Records what
    each connection received."""

    def __init__(self):
        self.received = []
        super().__init__()

    def _serve(self, conn):
        got = bytearray()
        self.received.append(got)
        with conn:
            try:
                conn.sendall(BANNER)
                while data := conn.recv(65536):
                    got += data
                    conn.sendall(data)
                conn.sendall(b"bye %d" % len(got))
            except OSError:
                pass

    def close(self):
        self.sock.close()


def connect_conf(port, docroot, extra="", routes=None, option='"connect" => "enable"'):
    """lighttpd (reference mode) will not start without a document root, although none is served."""
    routes = routes or f'"" => (( "host" => "127.0.0.1", "port" => {port} ))'
    return f'server.modules = ( "mod_proxy" )\nserver.document-root = "{docroot}"\nproxy.server = ( {routes} )\n' \
           + (f'proxy.header = ( {option} )\n' if option else "") + extra


def open_tunnel(c, target="192.0.2.7:22", early=b""):
    """Sends CONNECT (and `early` bytes right behind it); returns the response head lines and
    checks the banner arrives next."""
    c.send(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode() + early)
    head = c.read_until(b"\r\n\r\n")[:-4].split(b"\r\n")
    assert head[0] == b"HTTP/1.1 200 OK", head
    assert c.read_exact(len(BANNER)) == BANNER
    return head


@pytest.mark.parametrize("relay", ["splice", "copy"])
def test_connect_tunnels_raw_bytes_to_the_configured_host(switchyard, tmp_path, relay):
    peer = RawPeer()
    try:
        s = switchyard(connect_conf(peer.port, tmp_path, f'server.upgrade-relay = "{relay}"\n'))
        with HTTPConnection(s.port) as c:
            head = open_tunnel(c, early=b"early")   # bytes sent before the 200 are not lost
            assert b"Connection: close" in head and any(h.startswith(b"Date: ") for h in head), head
            assert not any(h.lower().startswith((b"content-length", b"transfer-encoding")) for h in head), head
            assert c.read_exact(5) == b"early"
            bulk = bytes(range(256)) * 512   # 128 KiB: bulk reads move a socket pair to splice
            for piece in (b"hello", bulk):
                c.send(piece)
                assert c.read_exact(len(piece)) == piece
        assert wait_until(lambda: len(peer.received) == 1 and len(peer.received[0]) == 10 + len(bulk))
        assert bytes(peer.received[0]) == b"earlyhello" + bulk   # no CONNECT line, no header
    finally:
        peer.close()


@pytest.mark.lighttpd_differs("lighttpd 1.4.69 closes the whole tunnel at the client's FIN")
@pytest.mark.parametrize("relay", ["splice", "copy"])
def test_connect_half_close_reaches_the_backend(switchyard, tmp_path, relay):
    peer = RawPeer()
    try:
        s = switchyard(connect_conf(peer.port, tmp_path, f'server.upgrade-relay = "{relay}"\n'))
        with HTTPConnection(s.port) as c:
            open_tunnel(c)
            c.send(b"ping")
            assert c.read_exact(4) == b"ping"
            c.sock.shutdown(socket.SHUT_WR)      # the backend sees EOF and still answers
            assert c.read_to_eof() == b"bye 4"
    finally:
        peer.close()


def test_connect_routes_like_lighttpd(switchyard, tmp_path):
    """A CONNECT's URL path is its target: a suffix route (":443") matches it, a "/" prefix never."""
    peer = RawPeer()
    web = Backend()
    try:
        routes = (f'"/" => (( "host" => "127.0.0.1", "port" => {web.port} )), '
                  f'":443" => (( "host" => "127.0.0.1", "port" => {peer.port} ))')
        s = switchyard(connect_conf(peer.port, tmp_path, routes=routes))
        with HTTPConnection(s.port) as c:
            open_tunnel(c, "198.51.100.1:443")
            c.send(b"x")
            assert c.read_exact(1) == b"x"
        with HTTPConnection(s.port) as c:
            c.send(b"CONNECT 198.51.100.1:80 HTTP/1.1\r\nHost: 198.51.100.1:80\r\n\r\n")
            assert c.read_response().status == 405
        assert len(peer.received) == 1
    finally:
        peer.close()
        web.close()


def test_connect_without_the_option_or_a_matching_route_is_405(switchyard, tmp_path):
    peer = RawPeer()
    try:
        off = switchyard(connect_conf(peer.port, tmp_path, option=None), name="off")
        prefix_only = switchyard(connect_conf(peer.port, tmp_path, routes=f'"/api/" => (( "host" => "127.0.0.1", "port" => {peer.port} ))'),
                                 name="prefix")
        for s in (off, prefix_only):
            with HTTPConnection(s.port) as c:
                c.send(b"CONNECT 192.0.2.7:22 HTTP/1.1\r\nHost: 192.0.2.7:22\r\n\r\n")
                assert c.read_response().status == 405
        assert peer.received == []
    finally:
        peer.close()


def test_connect_to_a_backend_that_is_down_is_503(switchyard, tmp_path):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()    # nothing listens there: the connect is refused
    s = switchyard(connect_conf(port, tmp_path))
    with HTTPConnection(s.port) as c:
        c.send(b"CONNECT 192.0.2.7:22 HTTP/1.1\r\nHost: 192.0.2.7:22\r\n\r\n")
        assert c.read_response().status == 503


@pytest.mark.switchyard_only
def test_connect_debug_lines_and_the_earlier_option_name(switchyard, tmp_path):
    peer = RawPeer()
    try:
        s = switchyard(connect_conf(peer.port, tmp_path, "proxy.debug = 1\n", option='"connect-method" => "enable"'))
        with HTTPConnection(s.port) as c:
            open_tunnel(c)
        assert s.wait_for_log(f"proxy debug: CONNECT 192.0.2.7:22 from 127.0.0.1: tunnel to backend 127.0.0.1:{peer.port}")
        assert s.wait_for_log("proxy debug: connected to the backend: 200 to the client, switched to a two-way byte stream")
    finally:
        peer.close()

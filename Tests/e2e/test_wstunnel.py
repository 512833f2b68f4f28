"""mod_wstunnel (issue 11): Switchyard terminates the WebSocket and hands the payload to a plain
socket program.

The seed `lighttpd/wstunnel.conf` is used in place with only its paths and port changed, and its
`bin-path` points at the seed `echo.pl` itself (unchanged, spawned with the listening socket on
fd 0). Clients are the Python `websockets` library, raw sockets (for what a library refuses to
send or does without asking) and headless Chromium running the seed `count.html`.
"""
import base64
import os
import socket
import threading
import time

import pytest

from e2e_util import HTTPConnection, q, require_seeds, wait_until
from wsframes import build_frame, parse_frame
from test_browser import browser  # noqa: F401 - the headless Chromium fixture
from wstunnel_util import handshake, raw_upgrade, read_frames, seed_config, url, ws_client


# ---------------------------------------------------------------- the seed pair


def test_seed_wstunnel_echo_pl_lines(switchyard, tmp_path):
    connect = ws_client()
    srv = switchyard(seed_config(tmp_path))
    with connect(url(srv), open_timeout=5) as ws:
        assert ws.subprotocol is None
        ws.send("hello\n")
        assert ws.recv(timeout=5) == "hello\n", "echo.pl returns the line as a text frame (frame-type text)"
        ws.send("wor")          # a partial line: echo.pl holds it until its newline
        ws.send("ld\n")
        assert ws.recv(timeout=5) == "world\n"
        ws.send(b"bin\n")       # binary in, the route's frame type out
        assert ws.recv(timeout=5) == "bin\n"
        ws.send("h\u00e9llo \u2603\n")
        assert ws.recv(timeout=5) == "h\u00e9llo \u2603\n", "UTF-8 survives byte-exact"
    assert ws.close_code == 1000


def test_invalid_utf8_from_backend_becomes_replacement_in_text_frames(switchyard, tmp_path):
    connect = ws_client()
    srv = switchyard(seed_config(tmp_path))
    with connect(url(srv), open_timeout=5) as ws:
        ws.send(b"a\xffb\n")
        assert ws.recv(timeout=5) == "a\ufffdb\n", "not-UTF-8 bytes become U+FFFD, the frame stays valid"
    srv2 = switchyard(seed_config(tmp_path / "b", 'wstunnel.frame-type = "binary"'), name="binary")
    with connect(url(srv2), open_timeout=5) as ws:
        ws.send(b"a\xffb\n")
        assert ws.recv(timeout=5) == b"a\xffb\n", "frame-type binary carries the bytes unchanged"


def test_count_html_counts_to_five_in_chromium(switchyard, tmp_path, browser):  # noqa: F811
    seeds = require_seeds()
    srv = switchyard(seed_config(tmp_path, 'mimetype.assign = (".html" => "text/html")'))
    (tmp_path / "docroot" / "count.html").symlink_to(seeds / "count.html")
    driver = browser()
    driver.get(f"http://127.0.0.1:{srv.port}/count.html")
    log = lambda: driver.execute_script("return document.getElementById('log').textContent")  # noqa: E731
    assert wait_until(lambda: "RECV: 5" in log(), timeout=15), f"page log:\n{log()}\n{srv.output()}"
    text = log()
    for n in range(1, 6):
        assert f"SEND: {n}" in text and f"RECV: {n}\n" in text, text
    assert "DISCONNECT" not in text


# ---------------------------------------------------------------- handshake rules


def test_version_other_than_13_is_400_with_the_header(switchyard, tmp_path):
    srv = switchyard(seed_config(tmp_path))
    c, r = handshake(srv.port, version="8")
    assert r.status == 400 and r.header("Sec-WebSocket-Version") == "13"
    c.close()
    c, r = handshake(srv.port)
    assert r.status == 101
    c.close()


@pytest.mark.parametrize("origin,status", [(None, 400), ("https://badexample.org", 403), ("https://evil.com", 403),
                                           ("https://www.example.org", 101), ("https://example.org", 101),
                                           ("http://a.b.example.org:8080", 101)])
def test_origins(switchyard, tmp_path, origin, status):
    srv = switchyard(seed_config(tmp_path, 'wstunnel.origins = ("example.org")'))
    c, r = handshake(srv.port, headers=[("Origin", origin)] if origin else [])
    assert r.status == status, (origin, r)
    c.close()


def test_no_origin_list_admits_all(switchyard, tmp_path):
    srv = switchyard(seed_config(tmp_path))
    for headers in ([], [("Origin", "https://anything.example")]):
        c, r = handshake(srv.port, headers=headers)
        assert r.status == 101
        c.close()


def test_plain_get_under_the_prefix_is_not_the_tunnel(switchyard, tmp_path):
    srv = switchyard(seed_config(tmp_path))
    (tmp_path / "docroot" / "ws").mkdir()
    (tmp_path / "docroot" / "ws" / "page.txt").write_text("static\n")
    c = HTTPConnection(srv.port)
    c.request("GET", "/ws/page.txt")
    r = c.read_response()
    assert r.status == 200 and r.body == b"static\n", "like lighttpd, non-upgrade requests go on to static files"
    c.close()


def test_subprotocols(switchyard, tmp_path):
    connect = ws_client()
    srv = switchyard(seed_config(tmp_path))
    with connect(url(srv), subprotocols=["base64"], open_timeout=5) as ws:
        assert ws.subprotocol == "base64"
        ws.send(base64.b64encode(b"\x00\xffline\n").decode())
        assert base64.b64decode(ws.recv(timeout=5)) == b"\x00\xffline\n", "base64 decoded in, encoded out"
    with connect(url(srv), subprotocols=["chat", "binary"], open_timeout=5) as ws:
        assert ws.subprotocol == "binary"
        ws.send(b"\xfe\n")
        assert ws.recv(timeout=5) == b"\xfe\n"
    c, r = handshake(srv.port)
    assert r.status == 101 and not r.has("Sec-WebSocket-Protocol"), "no subprotocol unless offered"
    c.close()


# ---------------------------------------------------------------- backends refusing, closing, dying


def test_backend_refusing_is_503(switchyard, tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    srv = switchyard(f'server.modules += ("mod_wstunnel")\nwstunnel.server = ("/ws/" => (("host" => "127.0.0.1", "port" => {port})))')
    c, r = handshake(srv.port)
    assert r.status == 503
    c.close()


class OneShotBackend:
    """A TCP backend that accepts one connection, reads one chunk, then closes (`reset`: with RST)."""

    def __init__(self, reset=False):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.reset = reset
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        conn, _ = self.sock.accept()
        conn.recv(100)
        conn.sendall(b"bye\n")
        time.sleep(0.2)
        if self.reset:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()
        self.sock.close()


@pytest.mark.parametrize("reset,code", [(False, 1001), (True, 1011)])
def test_backend_closing_or_dying(switchyard, reset, code):
    connect = ws_client()
    backend = OneShotBackend(reset=reset)
    srv = switchyard(f'server.modules += ("mod_wstunnel")\n'
                     f'wstunnel.server = ("/ws/" => (("host" => "127.0.0.1", "port" => {backend.port})))')
    from websockets.exceptions import ConnectionClosed
    with connect(url(srv), open_timeout=5) as ws:
        ws.send("x\n")
        assert ws.recv(timeout=5) == "bye\n"
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
    assert ws.close_code == code, (ws.close_code, ws.close_reason)


# ---------------------------------------------------------------- limits, keepalive, stop


def test_invalid_utf8_text_from_client_is_1007(switchyard, tmp_path):
    srv = switchyard(seed_config(tmp_path))
    c = raw_upgrade(srv.port)
    c.sock.sendall(build_frame(0x1, b"ok\xff\n"))
    frames = read_frames(c)
    assert frames and frames[0].opcode == 0x8 and int.from_bytes(frames[0].payload[:2], "big") == 1007, frames
    c.close()


def test_message_over_max_message_size_is_1009(switchyard, tmp_path):
    connect = ws_client()
    from websockets.exceptions import ConnectionClosed
    srv = switchyard(seed_config(tmp_path, "wstunnel.max-message-size = 1"))
    with connect(url(srv), open_timeout=5) as ws:
        ws.send("x" * 1000 + "\n")
        assert ws.recv(timeout=5) == "x" * 1000 + "\n", "under 1 KiB passes"
        ws.send("y" * 2000 + "\n")
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
    assert ws.close_code == 1009


def test_one_mib_message_round_trip(switchyard, tmp_path):
    connect = ws_client()
    srv = switchyard(seed_config(tmp_path, 'wstunnel.frame-type = "binary"'))
    payload = os.urandom(1 << 20).replace(b"\n", b"x") + b"\n"
    with connect(url(srv), open_timeout=5, max_size=None) as ws:
        ws.send(payload)
        got = bytearray()
        while len(got) < len(payload):
            got += ws.recv(timeout=10)
    assert bytes(got) == payload


@pytest.mark.timeout(90)
def test_slow_reader_stalls_the_sender_with_bounded_memory(switchyard, tmp_path):
    """The client sends 32 MiB of lines and reads nothing: the tunnel must stop reading it (the
    sender blocks) instead of buffering, and everything arrives once it reads. Raw sockets: the
    `websockets` sync client cannot read while one of its sends is blocked."""
    srv = switchyard(seed_config(tmp_path, 'wstunnel.frame-type = "binary"'))
    rss_before = srv.rss_kib()
    c = raw_upgrade(srv.port)
    for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        c.sock.setsockopt(socket.SOL_SOCKET, opt, 65536)
    frame = build_frame(0x2, b"z" * 65535 + b"\n")
    count, total = 512, 512 * 65536
    sent = [0]

    def send_all():
        s = c.sock.dup()
        s.settimeout(60)
        for _ in range(count):
            s.sendall(frame)
            sent[0] += 65536
        s.close()
    t = threading.Thread(target=send_all, daemon=True)
    t.start()
    time.sleep(4)
    assert sent[0] < total, "the sender was never stopped: the tunnel buffers without bound"
    grown = srv.rss_kib() - rss_before
    assert grown < 24 * 1024, f"switchyard grew by {grown} KiB while the client did not read"
    got, buf = 0, bytearray(c.buf)
    c.sock.settimeout(20)
    while got < total:
        parsed = parse_frame(buf)
        if parsed:
            assert parsed[0].opcode == 0x2 and set(parsed[0].payload) <= {ord("z"), 10}
            got += len(parsed[0].payload)
            del buf[:parsed[1]]
            continue
        data = c.sock.recv(1 << 20)
        assert data, f"closed after {got} of {total} bytes"
        buf += data
    t.join(10)
    assert got == total and sent[0] == total
    c.close()


def test_ping_interval_keeps_a_live_peer_and_drops_a_dead_one(switchyard, tmp_path):
    connect = ws_client()
    srv = switchyard(seed_config(tmp_path, "wstunnel.ping-interval = 1"))
    with connect(url(srv), open_timeout=5) as ws:   # answers PINGs by itself
        time.sleep(3.5)
        ws.send("alive\n")
        assert ws.recv(timeout=5) == "alive\n"
    dead = raw_upgrade(srv.port)                    # never answers
    start = time.monotonic()
    frames = read_frames(dead, want=100, timeout=8)
    assert any(f.opcode == 0x9 for f in frames), "the server sent PINGs"
    assert time.monotonic() - start < 7.5, f"a peer that never answers was not dropped ({frames})"
    dead.close()


def test_graceful_stop_sends_1001(switchyard, tmp_path):
    connect = ws_client()
    from websockets.exceptions import ConnectionClosed
    import signal
    srv = switchyard(seed_config(tmp_path, "server.graceful-shutdown-timeout = 3"))
    with connect(url(srv), open_timeout=5) as ws:
        ws.send("before\n")
        assert ws.recv(timeout=5) == "before\n"
        srv.send_signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=8)
    assert ws.close_code == 1001, (ws.close_code, ws.close_reason)
    srv.stop()


@pytest.mark.timeout(90)
def test_ping_flood_from_a_client_that_does_not_read_is_bounded(switchyard, tmp_path):
    """Every PING wants a PONG: a client that sends PINGs and reads nothing must be stopped (the
    PONG queue bounded by the client's output watermark), not buffered for."""
    srv = switchyard(seed_config(tmp_path))
    rss_before = srv.rss_kib()
    c = raw_upgrade(srv.port)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    block = build_frame(0x9, b"p" * 125) * 8000          # ~1 MiB of PINGs
    total = 48 * len(block)
    sent = [0]

    def flood():
        s = c.sock.dup()
        s.settimeout(60)
        try:
            for _ in range(48):
                s.sendall(block)
                sent[0] += len(block)
        except OSError:
            pass
        s.close()
    t = threading.Thread(target=flood, daemon=True)
    t.start()
    last, still = -1, 0
    while still < 4 and sent[0] < total:                 # until the sender stalls (2 s) or is done
        time.sleep(0.5)
        still = still + 1 if sent[0] == last else 0
        last = sent[0]
    grown = srv.rss_kib() - rss_before
    assert sent[0] < total, "48 MiB of PINGs went in while no PONG was read"
    assert grown < 24 * 1024, f"switchyard grew by {grown} KiB"
    c.close()
    t.join(10)

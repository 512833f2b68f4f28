"""Shared helpers of the mod_wstunnel e2e tests (test_wstunnel*.py): the seed config used in place,
raw handshakes and frames, and small TCP backends."""
import socket
import threading

from e2e_util import HTTPConnection, q, require_module, require_seeds
from wsframes import new_key, parse_frame

SEED_SOCK, SEED_BIN, SEED_ROOT = '"/tmp/echo.sock"', '"/tmp/echo.pl"', '"/tmp"'


def ws_client():
    require_module("websockets", "the tunnel tests' WebSocket client")
    from websockets.sync.client import connect
    return connect


def seed_config(tmp_path, extra=""):
    """The seed wstunnel.conf with only its paths and port changed (and `extra` lines appended)."""
    seeds = require_seeds()
    text = (seeds / "lighttpd" / "wstunnel.conf").read_text()
    for needle in (SEED_SOCK, SEED_BIN, SEED_ROOT, "server.port = 8081"):
        assert text.count(needle) == 1, f"seed wstunnel.conf changed ({needle}):\n{text}"
    doc = tmp_path / "docroot"
    doc.mkdir(parents=True, exist_ok=True)
    text = (text.replace(SEED_SOCK, q(tmp_path / "echo.sock")).replace(SEED_BIN, q(seeds / "echo.pl"))
            .replace(SEED_ROOT, q(doc)).replace("server.port = 8081", "server.port = 0"))
    return text + "\n" + extra


def url(srv, path="/ws/"):
    return f"ws://127.0.0.1:{srv.port}{path}"


def handshake(port, path="/ws/", headers=(), version="13"):
    """A raw upgrade request; returns (HTTPConnection, Response)."""
    c = HTTPConnection(port)
    hs = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", new_key()),
          ("Sec-WebSocket-Version", version), *headers]
    c.request("GET", path, headers=hs)
    return c, c.read_response()


def read_frames(conn, want=1, timeout=5.0):
    """Frames from a raw connection until `want` arrived (or EOF / timeout)."""
    frames, buf = [], bytearray(conn.buf) if hasattr(conn, "buf") else bytearray()
    conn.sock.settimeout(timeout)
    while len(frames) < want:
        parsed = parse_frame(buf)
        if parsed:
            frames.append(parsed[0])
            del buf[:parsed[1]]
            continue
        try:
            data = conn.sock.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not data:
            break
        buf += data
    return frames


def raw_upgrade(port):
    c, r = handshake(port)
    assert r.status == 101, r
    return c


class TaggedEcho:
    """A TCP backend that answers every chunk with `tag` + the chunk, one thread per connection."""

    def __init__(self, tag):
        self.tag = tag
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        with conn:
            while data := conn.recv(65536):
                conn.sendall(self.tag + data)

    def host(self):
        return f'( "host" => "127.0.0.1", "port" => {self.port} )'

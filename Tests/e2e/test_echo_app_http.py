"""switchyard-echo-app as mod_proxy's and mod_wstunnel's backend, and the benchmark rows built on it.

`--protocol http`: the echo app is an HTTP/1.1 server itself (101 then the echoed WebSocket
stream; plain requests answered and their bodies echoed, kept alive); `--protocol raw`: every byte
echoed back. Both are checked directly with real sockets and the `websockets` client, then behind
Switchyard's proxy and tunnel; and `switchyard-bench compare --paths ...` fills the proxy, tunnel
and direct rows (lighttpd's mod_proxy / mod_wstunnel beside them) with every echoed byte verified.

Binaries: SWITCHYARD_BIN_DIR, else <repo>/.build/debug/.
"""
import asyncio
import hashlib
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
import websockets

from e2e_util import REPO, Switchyard, free_port, get, q, request, require_executable, wait_until

pytestmark = pytest.mark.switchyard_only

BIN_DIR = Path(os.environ.get("SWITCHYARD_BIN_DIR") or REPO / ".build" / "debug")
ECHO_APP = BIN_DIR / "switchyard-echo-app"
BENCH = BIN_DIR / "switchyard-bench"


def start_app(proto):
    require_executable(ECHO_APP, "swift build --product switchyard-echo-app, or set SWITCHYARD_BIN_DIR")
    port = free_port()
    p = subprocess.Popen([str(ECHO_APP), "--protocol", proto, "--listen", f"127.0.0.1:{port}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    def up():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False
    wait_until(up, timeout=10)
    return p, port


def stop_app(p):
    p.terminate()
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


@pytest.fixture(scope="module")
def http_app():
    p, port = start_app("http")
    yield port
    stop_app(p)


@pytest.fixture(scope="module")
def raw_app():
    p, port = start_app("raw")
    yield port
    stop_app(p)


def recv_until(s, marker, limit=1 << 20):
    data = b""
    while marker not in data and len(data) < limit:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_plain_requests_are_echoed_on_a_kept_alive_connection(http_app):
    s = socket.create_connection(("127.0.0.1", http_app), timeout=5)
    s.sendall(b"POST /a?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
              b"POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
              b"GET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    assert data.count(b"HTTP/1.1 200 OK") == 3
    assert b"Content-Length: 29\r\n\r\necho-app ok POST /a?x=1\nhello" in data
    assert b"Transfer-Encoding: chunked" in data and b"echo-app ok POST /b\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n" in data
    assert data.endswith(b"echo-app ok GET /c\n")


def test_malformed_request_and_wrong_websocket_version_are_refused(http_app):
    s = socket.create_connection(("127.0.0.1", http_app), timeout=5)
    s.sendall(b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\n")
    assert recv_until(s, b"\r\n\r\n").startswith(b"HTTP/1.1 400")
    s.close()
    s = socket.create_connection(("127.0.0.1", http_app), timeout=5)
    s.sendall(b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n")
    head = recv_until(s, b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 426") and b"Sec-WebSocket-Version: 13" in head
    s.close()


def test_absurd_content_length_is_refused_and_the_app_keeps_serving(http_app):
    """Found by Fixtures/tools/hostile.py through the proxy: the greeting's length plus
    Content-Length 2^63-1 overflowed and the app trapped."""
    for length in (b"9223372036854775807", b"9223372036854775790"):
        s = socket.create_connection(("127.0.0.1", http_app), timeout=5)
        s.sendall(b"POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: " + length + b"\r\n\r\nabc")
        assert recv_until(s, b"\r\n\r\n").startswith(b"HTTP/1.1 413"), length
        s.close()
    s = socket.create_connection(("127.0.0.1", http_app), timeout=5)
    s.sendall(b"GET /still HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    assert recv_until(s, b"echo-app ok GET /still\n").endswith(b"echo-app ok GET /still\n")
    s.close()


def test_handshake_vector_and_websocket_echo(http_app):
    s = socket.create_connection(("127.0.0.1", http_app), timeout=5)
    s.sendall(b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    head = recv_until(s, b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101") and b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head
    s.close()

    async def run():
        async with websockets.connect(f"ws://127.0.0.1:{http_app}/ws", max_size=None) as ws:
            for m in ["hi", b"\x00\x01" * 40000, os.urandom(3 << 20)]:
                await ws.send(m)
                assert await ws.recv() == m
    asyncio.run(run())


def test_raw_echo_returns_every_byte_in_order(raw_app):
    s = socket.create_connection(("127.0.0.1", raw_app), timeout=10)
    blob = os.urandom(4 << 20)
    got = bytearray()
    import threading
    t = threading.Thread(target=lambda: s.sendall(blob))
    t.start()
    while len(got) < len(blob):
        chunk = s.recv(1 << 16)
        assert chunk
        got += chunk
    t.join()
    s.shutdown(socket.SHUT_WR)
    assert s.recv(10) == b""
    s.close()
    assert hashlib.sha256(got).digest() == hashlib.sha256(blob).digest()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, http_app):
    root = tmp_path_factory.mktemp("echoapp-http")
    with pytest.MonkeyPatch.context() as mp:
        if os.environ.get("SWITCHYARD_BIN_DIR") and not os.environ.get("SWITCHYARD_BIN"):
            mp.setenv("SWITCHYARD_BIN", str(BIN_DIR / "switchyard"))
        s = Switchyard(f"""
server.document-root = {q(root)}
server.modules += ("mod_proxy", "mod_wstunnel")
$HTTP["url"] =^ "/proxy/" {{
    proxy.server = ("/proxy/" => (( "host" => "127.0.0.1", "port" => {http_app} )))
    proxy.header = ( "upgrade" => "enable" )
}}
wstunnel.server = ("/wst/" => (( "socket" => {q(root / "raw.sock")}, "bin-path" => {q(f"{ECHO_APP} --protocol raw")} )))
wstunnel.frame-type = "binary"
""", root)
    yield s
    s.stop(expect_code=None)
    s.kill()


def test_behind_the_proxy_and_the_tunnel(gateway):
    r = request(gateway.port, "POST", "/proxy/x", body=b"body!")
    assert r.status == 200 and r.body == b"echo-app ok POST /proxy/x\nbody!"

    async def run():
        async with websockets.connect(f"ws://127.0.0.1:{gateway.port}/proxy/ws", max_size=None) as ws:
            big = os.urandom(2 << 20)
            await ws.send(big)
            assert await ws.recv() == big
            for i in range(50):
                await ws.send(f"m{i}")
                assert await ws.recv() == f"m{i}"
        async with websockets.connect(f"ws://127.0.0.1:{gateway.port}/wst/ws", max_size=None) as ws:
            for m in [b"abc", b"\xff" * 1000]:
                await ws.send(m)
                assert await ws.recv() == m
    asyncio.run(run())


def test_compare_fills_the_proxy_tunnel_and_direct_rows(tmp_path):
    require_executable(BENCH, "swift build --product switchyard-bench, or set SWITCHYARD_BIN_DIR")
    if not (Path("/usr/sbin/lighttpd").exists() or Path("/usr/bin/lighttpd").exists()):
        pytest.fail("lighttpd is not installed (make deps)")
    env = dict(os.environ, SWITCHYARD_ROOT=str(REPO), SWITCHYARD_BIN_DIR=str(BIN_DIR))
    env.pop("SWITCHYARD_BIN", None)
    out = tmp_path / "out"
    r = subprocess.run([str(BENCH), "compare", "--quick", "--duration", "0.5", "--warmup", "0.2",
                        "--paths", "lighttpd,proxy,wstunnel,direct", "--out", str(out)],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    md = (out / "results.md").read_text()
    rows = {line.split("|")[1].strip(): line for line in md.splitlines() if line.startswith("|")}
    for name in ["lighttpd mod_proxy → echo-app (HTTP)", "switchyard proxy → echo-app (HTTP)",
                 "lighttpd mod_wstunnel → echo-app (raw)", "switchyard wstunnel → echo-app (raw)",
                 "direct: load client → echo-app (HTTP), no gateway"]:
        assert name in rows, md
        assert "failed" not in rows[name].lower() and "mismatch" not in rows[name].lower(), rows[name]
    assert "switchyard proxy ÷ lighttpd mod_proxy" in md and "switchyard wstunnel ÷ lighttpd mod_wstunnel" in md
    assert "lighttpd mod_cgi" not in rows  # --paths leaves the other rows out

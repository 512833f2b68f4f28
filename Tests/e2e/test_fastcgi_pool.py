"""FastCGI connection reuse beyond lighttpd: multiplexing many requests (WebSockets included) over
one backend connection when the app says FCGI_MPXS_CONNS=1 (our fcgi-cgi), and FCGI_KEEP_CONN
pooling (`"connection-pool" => "enable"`) for an app that does not multiplex (libfcgi).
The gateway logs each new/reused backend connection when fastcgi.debug is set."""
import asyncio
import os

import pytest
import websockets

from e2e_util import REPO, CGI_BIN, HTTPConnection, q, request, wait_until

BIN_DIR = REPO / ".build" / "debug"
FCGI_CGI = BIN_DIR / "fcgi-cgi"
LIBFCGI_APP = REPO / "Fixtures" / "bin" / "fcgi-ws-echo"


def _require(path):
    if not path.exists():
        pytest.fail(f"{path} missing: run `make build`")


def _docroot(tmp_path):
    root = tmp_path / "www"
    (root / "ws").mkdir(parents=True)
    (root / "ws" / "echo").symlink_to(CGI_BIN / "ws-echo-fast")
    return root


def test_multiplexes_websockets_over_one_connection(switchyard, tmp_path):
    _require(FCGI_CGI)
    _require(CGI_BIN / "ws-echo-fast")
    root = _docroot(tmp_path)
    sock = tmp_path / "fcgi.sock"
    server = switchyard(f"""
server.document-root = {q(root)}
server.event-loops = 1
server.modules += ("mod_fastcgi")
fastcgi.debug = 1
fastcgi.server = ("/ws/" => ((
    "socket" => {q(sock)},
    "bin-path" => {q(FCGI_CGI)},
    "check-local" => "disable",
    "upgrade" => 1
)))
""")
    # One plain request first: the gateway asks the app for FCGI_MPXS_CONNS and learns it.
    r = request(server.port, "GET", "/ws/echo")
    assert r.status == 400          # the echo CGI refuses a non-upgrade request

    async def one(i):
        async with websockets.connect(f"ws://127.0.0.1:{server.port}/ws/echo", max_size=None) as ws:
            for j in range(5):
                msg = f"client {i} message {j}"
                await ws.send(msg)
                assert await ws.recv() == msg
            await asyncio.sleep(0.3)   # keep all of them open at the same time

    async def run():
        await asyncio.gather(*(one(i) for i in range(20)))

    asyncio.run(asyncio.wait_for(run(), 30))
    log = server.log_text()
    opened = log.count("fastcgi: new connection")
    reused = log.count("fastcgi: reusing connection")
    assert opened == 1, f"expected one multiplexed backend connection, saw {opened} new ones:\n{log[-3000:]}"
    assert reused >= 20
    assert "multiplexing: true" in log


def test_connection_pool_reuses_a_libfcgi_connection(switchyard, tmp_path):
    _require(LIBFCGI_APP)
    sock = tmp_path / "app.sock"
    server = switchyard(f"""
server.document-root = {q(tmp_path)}
server.event-loops = 1
server.modules += ("mod_fastcgi")
fastcgi.debug = 1
fastcgi.server = ("/app/" => ((
    "socket" => {q(sock)},
    "bin-path" => {q(LIBFCGI_APP)},
    "check-local" => "disable",
    "connection-pool" => "enable"
)))
""")
    c = HTTPConnection(server.port)
    for i in range(5):
        c.request("GET", f"/app/x?n={i}")
        r = c.read_response()
        assert r.status == 200
        assert b"fcgi-ws-echo ok" in r.body and f"n={i}".encode() in r.body
    c.close()
    # stderr reaches the test through a reader thread: wait for the lines rather than race it.
    wait_until(lambda: server.log_text().count("fastcgi: reusing connection") >= 4, 5)
    log = server.log_text()
    assert log.count("fastcgi: new connection") == 1, log[-3000:]
    assert log.count("fastcgi: reusing connection") == 4


def test_without_pooling_a_libfcgi_app_gets_a_connection_per_request(switchyard, tmp_path):
    """lighttpd's behaviour and our default for apps that do not multiplex."""
    _require(LIBFCGI_APP)
    sock = tmp_path / "app.sock"
    server = switchyard(f"""
server.document-root = {q(tmp_path)}
server.event-loops = 1
server.modules += ("mod_fastcgi")
fastcgi.debug = 1
fastcgi.server = ("/app/" => (( "socket" => {q(sock)}, "bin-path" => {q(LIBFCGI_APP)}, "check-local" => "disable" )))
""")
    for i in range(3):
        assert request(server.port, "GET", f"/app/{i}").status == 200
    # stderr reaches the test through a reader thread: wait for the lines rather than race it.
    wait_until(lambda: server.log_text().count("fastcgi: new connection") >= 3, 5)
    assert server.log_text().count("fastcgi: new connection") == 3

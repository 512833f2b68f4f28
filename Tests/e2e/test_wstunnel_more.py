"""mod_wstunnel beyond the seed pair: the seed novnc-wstunnel.conf (only the VNC port changed) with
Debian's noVNC against a real VNC server (tigervnc) in headless Chromium, routes inside conditionals,
balancing and map-extensions over host+port backends, connect-timeout, and permessage-deflate
(RFC 7692) negotiated on the tunnel. Helpers: wstunnel_util.py."""
import os
import socket
import subprocess
import time

import pytest

from e2e_util import free_port, q, require, require_seeds, wait_until
from test_browser import browser  # noqa: F401 - the headless Chromium fixture
from wsframes import build_frame
from wstunnel_util import TaggedEcho, handshake, read_frames, seed_config, url, ws_client


# ---------------------------------------------------------------- routes: conditionals, balance, extensions


def test_route_inside_a_url_conditional_like_the_novnc_seed(switchyard, tmp_path):
    connect = ws_client()
    backend = TaggedEcho(b"vnc:")
    srv = switchyard(f'''server.modules += ("mod_wstunnel")
server.document-root = {q(tmp_path)}
$HTTP["url"] =~ "^/websockify" {{
    wstunnel.server = ( "" => ( {backend.host()} ) )
    wstunnel.frame-type = "binary"
}}''')
    with connect(url(srv, "/websockify"), open_timeout=5) as ws:
        ws.send(b"\x00\x01")
        assert ws.recv(timeout=5) == b"vnc:\x00\x01", "binary frames both ways"
    c, r = handshake(srv.port, path="/other")
    assert r.status != 101, "outside the conditional there is no tunnel"
    c.close()


def test_balance_and_map_extensions(switchyard, tmp_path):
    connect = ws_client()
    a, b = TaggedEcho(b"A"), TaggedEcho(b"B")
    srv = switchyard(f'''server.modules += ("mod_wstunnel")
server.document-root = {q(tmp_path)}
wstunnel.server = ( ".ws" => ( {a.host()}, {b.host()} ) )
wstunnel.map-extensions = ( ".tunnel" => ".ws" )
wstunnel.balance = "round-robin"
wstunnel.debug = 1''')
    seen = set()
    for path in ("/x.ws", "/y.tunnel", "/z.ws", "/w.tunnel"):
        with connect(url(srv, path), open_timeout=5) as ws:
            ws.send("ping")
            reply = ws.recv(timeout=5)
            assert reply[1:] == "ping"
            seen.add(reply[0])
    assert seen == {"A", "B"}, "round-robin uses both hosts"
    assert srv.wait_for_log("WebSocket open"), "wstunnel.debug logs the tunnel"


# ---------------------------------------------------------------- permessage-deflate (RFC 7692)


def test_deflate_is_off_unless_configured(switchyard, tmp_path):
    connect = ws_client()
    srv = switchyard(seed_config(tmp_path))
    with connect(url(srv), open_timeout=5) as ws:   # the websockets client offers permessage-deflate
        assert ws.response.headers.get("Sec-WebSocket-Extensions") is None


def test_deflate_negotiated_compressed_echo_and_bomb_refused(switchyard, tmp_path):
    import zlib
    connect = ws_client()
    srv = switchyard(seed_config(tmp_path, 'wstunnel.permessage-deflate = ( "server-no-context-takeover" => "enable" )\n'
                                           'wstunnel.max-message-size = 1024'))
    # Raw: the server's frame has RSV1 set and inflates to the echo.
    c, r = handshake(srv.port, headers=[("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")])
    assert r.status == 101
    ext = r.header("Sec-WebSocket-Extensions") or ""
    assert ext.startswith("permessage-deflate") and "server_no_context_takeover" in ext, ext
    c.sock.sendall(build_frame(0x1, b"hi hi hi hi\n"))
    frames = read_frames(c)
    assert frames and frames[0].rsv == 4, frames
    assert zlib.decompressobj(-15).decompress(frames[0].payload + b"\x00\x00\xff\xff") == b"hi hi hi hi\n"
    c.close()
    # websockets: compressed both ways, 512 KiB of text round-trips.
    big = "a" * (512 << 10) + "\n"
    with connect(url(srv), open_timeout=5, max_size=None) as ws:
        assert "permessage-deflate" in ws.response.headers.get("Sec-WebSocket-Extensions", "")
        ws.send(big)
        got = ""
        while len(got) < len(big):
            got += ws.recv(timeout=10)
        assert got == big
    # A decompression bomb: 8 MiB of zeros, a few KiB on the wire, over the 1 MiB limit -> 1009.
    from websockets.exceptions import ConnectionClosed
    with connect(url(srv), open_timeout=5, max_size=None) as ws:
        ws.send(b"\0" * (8 << 20))
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
    assert ws.close_code == 1009, (ws.close_code, ws.close_reason)


def test_connect_timeout_gives_503(switchyard):
    """A backend whose accept queue is full drops SYNs: the connect hangs until connect-timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        f = socket.socket()
        f.setblocking(False)
        f.connect_ex(("127.0.0.1", port))
        fillers.append(f)
    time.sleep(0.2)
    srv = switchyard(f'server.modules += ("mod_wstunnel")\n'
                     f'wstunnel.server = ("/ws/" => (("host" => "127.0.0.1", "port" => {port}, "connect-timeout" => 1)))')
    start = time.monotonic()
    c, r = handshake(srv.port)
    assert r.status == 503 and time.monotonic() - start < 5, (r, time.monotonic() - start)
    assert srv.wait_for_log("connect-timeout")
    c.close()
    for f in fillers:
        f.close()
    listener.close()


NOVNC = "/usr/share/novnc"   # Debian `novnc`: the seed's own document-root
XVNC = "/usr/bin/Xtigervnc"  # Debian `tigervnc-standalone-server`


@pytest.fixture
def vnc_server(tmp_path):
    """A real VNC server (no authentication, loopback only) on a free port; yields the port."""
    require(os.access(XVNC, os.X_OK), f"{XVNC} not found (apt-get install tigervnc-standalone-server)")
    port = free_port()
    display = f":{40 + port % 500}"
    proc = subprocess.Popen([XVNC, display, "-rfbport", str(port), "-SecurityTypes", "None", "-localhost",
                             "-geometry", "320x200", "-depth", "24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "xvnc.log", "wb"), start_new_session=True)
    try:
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.mark.timeout(90)
def test_novnc_seed_connects_and_draws_the_remote_screen(switchyard, browser, vnc_server, tmp_path):  # noqa: F811
    seeds = require_seeds()
    require(os.path.isfile(f"{NOVNC}/vnc_lite.html"), f"{NOVNC} not found (apt-get install novnc)")
    assert wait_until(lambda: _listening(vnc_server), timeout=10), (tmp_path / "xvnc.log").read_text()
    text = (seeds / "lighttpd" / "novnc-wstunnel.conf").read_text()
    assert text.count('"port" => "5900"') == 1, text
    srv = switchyard(text.replace('"port" => "5900"', f'"port" => "{vnc_server}"'))
    driver = browser()
    driver.get(f"http://127.0.0.1:{srv.port}/vnc_lite.html")
    status = lambda: driver.execute_script("return document.getElementById('status').textContent")  # noqa: E731
    assert wait_until(lambda: status().startswith("Connected"), timeout=20), f"status: {status()}\n{srv.output()}"
    # The remote framebuffer (320x200) is drawn: the canvas has its size and opaque pixels.
    drawn = """const c = document.querySelector('#screen canvas');
               if (!c || c.width !== 320 || c.height !== 200) return false;
               const d = c.getContext('2d').getImageData(0, 0, 320, 200).data;
               for (let i = 3; i < d.length; i += 4) if (d[i] !== 255) return false;
               return true;"""
    assert wait_until(lambda: driver.execute_script(drawn), timeout=10), "the remote screen was not drawn"

"""`websocket.origins` and `websocket.ping-interval` on the routes that relay an upgrade without
parsing it (mod_cgi, mod_scgi, mod_fastcgi, mod_proxy), with real peers and raw sockets:

- origins: the seed ws_echo.py run in place as a CGI, switchyard-echo-app behind mod_fastcgi and a
  `websockets` server behind mod_proxy; 400 without Origin, 403 on a mismatch, both before any
  backend is contacted (no CGI spawned, no connection to the proxied server), 101 on a match;
- pings: Fixtures/cgi-test/ws_echo_all.py echoes every frame, PONGs included, so a PONG the gateway
  let through to the backend would come back. A raw client sends large fragmented messages and
  answers PINGs: each PING arrives between whole frames (the echo parses byte-exact around it),
  none of its PONGs reaches the backend, its own unsolicited PONG does; a client that never
  answers is closed after the interval;
- the relay: without a ping interval an upgraded SCGI stream (socket to socket) is relayed in
  user space while it carries small messages, moves to the kernel splice relay (its two pipes
  appear in the gateway) at its first bulk read or after two quiet seconds; with a ping interval
  (set in a conditional) it never does.

Switchyard-specific (lighttpd has no such keys outside mod_wstunnel)."""
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

import wsframes
from e2e_util import CGI_TEST, REPO, HTTPConnection, q, require_executable, require_module, wait_until

pytestmark = pytest.mark.switchyard_only

BIN_DIR = Path(os.environ.get("SWITCHYARD_BIN_DIR") or REPO / ".build" / "debug")
ECHO_APP = BIN_DIR / "switchyard-echo-app"
PYTHON = "/usr/bin/python3"
ORIGIN_CASES = [(None, 400), ("https://badexample.org", 403), ("http://example.org.evil.test", 403)]


def upgrade(port, path, origin=None):
    """A raw upgrade request; returns (HTTPConnection, Response)."""
    c = HTTPConnection(port)
    headers = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", wsframes.new_key()),
               ("Sec-WebSocket-Version", "13")]
    if origin:
        headers.append(("Origin", origin))
    c.request("GET", path, headers=headers)
    return c, c.read_response()


def next_frame(c, timeout=10.0):
    """The next frame from a raw connection (None at EOF)."""
    c.sock.settimeout(timeout)
    while True:
        parsed = wsframes.parse_frame(c.buf)
        if parsed:
            del c.buf[:parsed[1]]
            return parsed[0]
        try:
            data = c.sock.recv(1 << 20)
        except ConnectionResetError:
            return None
        if not data:
            return None
        c.buf += data


def echo_once(c, text=b"hello"):
    c.send(wsframes.build_frame(1, text))
    f = next_frame(c)
    assert f is not None and f.opcode == 1 and f.payload == text, f


@pytest.fixture
def echo_app(tmp_path):
    """switchyard-echo-app --protocol fastcgi on a unix socket, started here, killed at teardown."""
    require_executable(ECHO_APP, "swift build --product switchyard-echo-app")
    sock = tmp_path / "fcgi.sock"
    p = subprocess.Popen([str(ECHO_APP), "--protocol", "fastcgi", "--socket", str(sock)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert wait_until(sock.exists, 10), "echo app did not create its socket"
        yield sock
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait(5)


# ------------------------------------------------------------------------------------- origins

def test_origins_on_cgi_with_the_seed_ws_echo_in_place(switchyard, seeds):
    s = switchyard(f"""
server.document-root = {q(seeds)}
server.modules = ( "mod_cgi" )
cgi.assign = ( ".py" => {q(PYTHON)} )
cgi.upgrade = "enable"
websocket.origins = ( "example.org" )
""")
    for origin, status in ORIGIN_CASES:
        c, r = upgrade(s.port, "/ws_echo.py", origin)
        c.close()
        assert r.status == status, (origin, r)
        assert not [p for p, st in s.children() if st != "Z"], "a CGI was spawned for a refused upgrade"
    assert s.wait_for_log("without an Origin header refused") and s.wait_for_log("badexample.org refused")
    c, r = upgrade(s.port, "/ws_echo.py", "https://www.example.org")
    with c:
        assert r.status == 101, r
        c.send(wsframes.build_frame(1, b"hello seed"))
        f = next_frame(c)
        assert f is not None and f.payload == b"hello seed", f   # the seed echoes with our own mask


def test_origins_on_fastcgi_with_the_echo_app(switchyard, echo_app, tmp_path):
    s = switchyard(f"""
server.document-root = {q(tmp_path)}
server.modules = ( "mod_fastcgi" )
fastcgi.server = ( "/fcgi/" => (( "socket" => {q(echo_app)}, "check-local" => "disable", "upgrade" => 1 )) )
$HTTP["url"] =~ "^/fcgi/strict" {{
    websocket.origins = ( "example.org", "https://app.test:8443" )
}}
""")
    for origin, status in ORIGIN_CASES:
        c, r = upgrade(s.port, "/fcgi/strict", origin)
        c.close()
        assert r.status == status, (origin, r)
    for path, origin in (("/fcgi/strict", "https://app.test:8443"), ("/fcgi/strict", "http://EXAMPLE.org"),
                         ("/fcgi/open", None)):
        c, r = upgrade(s.port, path, origin)
        with c:
            assert r.status == 101, (path, origin, r)
            echo_once(c)


def test_origins_on_the_proxy_refuse_before_connecting(switchyard):
    require_module("websockets", "the proxied WebSocket echo")
    from proxy_peers import WSEcho
    peer = WSEcho()
    try:
        s = switchyard(f"""
server.modules = ( "mod_proxy" )
proxy.server = ( "/ws/" => (( "host" => "127.0.0.1", "port" => {peer.port} )) )
proxy.header = ( "upgrade" => "enable" )
websocket.origins = ( "example.org" )
""")
        for origin, status in ORIGIN_CASES:
            c, r = upgrade(s.port, "/ws/echo", origin)
            c.close()
            assert r.status == status, (origin, r)
        assert peer.paths == [], "the proxied server was contacted for a refused upgrade"
        c, r = upgrade(s.port, "/ws/echo", "https://example.org")
        with c:
            assert r.status == 101, r
            echo_once(c)
        assert peer.paths == ["/ws/echo"]
    finally:
        peer.close()


# --------------------------------------------------------------------------------------- pings

def cgi_config(root, interval):
    (root / "ws").mkdir(exist_ok=True)
    target = root / "ws" / "ws_echo_all.py"
    if not target.exists():
        shutil.copy2(CGI_TEST / "ws_echo_all.py", target)   # a symlink out of the docroot is refused
    return f"""
server.document-root = {q(root)}
server.modules = ( "mod_cgi" )
cgi.assign = ( ".py" => {q(PYTHON)} )
cgi.upgrade = "enable"
websocket.ping-interval = {interval}
"""


def fragmented(data, sizes):
    """One binary message in frames of `sizes` (masked, as a client sends)."""
    frames, off = [], 0
    for i, n in enumerate(sizes):
        last = i == len(sizes) - 1
        frames.append(wsframes.build_frame(2 if i == 0 else 0, data[off:off + n], fin=last))
        off += n
    return b"".join(frames)


def test_pings_between_whole_frames_and_their_pongs_never_reach_the_backend(switchyard, tmp_path):
    s = switchyard(cgi_config(tmp_path, 1))
    c, r = upgrade(s.port, "/ws/ws_echo_all.py")
    pings, messages, own_pongs = [], 0, []
    with c:
        assert r.status == 101, r
        c.send(wsframes.build_frame(0xA, b"mine"))      # unsolicited: must reach the backend unchanged
        start = time.monotonic()
        while time.monotonic() - start < 4.5 or len(pings) < 2:
            assert time.monotonic() - start < 15, f"only {len(pings)} PINGs in 15 s"
            sizes = (70_000, 300, 125, 65_536, 7)        # 64-, 16- and 7-bit lengths
            data = os.urandom(sum(sizes))
            c.send(fragmented(data, sizes))
            got = []
            while len(got) < len(sizes):
                f = next_frame(c)
                assert f is not None, "closed while echoing"
                assert f.rsv == 0 and f.opcode in (0, 1, 2, 9, 10), f"a frame out of sync: {f.opcode}"
                if f.opcode == 9:
                    assert not f.masked and len(f.payload) == 8 and f.fin, f
                    pings.append(time.monotonic())
                    c.send(wsframes.build_frame(0xA, f.payload))   # answered at once
                elif f.opcode == 10:
                    own_pongs.append(f.payload)
                else:
                    got.append(f)
            assert [len(f.payload) for f in got] == list(sizes)
            assert b"".join(f.payload for f in got) == data
            assert [f.fin for f in got] == [False] * (len(sizes) - 1) + [True]
            messages += 1
        assert own_pongs == [b"mine"], f"PONGs that came back from the backend: {own_pongs}"
        echo_once(c)
    gaps = [b - a for a, b in zip(pings, pings[1:])]
    assert all(0.5 < g < 4.5 for g in gaps), f"PINGs not at the 1 s interval: {gaps}"
    assert messages >= 3 and "no PONG" not in s.log_text()


def test_a_client_that_never_answers_is_closed(switchyard, tmp_path):
    s = switchyard(cgi_config(tmp_path, 1))
    c, r = upgrade(s.port, "/ws/ws_echo_all.py")
    with c:
        assert r.status == 101, r
        echo_once(c)
        first = next_frame(c, timeout=5)
        assert first is not None and first.opcode == 9, first
        start = time.monotonic()
        while (f := next_frame(c, timeout=10)) is not None:   # PINGs unanswered: then EOF
            assert f.opcode == 9, f
        assert time.monotonic() - start < 6, "not closed within the interval after the PING"
    assert s.wait_for_log("no PONG within 1 s of a PING (websocket.ping-interval): closing")
    assert wait_until(lambda: not [p for p, st in s.children() if st != "Z"], 10), "the CGI outlived its client"


# ------------------------------------------------------------------------------ splice or not

def relay_pipes(pid):
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            n += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("pipe:")
        except OSError:
            pass
    return n


def test_default_upgrade_still_splices_and_a_ping_interval_relays_in_user_space(switchyard, tmp_path):
    require_executable(ECHO_APP, "swift build --product switchyard-echo-app")
    sock = tmp_path / "scgi.sock"
    app = subprocess.Popen([str(ECHO_APP), "--protocol", "scgi", "--socket", str(sock)], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert wait_until(sock.exists, 10)
        s = switchyard(f"""
server.document-root = {q(tmp_path)}
server.modules = ( "mod_scgi" )
scgi.server = ( "/s/" => (( "socket" => {q(sock)}, "check-local" => "disable", "upgrade" => 1 )) )
$HTTP["url"] =~ "^/s/ping" {{
    websocket.ping-interval = 1
}}
""")
        before = relay_pipes(s.pid)
        c, r = upgrade(s.port, "/s/plain")
        with c:
            assert r.status == 101, r
            # Small messages, never two seconds apart: relayed in user space (no pipes).
            for i in range(15):
                echo_once(c, b"small %d" % i)
                time.sleep(0.2)
            assert relay_pipes(s.pid) == before, "small messages must not move the relay into splice pipes"
            # A bulk message (reads fill the buffer): splice from now on, while the traffic goes on.
            big = os.urandom(1 << 20)
            c.send(wsframes.build_frame(2, big))
            f = next_frame(c)
            assert f is not None and f.payload == big
            echo_once(c, b"after the bulk message")
            # (well before two quiet seconds could have done it)
            assert wait_until(lambda: relay_pipes(s.pid) == before + 4, 1), \
                f"no splice relay after a bulk read (pipes {before} -> {relay_pipes(s.pid)})"
            echo_once(c, b"spliced")
        assert wait_until(lambda: relay_pipes(s.pid) == before, 5), "the splice relay outlived its client"
        c, r = upgrade(s.port, "/s/plain")
        with c:
            assert r.status == 101, r
            echo_once(c)
            # Two quiet seconds: the idle WebSocket moves into the kernel relay, which holds less.
            assert wait_until(lambda: relay_pipes(s.pid) == before + 4, 8), \
                f"no splice relay for a quiet WebSocket (pipes {before} -> {relay_pipes(s.pid)})"
            echo_once(c, b"spliced")
        assert wait_until(lambda: relay_pipes(s.pid) == before, 5), "the splice relay outlived its client"
        c, r = upgrade(s.port, "/s/ping")
        with c:
            assert r.status == 101, r
            echo_once(c)
            f = next_frame(c, timeout=5)
            assert f is not None and f.opcode == 9 and not f.masked, f
            c.send(wsframes.build_frame(0xA, f.payload))
            echo_once(c, b"after the ping")
            big = os.urandom(1 << 20)
            c.send(wsframes.build_frame(2, big))
            while True:   # PINGs may come between the echoed frames
                f = next_frame(c)
                assert f is not None
                if f.opcode == 9:
                    c.send(wsframes.build_frame(0xA, f.payload))
                    continue
                assert f.payload == big
                break
            time.sleep(3)
            assert relay_pipes(s.pid) == before, "a route with a ping interval must not splice"
    finally:
        app.send_signal(signal.SIGKILL)
        app.wait(5)

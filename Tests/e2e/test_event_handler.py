"""`server.event-handler = "io_uring"` (io_uring as the event loops' readiness source instead of
epoll): a WebSocket echo through mod_cgi (the seed ws_echo.py) and through mod_fastcgi (the
switchyard-echo-app) on one server, small messages (and over FastCGI one larger than the relay's
buffers), and
a plain request beside them. The server must really use a ring (an `anon_inode:[io_uring]`
descriptor), so a key that was silently ignored would fail. Switchyard-specific."""
import os

import pytest

import wsframes
from e2e_util import HTTPConnection, get, q
from test_upgrade_policy import echo_app, next_frame  # noqa: F401 (echo_app: the FastCGI echo app fixture)

pytestmark = pytest.mark.switchyard_only

PYTHON = "/usr/bin/python3"


def ring_descriptors(pid):
    found = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:[io_uring]":
                found += 1
        except OSError:
            pass
    return found


def echo_session(port, path, big_size):
    c = HTTPConnection(port)
    with c:
        c.request("GET", path, headers=[("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                        ("Sec-WebSocket-Key", wsframes.new_key()), ("Sec-WebSocket-Version", "13"),
                                        ("Origin", "http://127.0.0.1")])   # the seed echo needs one
        r = c.read_response()
        assert r.status == 101, r
        for i in range(50):
            text = f"message {i} on {path}".encode()
            c.send(wsframes.build_frame(1, text))
            f = next_frame(c)
            assert f.opcode == 1 and f.payload == text, (i, f)
        big = bytes(32 + (i * 7) % 95 for i in range(big_size))   # ASCII: the seed echoes text
        c.send(wsframes.build_frame(1, big))
        f = next_frame(c)
        assert f.opcode == 1 and f.payload == big


def test_websocket_echo_through_cgi_and_fastcgi_on_io_uring(switchyard, seeds, echo_app):
    s = switchyard(f"""
server.event-handler = "io_uring"
server.event-loops = 2
server.document-root = {q(seeds)}
server.modules = ( "mod_cgi", "mod_fastcgi" )
cgi.assign = ( ".py" => {q(PYTHON)} )
cgi.upgrade = "enable"
fastcgi.server = ( "/fcgi/" => (( "socket" => {q(echo_app)}, "check-local" => "disable", "upgrade" => 1 )) )
""")
    assert ring_descriptors(s.pid) == 3, "one ring per loop (main and two workers) expected"
    r = get(s.port, "/README.md")
    assert r.status == 200 and r.body == (seeds / "README.md").read_bytes(), r
    echo_session(s.port, "/ws_echo.py", 4000)      # the seed toy echo loses partial reads: a small one
    echo_session(s.port, "/fcgi/echo", 300_000)    # larger than the relay's buffers
    s.stop()

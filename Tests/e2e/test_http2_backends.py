"""RFC 8441 WebSockets over one HTTP/2 connection to every backend path at once (issue 13): the C
echo CGI (mod_cgi), Debian's libfcgi app (mod_fastcgi, `bin-path`), the native echo app over SCGI,
a real uWSGI over the uwsgi protocol, the echo app behind mod_proxy (HTTP/1.1 upgrade upstream) and
the raw echo app behind mod_wstunnel (the gateway is the WebSocket server). 16 MiB of messages are
spread over those six streams while a seventh stream's reader does not read: its echo waits, the
six others flow, and every byte comes back in order.
"""
import os
import random

import pytest

from e2e_util import CGI_BIN, Switchyard, free_port, q, require_executable
from h2_client import H2Client
from test_gateways import LIBFCGI_APP, Procs, need, start_uwsgi, wait_listening
from test_http2 import ECHO_APP

pytestmark = pytest.mark.switchyard_only

MIB = 1 << 20
PATHS = {
    "cgi": "/cgi/ws-echo-fast",
    "libfcgi": "/lfcgi/ws",
    "scgi": "/scgi/ws",
    "uwsgi": "/uw/ws",
    "proxy": "/proxy/ws",
    "wstunnel": "/tun/",
}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    require_executable(ECHO_APP, "swift build --product switchyard-echo-app, or set SWITCHYARD_BIN_DIR")
    need(LIBFCGI_APP)
    root = tmp_path_factory.mktemp("h2backends")
    procs = Procs(root)
    (root / "doc" / "cgi").mkdir(parents=True)
    os.symlink(CGI_BIN / "ws-echo-fast", root / "doc" / "cgi" / "ws-echo-fast")
    uwsgi_sock, _ = start_uwsgi(procs, root)
    http_port = free_port()
    app = procs.start([ECHO_APP, "--protocol", "http", "--listen", f"127.0.0.1:{http_port}"], "echo-http")
    wait_listening(("127.0.0.1", http_port), app, procs)
    srv = Switchyard(f"""
server.document-root = {q(root / "doc")}
server.modules += ("mod_cgi", "mod_fastcgi", "mod_scgi", "mod_proxy", "mod_wstunnel")
server.event-loops = 1
cgi.script-directories = ({q(CGI_BIN)})
$HTTP["url"] =^ "/cgi/" {{
    cgi.assign = ("" => "")
    cgi.upgrade = "enable"
}}
fastcgi.server = ("/lfcgi/" => ((
    "socket" => {q(root / "libfcgi.sock")}, "bin-path" => {q(LIBFCGI_APP)},
    "check-local" => "disable", "max-procs" => 2, "upgrade" => 1
)))
$HTTP["url"] =^ "/scgi/" {{
    scgi.server = ("/scgi/" => ((
        "socket" => {q(root / "echo-scgi.sock")}, "bin-path" => {q(f"{ECHO_APP} --protocol scgi")},
        "check-local" => "disable", "upgrade" => 1
    )))
}}
$HTTP["url"] =^ "/uw/" {{
    scgi.protocol = "uwsgi"
    scgi.server = ("/uw/" => (( "socket" => {q(uwsgi_sock)}, "check-local" => "disable", "upgrade" => 1 )))
}}
proxy.server = ("/proxy/" => (( "host" => "127.0.0.1", "port" => {http_port} )))
proxy.header = ("upgrade" => "enable")
wstunnel.server = ("/tun/" => ((
    "socket" => {q(root / "echo-raw.sock")}, "bin-path" => {q(f"{ECHO_APP} --protocol raw")}
)))
wstunnel.frame-type = "binary"
""", root)
    yield srv
    srv.stop(expect_code=None)
    srv.kill()
    procs.stop_all()


def message_for(path, rng, size):
    payload = rng.randbytes(size)
    # uWSGI's receive call does not say which opcode came; the fixture app answers "bin:" messages
    # as binary and everything else as text.
    return b"bin:" + payload if path == "uwsgi" else payload


def received_bytes(c, sid, want, timeout=30):
    """The echoed payload bytes of a stream, frame boundaries ignored (the tunnel re-frames what its
    backend wrote as it arrives), until `want` bytes are in."""
    got = bytearray()
    while len(got) < want:
        frame = c.ws_recv(sid, timeout=timeout)
        assert frame.opcode in (0, 1, 2), frame.opcode
        got += frame.payload
    return bytes(got)


def test_sixteen_mib_over_every_backend_path_on_one_connection(gateway):
    c = H2Client(gateway.port, timeout=30)
    rng = random.Random(8441)
    try:
        slow = c.websocket(PATHS["scgi"])
        assert c.headers[slow][":status"] == "200", c.headers[slow]
        c.slow.add(slow)
        slow_message = rng.randbytes(2 * MIB)
        c.ws_send(slow, 2, slow_message)
        sids = {}
        for name, path in PATHS.items():
            sids[name] = c.websocket(path)
            assert c.headers[sids[name]][":status"] == "200", (name, c.headers[sids[name]], gateway.output()[-2000:])
            assert "sec-websocket-accept" not in c.headers[sids[name]]
        total = 0
        while total < 16 * MIB:
            sent = {}
            for name, sid in sids.items():
                msg = message_for(name, rng, rng.randrange(16 << 10, 320 << 10))
                sent[name] = msg
                c.ws_send(sid, 2, msg)
                total += len(msg)
            for name, sid in sids.items():
                assert received_bytes(c, sid, len(sent[name])) == sent[name], name
        assert len(c.bodies[slow]) < len(slow_message), "the slow reader's echo should still be held back"
        c.slow.discard(slow)
        c.ack(slow)
        assert received_bytes(c, slow, len(slow_message)) == slow_message
        for name, sid in sids.items():      # a CLOSE, then half-close: each backend ends its side
            c.ws_send(sid, 8, b"\x03\xe8", end_stream=True)
        c.wait(lambda: all(sid in c.ended for sid in sids.values()), timeout=20)
        assert not any(sid in c.resets and c.resets[sid] != 0 for sid in sids.values()), c.resets
    finally:
        c.close()

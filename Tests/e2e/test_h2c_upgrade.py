"""HTTP/1.1 `Upgrade: h2c` (RFC 7540 §3.2) under lighttpd's keys (`server.h2proto` + `server.h2c`):
curl `--http2` on an http:// URL gets `101` and its answer over HTTP/2 as stream 1, and the
connection goes on as HTTP/2 (a second stream, with the Python `h2` client's own upgrade). A request
with a body, one that also asks for a WebSocket, one whose HTTP2-Settings does not decode, or a
server with h2c disabled stays HTTP/1.1.
"""
import shutil
import socket
import subprocess

import h2.config
import h2.connection
import h2.events
import pytest

from e2e_util import CGI_BIN, q, require, wait_until

pytestmark = pytest.mark.switchyard_only

CURL = shutil.which("curl")


def conf(tmp_path, extra=""):
    doc = tmp_path / "doc"
    (doc / "cgi").mkdir(parents=True, exist_ok=True)
    (doc / "index.html").write_text("hello h2c\n")
    shutil.copy(CGI_BIN / "env.py", doc / "cgi" / "env.py")
    return f"""
server.document-root = {q(doc)}
server.modules += ("mod_cgi")
$HTTP["url"] =~ "^/cgi/" {{
    cgi.assign = (".py" => "/usr/bin/python3")
}}
{extra}
"""


def curl(port, path, *args):
    require(CURL is not None, "curl not installed (make deps)")
    r = subprocess.run([CURL, "-sS", "--max-time", "20", "--http2", "-w", "\n%{http_version}", *args,
                        f"http://127.0.0.1:{port}{path}"], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    body, _, version = r.stdout.decode().rpartition("\n")
    return body, version


def test_curl_upgrades_to_h2c(switchyard, tmp_path):
    srv = switchyard(conf(tmp_path, f'accesslog.filename = {q(tmp_path / "access.log")}'))
    assert curl(srv.port, "/index.html") == ("hello h2c\n", "2")
    env, version = curl(srv.port, "/cgi/env.py?x=1")
    assert version == "2", env
    assert "REQUEST_METHOD=GET\n" in env and "QUERY_STRING=x=1\n" in env, env
    # The upgrade's own fields stay behind: the script sees a plain request.
    assert "HTTP_UPGRADE=" not in env and "HTTP_HTTP2_SETTINGS=" not in env and "HTTP_CONNECTION=" not in env, env
    # A body: answered over HTTP/1.1 (RFC 7540 §3.2 would need the body first; lighttpd declines too).
    body, version = curl(srv.port, "/cgi/env.py", "--data-binary", "abc")
    assert version == "1.1" and "CONTENT_LENGTH=3\n" in body, (version, body)
    log = tmp_path / "access.log"
    assert wait_until(lambda: log.exists() and log.read_text().count("HTTP/2.0") == 2, 5), log.read_text()


def test_connection_goes_on_as_http2_after_the_upgrade(switchyard, tmp_path):
    srv = switchyard(conf(tmp_path))
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    settings = conn.initiate_upgrade_connection().decode()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(f"GET /index.html HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                  f"Upgrade: h2c\r\nHTTP2-Settings: {settings}\r\n\r\n".encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += s.recv(4096)
        head, _, rest = buf.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 "), head
        assert b"upgrade: h2c" in head.lower(), head
        s.sendall(conn.data_to_send())
        bodies, ended = {}, set()

        def feed(data):
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.DataReceived):
                    bodies[ev.stream_id] = bodies.get(ev.stream_id, b"") + ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset)):
                    ended.add(ev.stream_id)
            s.sendall(conn.data_to_send())

        feed(rest)
        while 1 not in ended:
            feed(s.recv(65536))
        assert bodies[1] == b"hello h2c\n"
        sid = conn.get_next_available_stream_id()
        assert sid == 3
        conn.send_headers(sid, [(":method", "GET"), (":scheme", "http"), (":authority", "a.test"),
                                (":path", "/cgi/env.py")], end_stream=True)
        s.sendall(conn.data_to_send())
        while sid not in ended:
            feed(s.recv(65536))
        assert b"SERVER_PROTOCOL=HTTP/1.1\n" in bodies[sid], bodies[sid]


def test_websocket_or_disabled_h2c_stays_http1(switchyard, tmp_path):
    srv = switchyard(conf(tmp_path))
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(b"GET /index.html HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                  b"Upgrade: h2c, websocket\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 200 ") and reply.endswith(b"hello h2c\n"), reply
    # An HTTP2-Settings that is not base64url SETTINGS: the upgrade is ignored (as lighttpd does).
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(b"GET /index.html HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                  b"Upgrade: h2c\r\nHTTP2-Settings: AAMAA!\r\n\r\n")
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 200 ") and reply.endswith(b"hello h2c\n"), reply
    off = switchyard(conf(tmp_path / "off", 'server.h2c = "disable"'), name="off")
    assert curl(off.port, "/index.html") == ("hello h2c\n", "1.1")

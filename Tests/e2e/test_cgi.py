"""mod_cgi: environment, bodies both ways, response parsing, failures, process hygiene, WebSocket upgrade."""
import hashlib
import os
import shutil
import signal
import socket
import struct
import time

import pytest

import wsframes
from e2e_util import (CGI_BIN, CGI_TEST, HTTPConnection, Switchyard, chunk_encode, get, pattern, proc_state, q,
                      request, require, wait_until)
from e2e_backpressure import wait_writer_stalled

pytestmark = pytest.mark.needs_cgi

TAG = "switchyard-e2e-cgi"
HELLO = b"Hello from hello.txt\n"

CGI_ENV_NAMES = {
    "AUTH_TYPE", "CONTENT_LENGTH", "CONTENT_TYPE", "GATEWAY_INTERFACE", "PATH_INFO", "PATH_TRANSLATED",
    "QUERY_STRING", "REMOTE_ADDR", "REMOTE_HOST", "REMOTE_PORT", "REMOTE_USER", "REQUEST_METHOD",
    "REQUEST_URI", "REQUEST_SCHEME", "SCRIPT_NAME", "SCRIPT_FILENAME", "SERVER_NAME", "SERVER_ADDR",
    "SERVER_PORT", "SERVER_PROTOCOL", "SERVER_SOFTWARE", "DOCUMENT_ROOT", "REDIRECT_STATUS",
    "REDIRECT_URI", "PATH",
}


def build_site(root):
    doc = root / "docroot"
    for d in ("cgi", "ws", "noupgrade", "xonly"):
        (doc / d).mkdir(parents=True, exist_ok=True)
    (doc / "hello.txt").write_bytes(HELLO)
    for src in sorted(CGI_TEST.iterdir()):
        if src.is_file():
            shutil.copy2(src, doc / "cgi" / src.name)
            os.chmod(doc / "cgi" / src.name, 0o644 if src.name == "notexec.py" else 0o755)
    shutil.copy2(CGI_BIN / "env.py", doc / "cgi" / "env.py")
    os.chmod(doc / "cgi" / "env.py", 0o755)
    for d in ("ws", "noupgrade"):
        shutil.copy2(CGI_BIN / "ws_echo.py", doc / d / "ws_echo.py")
        os.chmod(doc / d / "ws_echo.py", 0o755)
    shutil.copy2(CGI_TEST / "ws_late_echo.py", doc / "ws" / "ws_late_echo.py")
    os.chmod(doc / "ws" / "ws_late_echo.py", 0o755)
    fast = CGI_BIN / "ws-echo-fast"
    if fast.exists():
        shutil.copy2(fast, doc / "ws" / "ws-echo-fast")
    shutil.copy2(CGI_TEST / "notexec.py", doc / "xonly" / "notexec.py")
    os.chmod(doc / "xonly" / "notexec.py", 0o644)
    shutil.copy2(CGI_BIN / "env.py", doc / "xonly" / "env.py")
    os.chmod(doc / "xonly" / "env.py", 0o755)
    return doc


def cgi_config(doc, extra=""):
    return f"""
server.document-root = {q(doc)}
server.tag = {q(TAG)}
server.modules += ("mod_cgi")
mimetype.assign = (".txt" => "text/plain")
$HTTP["url"] =~ "^/cgi/" {{
    cgi.assign = (".py" => "/usr/bin/python3", ".sh" => "/bin/sh")
    cgi.local-redir = "enable"
}}
$HTTP["url"] =~ "^/ws/" {{
    cgi.assign = ("" => "")
    cgi.upgrade = "enable"
}}
$HTTP["url"] =~ "^/noupgrade/" {{
    cgi.assign = ("" => "")
}}
$HTTP["url"] =~ "^/xonly/" {{
    cgi.assign = (".py" => "/usr/bin/python3")
    cgi.execute-x-only = "enable"
}}
{extra}
"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    root = tmp_path_factory.mktemp("cgi")
    doc = build_site(root)
    s = Switchyard(cgi_config(doc), root, env={"SWITCHYARD_SECRET": "must-not-leak"})
    s.doc = doc
    s.root = root
    yield s
    s.kill()


def parse_env(body: bytes):
    env = {}
    for line in body.decode("utf-8", "replace").splitlines():
        if line.startswith("#"):
            continue
        k, _, v = line.partition("=")
        env[k] = v
    return env


# ---------------------------------------------------------------- environment

@pytest.fixture(scope="module")
def env_result(srv):
    with HTTPConnection(srv.port) as c:
        c.send(b"POST /cgi/env.py/extra/path?a=1&b=two HTTP/1.1\r\n"
               b"Host: 127.0.0.1:%d\r\n"
               b"Content-Type: text/x-e2e\r\n"
               b"Content-Length: 5\r\n"
               b"X-Custom-Header: v1\r\n"
               b"X-Dup: a\r\n"
               b"X-Dup: b\r\n"
               b"Proxy: http://evil.invalid:3128/\r\n"
               b"Connection: close\r\n\r\nhello" % srv.port)
        r = c.read_response()
        local_port = c.sock.getsockname()[1]
    assert r.status == 200, r
    return parse_env(r.body), local_port, r


@pytest.mark.parametrize("name,expected", [
    ("GATEWAY_INTERFACE", "CGI/1.1"),
    ("SERVER_SOFTWARE", TAG),
    ("SERVER_NAME", "127.0.0.1"),
    ("SERVER_ADDR", "127.0.0.1"),
    ("SERVER_PROTOCOL", "HTTP/1.1"),
    ("REQUEST_METHOD", "POST"),
    ("REQUEST_URI", "/cgi/env.py/extra/path?a=1&b=two"),
    ("REQUEST_SCHEME", "http"),
    ("SCRIPT_NAME", "/cgi/env.py"),
    ("PATH_INFO", "/extra/path"),
    ("QUERY_STRING", "a=1&b=two"),
    ("CONTENT_TYPE", "text/x-e2e"),
    ("CONTENT_LENGTH", "5"),
    ("REMOTE_ADDR", "127.0.0.1"),
    ("REDIRECT_STATUS", "200"),
    ("HTTP_X_CUSTOM_HEADER", "v1"),
    ("HTTP_X_DUP", "a, b"),
])
def test_env_value(env_result, name, expected):
    env = env_result[0]
    assert env.get(name) == expected, f"{name}={env.get(name)!r}\n{env_result[2].text}"


def test_env_paths(env_result, srv):
    env = env_result[0]
    doc = str(srv.doc)
    assert env.get("DOCUMENT_ROOT", "").rstrip("/") == doc
    assert env.get("SCRIPT_FILENAME") == f"{doc}/cgi/env.py"
    assert env.get("PATH_TRANSLATED") == f"{doc}/extra/path"


def test_env_ports(env_result, srv):
    env, local_port, _ = env_result
    assert env.get("SERVER_PORT") == str(srv.port)
    assert env.get("REMOTE_PORT") == str(local_port)
    assert env.get("HTTP_HOST") == f"127.0.0.1:{srv.port}"


def test_env_no_httpoxy_no_https(env_result):
    env = env_result[0]
    assert "HTTP_PROXY" not in env, "httpoxy: a Proxy request header must not become HTTP_PROXY"
    assert "HTTPS" not in env


def test_env_nothing_leaks_from_gateway(env_result):
    env = env_result[0]
    assert "SWITCHYARD_SECRET" not in env
    # LC_CTYPE=C.UTF-8 is set by python3 itself when it starts under the C locale (PEP 538)
    unexpected = sorted(k for k in env if k not in CGI_ENV_NAMES and not k.startswith("HTTP_")
                        and not (k == "LC_CTYPE" and env[k] in ("C.UTF-8", "C.utf8", "UTF-8")))
    assert not unexpected, f"unexpected variables in the CGI environment: {unexpected}"


def test_env_get_without_body(srv):
    r = get(srv.port, "/cgi/env.py")
    env = parse_env(r.body)
    assert r.status == 200
    assert env.get("REQUEST_METHOD") == "GET"
    assert env.get("QUERY_STRING", "") == ""
    assert env.get("PATH_INFO", "") == ""
    assert env.get("CONTENT_LENGTH", "0") == "0"


def test_env_percent_decoded_path_info(srv):
    r = get(srv.port, "/cgi/env.py/a%20b?x=%20")
    env = parse_env(r.body)
    assert env.get("PATH_INFO") == "/a b"
    assert env.get("QUERY_STRING") == "x=%20"
    assert env.get("REQUEST_URI") == "/cgi/env.py/a%20b?x=%20"


# ---------------------------------------------------------------- bodies

def parse_upload(r):
    out = dict(line.split("=", 1) for line in r.text.splitlines() if "=" in line)
    return out["sha256"], int(out["bytes"])


def test_upload_5mib(srv):
    body = os.urandom(5 << 20)
    r = request(srv.port, "POST", "/cgi/upload.py", body=body, timeout=60)
    assert r.status == 200, r
    assert parse_upload(r) == (hashlib.sha256(body).hexdigest(), len(body))


def test_upload_empty_post(srv):
    r = request(srv.port, "POST", "/cgi/upload.py", [("Content-Length", "0")])
    assert r.status == 200, r
    assert parse_upload(r) == (hashlib.sha256(b"").hexdigest(), 0)


def test_chunked_request_body(srv):
    body = os.urandom(3 << 20)
    r = request(srv.port, "POST", "/cgi/upload.py", [("Transfer-Encoding", "chunked")],
                body=chunk_encode(body), timeout=60)
    assert r.status == 200, r
    assert parse_upload(r) == (hashlib.sha256(body).hexdigest(), len(body))


def test_chunked_request_body_with_trailer(srv):
    body = b"hello chunked world"
    enc = chunk_encode(body, sizes=(5,))[:-2] + b"X-Trailer: t\r\n\r\n"
    r = request(srv.port, "POST", "/cgi/upload.py", [("Transfer-Encoding", "chunked")], body=enc)
    assert r.status == 200, r
    assert parse_upload(r) == (hashlib.sha256(body).hexdigest(), len(body))

@pytest.mark.lighttpd_differs("lighttpd buffers the whole CGI response and sends Content-Length")
def test_download_5mib_chunked(srv):
    n = 5 << 20
    r = get(srv.port, f"/cgi/download.py?n={n}", timeout=60)
    assert r.status == 200, r
    assert r.chunked, f"no Content-Length from the CGI: HTTP/1.1 response must be chunked: {r.headers}"
    assert len(r.body) == n
    assert r.body == pattern(n)


def test_download_http10_close_delimited(srv):
    n = 1 << 20
    with HTTPConnection(srv.port, timeout=30) as c:
        c.send(b"GET /cgi/download.py?n=%d HTTP/1.0\r\n\r\n" % n)
        r = c.read_response()
    assert r.status == 200
    assert not r.chunked
    assert r.body == pattern(n)


def test_download_then_keepalive(srv):
    with HTTPConnection(srv.port, timeout=30) as c:
        c.request("GET", "/cgi/download.py?n=100000")
        r = c.read_response()
        assert r.body == pattern(100000)
        c.request("GET", "/hello.txt")
        assert c.read_response().body == HELLO


@pytest.mark.lighttpd_differs("lighttpd buffers the whole CGI response before sending", run=False)
@pytest.mark.timeout(60)
def test_slow_reader_backpressure(srv):
    """flood.py writes without end; a client that does not read must not make the gateway buffer it all."""
    c = HTTPConnection(srv.port, timeout=30)
    try:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        rss0 = srv.rss_kib()
        c.request("GET", "/cgi/flood.py", close=True)
        # measured once the flood has moved a known amount and is blocked, not after a fixed sleep
        written = wait_writer_stalled(srv.pid, "flood.py", at_least=1 << 20)
        growth = srv.rss_kib() - rss0
        assert growth < 64 * 1024, f"server RSS grew by {growth} KiB while the client did not read " \
                                   f"(flood.py wrote {written} bytes)"
        head = c.read_until(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        want = 8 << 20
        got = bytearray()
        chunked = b"chunked" in head.lower()
        while len(got) < want:
            if chunked:
                size = int(c.read_until(b"\r\n").split(b";")[0], 16)
                got += c.read_exact(size)
                c.read_exact(2)
            else:
                got += c.read_exact(min(65536, want - len(got)))
        assert bytes(got[:want]) == pattern(want), "flood data corrupted under backpressure"
    finally:
        c.close()
    # the CGI must go away once the client is gone
    assert wait_until(lambda: not [p for p, st in srv.children() if st != "Z"], 15), srv.children()


# ---------------------------------------------------------------- response parsing

def test_local_redirect(srv):
    r = get(srv.port, "/cgi/redirect_local.py")
    assert r.status == 200, r
    assert r.body == HELLO


def test_external_redirect_302(srv):
    r = get(srv.port, "/cgi/redirect_ext.py")
    assert r.status == 302, r
    assert r.header("Location") == "http://example.invalid/"


def test_nph(srv):
    r = get(srv.port, "/cgi/nph-raw.py")
    assert r.status == 200, r
    assert r.header("X-NPH") == "yes"
    assert r.body == b"nph ok\n"


@pytest.mark.lighttpd_differs("lighttpd: malformed -> body as-is (200), no output -> 500")
@pytest.mark.parametrize("script", ["malformed.py", "noheaders.sh", "bigheaders.py"])
def test_bad_cgi_response_502(srv, script):
    r = get(srv.port, f"/cgi/{script}")
    assert r.status == 502, r
    assert b"X-Pad" not in r.raw_head


def test_missing_script_404(srv):
    assert get(srv.port, "/cgi/no-such-script.py").status == 404

@pytest.mark.lighttpd_differs("lighttpd serves the script's source through mod_staticfile")
def test_execute_x_only_403(srv):
    r = get(srv.port, "/xonly/notexec.py")
    assert r.status == 403, r
    assert b"should not have" not in r.body
    assert get(srv.port, "/xonly/env.py").status == 200


def test_stderr_goes_to_error_log(srv):
    r = get(srv.port, "/cgi/stderr.py")
    assert r.status == 200 and r.body == b"stderr ok\n"
    for n in (1, 2):
        assert srv.wait_for_log(f"switchyard-e2e stderr marker line {n}", 5), srv.log_text()[-2000:]
    assert b"marker" not in r.body


# ---------------------------------------------------------------- process hygiene

def test_cgi_sees_only_stdio_fds(srv):
    # keep a few other connections open so that the server has more descriptors to leak
    others = [HTTPConnection(srv.port) for _ in range(3)]
    try:
        r = get(srv.port, "/cgi/fds.py")
    finally:
        for o in others:
            o.close()
    assert r.status == 200, r
    fds = {}
    for line in r.text.splitlines():
        num, _, target = line.partition(" ")
        fds[int(num)] = target
    assert {0, 1, 2} <= set(fds), fds
    extra = {n: t for n, t in fds.items() if n > 2 and t != "(closed)" and not t.startswith("/proc/")}
    assert not extra, f"descriptors leaked into the CGI: {extra}"
    assert len([n for n in fds if n > 2]) <= 1, fds


def test_no_fd_leak_in_server(srv):
    get(srv.port, "/cgi/env.py")
    time.sleep(0.3)
    before = srv.fd_count()
    for i in range(30):
        r = get(srv.port, f"/cgi/env.py?i={i}")
        assert r.status == 200
    get(srv.port, "/cgi/malformed.py")
    get(srv.port, "/cgi/noheaders.sh")
    assert wait_until(lambda: srv.fd_count() <= before + 2, 5), \
        f"server fds grew from {before} to {srv.fd_count()}: {sorted(os.listdir(f'/proc/{srv.pid}/fd'))}"


def test_no_zombies(srv):
    for i in range(20):
        assert get(srv.port, f"/cgi/env.py?z={i}").status == 200
    assert wait_until(lambda: not [p for p, st in srv.children() if st == "Z"], 5), \
        f"zombie children: {srv.children()}"

@pytest.mark.lighttpd_differs("lighttpd 1.4.69 does not notice the disconnect while the CGI is silent")
def test_client_disconnect_kills_cgi(srv, tmp_path):
    pidfile = tmp_path / "sleep.pid"
    c = HTTPConnection(srv.port)
    c.request("GET", f"/cgi/sleep.py?secs=300&pidfile={pidfile}")
    assert wait_until(pidfile.exists, 10), "sleep.py did not start"
    pid = int(pidfile.read_text())
    try:
        c.close()
        gone = wait_until(lambda: proc_state(pid) in (None, "Z"), 10)
        assert gone, f"CGI {pid} still running 10 s after the client disconnected (state {proc_state(pid)})"
        assert wait_until(lambda: proc_state(pid) is None, 5), "CGI killed but not reaped"
    finally:
        if proc_state(pid) not in (None, "Z"):
            os.kill(pid, signal.SIGKILL)


def test_server_survives_many_cgi_requests_concurrently(srv):
    conns = [HTTPConnection(srv.port, timeout=30) for _ in range(10)]
    try:
        for i, c in enumerate(conns):
            c.request("GET", f"/cgi/env.py?c={i}", close=True)
        for i, c in enumerate(conns):
            r = c.read_response()
            assert r.status == 200 and f"QUERY_STRING=c={i}" in r.text
    finally:
        for c in conns:
            c.close()


# ---------------------------------------------------------------- WebSocket upgrade

def ws_connect(port, path):
    from websockets.sync.client import connect
    return connect(f"ws://127.0.0.1:{port}{path}", max_size=None, compression=None, proxy=None,
                   open_timeout=10, close_timeout=5, ping_interval=None)


@pytest.mark.parametrize("path", ["/ws/ws_echo.py", "/ws/ws-echo-fast"])
def test_websocket_echo(srv, path):
    if path.endswith("fast") and not (srv.doc / "ws" / "ws-echo-fast").exists():
        require(False, "cgi-bin/ws-echo-fast not built (make build)")
    with ws_connect(srv.port, path) as ws:
        ws.send("hello ☃ wörld")
        assert ws.recv(timeout=10) == "hello ☃ wörld"
        data = bytes(range(256)) * 4
        ws.send(data)
        assert ws.recv(timeout=10) == data
        big = os.urandom(1 << 20)
        ws.send(big)
        assert ws.recv(timeout=30) == big
        ws.send(["frag-1 ", "frag-2 ", "frag-3"])
        assert ws.recv(timeout=10) == "frag-1 frag-2 frag-3"
        assert ws.ping(b"are you there").wait(10), "no PONG"
        for i in range(100):
            ws.send(f"message {i}")
        assert [ws.recv(timeout=10) for _ in range(100)] == [f"message {i}" for i in range(100)]
        ws.close()
        assert ws.close_code == 1000


def test_websocket_raw_handshake_headers(srv):
    key = wsframes.new_key()
    with HTTPConnection(srv.port) as c:
        c.send(f"GET /ws/ws_echo.py HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        r = c.read_response()
        assert r.status == 101, r
        assert r.header("Upgrade", "").lower() == "websocket"
        assert "upgrade" in r.header("Connection", "").lower()
        assert r.header("Sec-WebSocket-Accept") == wsframes.accept_for(key)
        assert not r.has("Content-Length") and not r.has("Transfer-Encoding"), r
        # a frame split across several TCP writes still echoes
        frame = wsframes.build_frame(1, b"split across writes")
        for i in range(len(frame)):
            c.send(frame[i:i + 1])
            time.sleep(0.002)
        while True:
            parsed = wsframes.parse_frame(c.buf)
            if parsed:
                break
            c._fill()
        f, used = parsed
        del c.buf[:used]
        assert (f.opcode, f.payload, f.masked) == (1, b"split across writes", False)
        c.send(wsframes.build_frame(8, struct.pack("!H", 1000)))
        assert c.wait_closed(10), "no close after the CLOSE handshake"
        parsed = wsframes.parse_frame(c.buf)
        assert parsed, f"no CLOSE frame before EOF: {bytes(c.buf)!r}"
        f, _ = parsed
        assert f.opcode == 8 and f.payload == struct.pack("!H", 1000), f


def test_relay_keeps_every_byte_when_the_cgi_reads_late(srv):
    """40 000 small masked frames (~4 MB) while the CGI does not read for 1.5 s, and a client
    that reads back only after sending everything: both relay directions hit full pipes and
    sockets with small messages in flight. Every byte must come back once, in order, and the
    client's FIN must reach the CGI as EOF (which ends it and closes the connection)."""
    import random
    import threading
    key = wsframes.new_key()
    rng = random.Random(7)
    stream = b"".join(wsframes.build_frame(2, bytes([i % 251]) * rng.randint(1, 200), mask=True)
                      for i in range(40000))
    with HTTPConnection(srv.port) as c:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)  # the echo must back up
        c.send(f"GET /ws/ws_late_echo.py?delay=1.5 HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n"
               f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\n\r\n".encode())
        r = c.read_response()
        assert r.status == 101, r

        def send_all():
            for i in range(0, len(stream), 997):   # many small writes
                c.sock.sendall(stream[i:i + 997])
            c.sock.shutdown(socket.SHUT_WR)
        sender = threading.Thread(target=send_all)
        sender.start()
        time.sleep(2.0)                             # let both directions back up
        assert c.wait_closed(60), f"no EOF after {len(c.buf)} of {len(stream)} bytes"
        sender.join(10)
        got = bytes(c.buf)
        assert len(got) == len(stream), (len(got), len(stream))
        if got != stream:
            first = next(i for i in range(len(got)) if got[i] != stream[i])
            raise AssertionError(f"first differing byte at offset {first}")


def test_websocket_without_cgi_upgrade_gets_no_101(srv):
    key = wsframes.new_key()
    with HTTPConnection(srv.port) as c:
        c.send(f"GET /noupgrade/ws_echo.py HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
               f"Connection: close\r\n\r\n".encode())
        r = c.read_response()
        assert r.status != 101, r
        assert r.header("Sec-WebSocket-Accept") is None


def test_websocket_upgrade_to_non_upgrade_request_400(srv):
    r = get(srv.port, "/ws/ws_echo.py")
    assert r.status == 400, r
    assert b"WebSocket" in r.body


def test_websocket_disconnect_ends_cgi(srv):
    with ws_connect(srv.port, "/ws/ws_echo.py") as ws:
        ws.send("x")
        assert ws.recv(timeout=10) == "x"
        before = {p for p, st in srv.children() if st != "Z"}
        assert before, "no CGI child while a WebSocket is open"
        ws.close_socket()  # drop the TCP connection without a CLOSE handshake
    assert wait_until(lambda: not ({p for p, st in srv.children() if st != "Z"} & before), 10), srv.children()


def test_seed_ws_echo_through_gateway(srv, seeds):
    """The seed's ws_echo.py (LF-only headers, `Status: 101` without reason, masked replies) via the gateway."""
    seed_dir = srv.doc / "ws" / "seed"
    seed_dir.mkdir(exist_ok=True)
    target = seed_dir / "ws_echo.py"
    if not target.exists():
        shutil.copy2(seeds / "ws_echo.py", target)
        os.chmod(target, 0o755)
    key = wsframes.new_key()
    with HTTPConnection(srv.port) as c:
        c.send(f"GET /ws/seed/ws_echo.py HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nOrigin: http://127.0.0.1:{srv.port}\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\n\r\n".encode())
        r = c.read_response()
        assert r.status == 101, r
        assert r.reason == "Switching Protocols", r
        assert r.header("Sec-WebSocket-Accept") == wsframes.accept_for(key)
        c.send(wsframes.build_frame(1, b"hello seed"))
        while True:
            parsed = wsframes.parse_frame(c.buf)
            if parsed:
                break
            c._fill()
        f, _ = parsed
        # documented seed quirk: the echo comes back masked with our own key
        assert f.masked and f.payload == b"hello seed", f

"""HTTP/2 in the gateway (issue 13): h2 by ALPN on TLS listeners (`server.h2proto`), h2c with prior
knowledge on plain ones (`server.h2c`), every route over streams (static files, CGI, FastCGI, SCGI),
RFC 8441 WebSockets through the seed's ws_echo.py (CGI) and the native echo app, a slow stream next
to flowing ones, and hostile clients (streams never read, rapid resets, a close mid-stream) that
must leave neither descriptors nor memory behind.

Clients: curl (`--http2`, `--http2-prior-knowledge`; curl 7.88 cannot reuse an h2c prior-knowledge
connection for a second URL, so those run one URL per curl) and the Python `h2` package (h2_client.py).
"""
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from e2e_util import CGI_BIN, REPO, Switchyard, q, require, require_executable, require_seeds, stop_with_apps, wait_until
from h2_client import H2Client

pytestmark = pytest.mark.switchyard_only

CURL = shutil.which("curl")
OPENSSL = shutil.which("openssl")
BIN_DIR = Path(os.environ.get("SWITCHYARD_BIN_DIR") or REPO / ".build" / "debug")
ECHO_APP = BIN_DIR / "switchyard-echo-app"
MIB = 1 << 20

SLEEPY_CGI = b"""import time
time.sleep(30)   # never reads its stdin
print("Content-Type: text/plain\\r\\n\\r\\nlate")
"""

CAT_CGI = b"""import sys
data = sys.stdin.buffer.read()
sys.stdout.buffer.write(b"Content-Type: application/octet-stream\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(data) + data)
"""


def make_certs(d: Path):
    require(OPENSSL is not None, "openssl command not installed (make deps)")
    (d / "ext").write_text("subjectAltName=DNS:a.test\n")
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", "a.key", "-out", "a.crt", "-days", "2", "-subj", "/CN=a.test",
                    "-addext", "subjectAltName=DNS:a.test"], cwd=d, check=True, capture_output=True)
    os.chmod(d / "a.key", 0o600)


def config(root: Path, extra="") -> str:
    return f"""
server.document-root = {q(root / "doc")}
server.modules += ("mod_cgi", "mod_fastcgi", "mod_scgi", "mod_openssl")
server.event-loops = 1
mimetype.assign = (".html" => "text/html", ".bin" => "application/octet-stream")
$HTTP["url"] =~ "^/cgi/" {{
    cgi.assign = (".py" => "/usr/bin/python3")
}}
$HTTP["url"] =~ "^/ws/" {{
    cgi.assign = ("" => "")
    cgi.upgrade = "enable"
}}
fastcgi.server = ("/fcgi/" => ((
    "socket" => {q(root / "echo-fcgi.sock")},
    "bin-path" => {q(f"{ECHO_APP} --protocol fastcgi")},
    "check-local" => "disable",
    "upgrade" => 1
)))
scgi.server = ("/scgi/" => ((
    "socket" => {q(root / "echo-scgi.sock")},
    "bin-path" => {q(f"{ECHO_APP} --protocol scgi")},
    "check-local" => "disable",
    "upgrade" => 1
)))
$SERVER["socket"] == "127.0.0.1:0" {{
    ssl.engine = "enable"
    ssl.pemfile = {q(root / "a.crt")}
    ssl.privkey = {q(root / "a.key")}
}}
{extra}
"""


class H2Server:
    def __init__(self, srv: Switchyard, root: Path):
        self.srv = srv
        self.root = root
        self.doc = root / "doc"
        wait_until(lambda: "listening on https://" in srv.output(), timeout=5)
        self.tls_port = int(re.search(r"listening on https://127\.0\.0\.1:(\d+)/", srv.output()).group(1))
        self.port = int(re.search(r"listening on http://127\.0\.0\.1:(\d+)/", srv.output()).group(1))

    def curl(self, *args, tls=True, data=None):
        require(CURL is not None, "curl not installed (make deps)")
        base = [CURL, "-sS", "--max-time", "30"]
        if tls:
            base += ["--http2", "--cacert", str(self.root / "a.crt"), "--resolve", f"a.test:{self.tls_port}:127.0.0.1"]
        else:
            base += ["--http2-prior-knowledge"]
        r = subprocess.run(base + list(args), capture_output=True, timeout=40, input=data)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        return r.stdout

    def url(self, path, tls=True):
        return f"https://a.test:{self.tls_port}{path}" if tls else f"http://127.0.0.1:{self.port}{path}"

    def client(self, tls=False):
        return H2Client(self.tls_port if tls else self.port, tls_ca=self.root / "a.crt" if tls else None)

    def fds(self):
        return len(os.listdir(f"/proc/{self.srv.pid}/fd"))

    def rss_kib(self):
        for line in Path(f"/proc/{self.srv.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0


@pytest.fixture(scope="module")
def h2srv(tmp_path_factory):
    require_executable(ECHO_APP, "swift build --product switchyard-echo-app, or set SWITCHYARD_BIN_DIR")
    root = tmp_path_factory.mktemp("http2")
    make_certs(root)
    doc = root / "doc"
    for sub in ("cgi", "ws"):
        (doc / sub).mkdir(parents=True)
    (doc / "index.html").write_text("hello over h2\n")
    (doc / "big.bin").write_bytes(os.urandom(3 * MIB + 17))
    (doc / "cgi" / "env.py").write_bytes((CGI_BIN / "env.py").read_bytes())
    (doc / "cgi" / "cat.py").write_bytes(CAT_CGI)
    (doc / "cgi" / "sleepy.py").write_bytes(SLEEPY_CGI)
    seeds = require_seeds()
    shutil.copy(seeds / "ws_echo.py", doc / "ws" / "ws_echo.py")   # the seed, unchanged
    (doc / "ws" / "ws_echo.py").chmod(0o755)
    s = Switchyard(config(root, extra=f"accesslog.filename = {q(root / 'access.log')}"), root)
    server = H2Server(s, root)
    yield server
    stop_with_apps(s, [pid for pid, state in s.children() if state != "Z"])


# ---------------------------------------------------------------- ordinary requests

@pytest.mark.parametrize("tls", [True, False], ids=["h2-alpn", "h2c-prior-knowledge"])
def test_static_cgi_fastcgi_scgi_with_large_bodies(h2srv, tls):
    s = h2srv
    big = (s.doc / "big.bin").read_bytes()
    body = os.urandom(MIB)
    out = s.curl("-w", "%{http_version}", s.url("/index.html", tls), tls=tls)
    assert out == b"hello over h2\n2"
    assert s.curl(s.url("/big.bin", tls), tls=tls) == big
    env = s.curl(s.url("/cgi/env.py", tls), tls=tls).decode()
    assert "SERVER_PROTOCOL=HTTP/1.1\n" in env and "REQUEST_METHOD=GET\n" in env, env
    assert f"HTTP_HOST=" in env, env
    # 1 MiB both ways through CGI (announced length, and unknown length streamed to the script).
    assert s.curl("--data-binary", "@-", s.url("/cgi/cat.py", tls), tls=tls, data=body) == body
    assert s.curl("-H", "Transfer-Encoding: chunked", "--data-binary", "@-", s.url("/cgi/cat.py", tls),
                  tls=tls, data=body) == body
    for prefix in ("/fcgi", "/scgi"):
        got = s.curl("--data-binary", "@-", s.url(f"{prefix}/upload", tls), tls=tls, data=body)
        assert got == f"echo-app ok POST {prefix}/upload\n".encode() + body


def test_repeated_and_alternating_header_blocks_get_their_own_files(h2srv):
    """The HPACK decoder keeps the last block that left its table unchanged and answers a repeat of
    its bytes from it. Requests that repeat (the same fields, then the same block bytes), alternate
    (other bytes of the same length: indices of two entries), insert new entries between repeats
    (the table changes under the kept block) or carry a new literal must each get the file they ask
    for, over one connection."""
    s = h2srv
    for name, text in (("a.txt", "file a\n"), ("b.txt", "file b\n"), ("c.txt", "file c, longer\n")):
        (s.doc / name).write_text(text)
    c = s.client(tls=False)
    try:
        order = ["a", "a", "a", "b", "b", "a", "b", "a", "c", "a", "c", "c", "b"]
        for i, name in enumerate(order):
            extra = [("x-seq", str(i))] if i % 4 == 3 else []   # a new literal: the table changes
            head, body = c.request("GET", f"/{name}.txt", headers=extra)
            assert head.get(":status") == "200", (i, name, head)
            assert body == (s.doc / f"{name}.txt").read_bytes(), (i, name, body)
    finally:
        c.close()


def test_a_repeated_block_with_and_without_a_body_keeps_its_framing(h2srv):
    """A connection keeps the HTTP/1.1 view of its last plain request by the identity of the decoded
    header list (RepeatedRequestMemo); END_STREAM is part of that key. The same header block sent
    with END_STREAM (no body) and then without it (a body follows in DATA) must reach the CGI as two
    different requests: the second one's body must arrive. (GET: a POST without a body is a 411.)"""
    c = h2srv.client(tls=False)
    try:
        for i in range(3):
            head, body = c.request("GET", "/cgi/cat.py")
            assert (head.get(":status"), body) == ("200", b""), (i, head, body)
        for i in range(3):
            payload = b"payload %d" % i
            head, body = c.request("GET", "/cgi/cat.py", body=payload)
            assert (head.get(":status"), body) == ("200", payload), (i, head, body)
        head, body = c.request("GET", "/cgi/cat.py")
        assert (head.get(":status"), body) == ("200", b""), (head, body)
    finally:
        c.close()


def test_tls_connection_carries_several_requests(h2srv):
    s = h2srv
    out = s.curl("-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null", "-w", "%{http_code} %{http_version} %{num_connects}\n",
                 s.url("/index.html"), s.url("/big.bin"), s.url("/cgi/env.py"))
    assert out.decode().split("\n")[:3] == ["200 2 1", "200 2 0", "200 2 0"], out
    # HEAD, 404 and a request with a query keep their HTTP/1.1 meaning.
    head = s.curl("-I", s.url("/big.bin")).decode()
    assert head.startswith("HTTP/2 200") and f"content-length: {3 * MIB + 17}" in head, head
    big = (s.doc / "big.bin").read_bytes()
    assert s.curl("-r", "1000-2099999", s.url("/big.bin")) == big[1000:2100000]
    head, _, part = s.curl("-r", "100-199", "-i", s.url("/big.bin")).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/2 206") and b"content-range: bytes 100-199/%d" % len(big) in head, head
    assert part == big[100:200]
    assert s.curl("-o", "/dev/null", "-w", "%{http_code}", s.url("/missing")) == b"404"
    # The access log says what the client spoke (lighttpd's "HTTP/2.0").
    log = s.root / "access.log"
    assert wait_until(lambda: log.exists() and '"GET /missing HTTP/2.0" 404' in log.read_text(), timeout=5), \
        log.read_text() if log.exists() else "no access log"


def test_http11_unchanged_on_both_listeners(h2srv):
    s = h2srv
    assert s.curl("--http1.1", "-w", " %{http_version}", s.url("/index.html")) == b"hello over h2\n 1.1"
    r = subprocess.run([CURL, "-sS", "-w", " %{http_version}", f"http://127.0.0.1:{s.port}/index.html"], capture_output=True, timeout=20)
    assert r.stdout == b"hello over h2\n 1.1"
    log = s.root / "access.log"
    assert wait_until(lambda: log.exists() and '"GET /index.html HTTP/1.1" 200' in log.read_text(), timeout=5)


# ---------------------------------------------------------------- RFC 8441 WebSockets

def ws_echo_roundtrips(c, sid, big, seed=False):
    """Messages echoed on an RFC 8441 stream. The seed's ws_echo.py is a toy (its README says so):
    it reads a frame with unbuffered reads (a large frame arriving in pieces is lost) and echoes
    text, so it gets small printable messages one at a time; the echo app gets the rest."""
    c.ws_send(sid, 1, b"hello over h2")
    f = c.ws_recv(sid)
    assert (f.opcode, f.payload) == (1, b"hello over h2")
    c.ws_send(sid, 2, big)
    f = c.ws_recv(sid)
    assert f.opcode == 2 and f.payload == big
    if seed:
        for i in range(20):
            c.ws_send(sid, 1, b"m%d" % i)
            assert c.ws_recv(sid).payload == b"m%d" % i
        return
    for i in range(50):
        c.ws_send(sid, 1, b"m%d" % i)
    assert [c.ws_recv(sid).payload for _ in range(50)] == [b"m%d" % i for i in range(50)]


@pytest.mark.parametrize("path", ["/ws/ws_echo.py", "/fcgi/ws", "/scgi/ws"])
def test_rfc8441_websocket_echo(h2srv, path):
    c = h2srv.client(tls=path != "/scgi/ws")
    try:
        sid = c.websocket(path)
        assert c.conn.remote_settings.enable_connect_protocol == 1
        headers = c.headers[sid]
        assert headers[":status"] == "200", headers
        assert "sec-websocket-accept" not in headers and "upgrade" not in headers and "connection" not in headers
        seed = path.startswith("/ws/")
        ws_echo_roundtrips(c, sid, b"0123456789abcdef" * 60 if seed else os.urandom(MIB), seed)
        # An ordinary request on the same connection while the WebSocket is open.
        h, body = c.request("GET", "/index.html")
        assert h[":status"] == "200" and body == b"hello over h2\n"
        c.ws_send(sid, 8, b"\x03\xe8bye")
        f = c.ws_recv(sid)
        assert f.opcode == 8
        c.send(sid, b"", end_stream=True)        # half-close: the backend sees EOF and ends its side
        c.wait(lambda: sid in c.ended, timeout=10)
        assert sid not in c.resets
    finally:
        c.close()


def test_websocket_refused_without_upgrade_route(h2srv):
    """A route that does not upgrade answers the HTTP/1.1 view normally (a CGI's 200 here): that
    must not reach the client as a 2xx, which would open the tunnel (RFC 8441 §5)."""
    c = h2srv.client()
    try:
        sid = c.websocket("/cgi/env.py")
        c.wait(lambda: sid in c.ended)
        assert c.headers[sid][":status"] == "501" and c.bodies[sid] == b"", (c.headers[sid], c.bodies[sid][:200])
        sid = c.websocket("/missing/ws")
        c.wait(lambda: sid in c.ended)
        assert c.headers[sid][":status"] == "404"
    finally:
        c.close()


# ---------------------------------------------------------------- backpressure per stream

def test_slow_stream_does_not_stall_its_neighbours(h2srv):
    s = h2srv
    big = (s.doc / "big.bin").read_bytes()
    c = s.client(tls=True)
    try:
        slow = c.open("GET", "/big.bin", end_stream=True)
        c.slow.add(slow)                          # never acknowledged: its window closes
        ws = c.websocket("/fcgi/ws")
        c.wait(lambda: len(c.bodies[slow]) >= 1 << 20)
        stalled_at = len(c.bodies[slow])
        # The neighbours flow while the slow stream holds its window.
        h, body = c.request("GET", "/big.bin")
        assert body == big
        h, body = c.request("POST", "/cgi/cat.py", body=b"x" * 300_000)
        assert body == b"x" * 300_000
        ws_echo_roundtrips(c, ws, os.urandom(256 * 1024))
        assert len(c.bodies[slow]) == stalled_at and slow not in c.ended
        c.slow.discard(slow)
        c.ack(slow)
        c.wait(lambda: slow in c.ended)
        assert c.bodies[slow] == big
    finally:
        c.close()


def test_many_websockets_on_one_connection_with_a_slow_reader(h2srv):
    """16 MiB of messages over 16 RFC 8441 WebSockets multiplexed on one connection (FastCGI and
    SCGI echo app), while a 17th WebSocket's reader does not read: its echo waits, the others flow."""
    c = h2srv.client(tls=True)
    try:
        slow = c.websocket("/fcgi/ws")
        c.slow.add(slow)
        slow_msg = os.urandom(2 * MIB)
        c.ws_send(slow, 2, slow_msg)
        sids = [c.websocket("/fcgi/ws" if i % 2 else "/scgi/ws") for i in range(16)]
        sent = {sid: [] for sid in sids}
        for round_ in range(4):
            for sid in sids:
                msg = os.urandom(256 * 1024)
                sent[sid].append(msg)
                c.ws_send(sid, 2, msg)
            for sid in sids:
                assert c.ws_recv(sid).payload == sent[sid][round_]
        assert sum(len(m) for v in sent.values() for m in v) == 16 * MIB
        assert len(c.bodies[slow]) < len(slow_msg)     # the slow reader's echo is still held back
        c.slow.discard(slow)
        c.ack(slow)
        assert c.ws_recv(slow, timeout=20).payload == slow_msg
    finally:
        c.close()


def test_large_upload_beside_other_streams(h2srv):
    """8 MiB up (far over every window: credit comes back only as the backend takes the bytes)
    while another stream on the connection completes."""
    s = h2srv
    c = s.client()
    try:
        sid = c.open("POST", "/fcgi/upload", [("content-length", str(8 * MIB))])
        c.send(sid, os.urandom(8 * MIB), end_stream=True)
        h, body = c.request("GET", "/index.html")
        assert body == b"hello over h2\n"
        c.wait(lambda: sid in c.ended, timeout=30)
        assert c.bodies[sid].startswith(b"echo-app ok POST /fcgi/upload\n") and len(c.bodies[sid]) > 8 * MIB
    finally:
        c.close()


def test_request_body_window_closes_when_the_backend_does_not_read(h2srv):
    """Credit goes back only for bytes the handler took: a CGI that never reads its stdin stops its
    stream's window after a bounded amount (pipe + the backend stream's queue + one window), the
    rest of the connection keeps working, and the gateway holds no more than that."""
    s = h2srv
    c = s.client()
    try:
        rss0 = s.rss_kib()
        sid = c.open("POST", "/cgi/sleepy.py", [("content-length", str(64 * MIB))])
        c.send(sid, bytes(64 * MIB))
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            try:
                c.step(0.2)
            except TimeoutError:
                pass
            except OSError:
                pass
        sent = 64 * MIB - c.unsent(sid)
        assert 0 < sent < 2 * MIB, sent
        h, body = c.request("GET", "/index.html")
        assert body == b"hello over h2\n"
        assert s.rss_kib() < rss0 + 8 * 1024
        c.conn.reset_stream(sid)
        c.to_send.pop(sid, None)
        c.flush()
    finally:
        c.close()


# ---------------------------------------------------------------- hostile clients

@pytest.mark.timeout(60)
def test_hostile_clients_leave_nothing_behind(h2srv):
    s = h2srv
    # Warm up (the TLS context, the echo apps' connections), then take the baseline.
    for tls in (True, False):
        c = s.client(tls=tls)
        c.request("GET", "/big.bin")
        c.close()
    time.sleep(0.3)
    fds0, rss0 = s.fds(), s.rss_kib()
    # 1. Many streams on many connections that never read (zero window after the first 1 MiB).
    clients = []
    for _ in range(5):
        c = s.client()
        for _ in range(50):
            sid = c.open("GET", "/big.bin", end_stream=True)
            c.slow.add(sid)
        clients.append(c)
    for c in clients:
        try:
            c.step(1)
        except (TimeoutError, OSError):
            pass
    # 2. Rapid reset: open and cancel at once, past the session's budget (GOAWAY then).
    c = s.client()
    for _ in range(300):
        sid = c.conn.get_next_available_stream_id()
        c.conn.send_headers(sid, [(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", "/cgi/env.py")])
        c.conn.reset_stream(sid)
    c.flush()
    c.wait(lambda: c.terminated is not None, timeout=10)
    assert c.terminated == 11, c.terminated        # GOAWAY ENHANCE_YOUR_CALM
    c.close()
    assert not [pid for pid, state in s.srv.children() if state != "Z" and b"env.py" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    # 3. Close mid-stream: a CGI upload and a WebSocket cut off.
    c = s.client()
    sid = c.open("POST", "/cgi/cat.py", [("content-length", str(4 * MIB))])
    c.send(sid, os.urandom(MIB))
    ws = c.websocket("/ws/ws_echo.py")
    c.ws_send(ws, 1, b"half")
    c.close()
    for c in clients:
        c.close()
    # The server still answers, and gives back its descriptors and (most of) its memory.
    c = s.client()
    assert c.request("GET", "/index.html")[1] == b"hello over h2\n"
    c.close()
    assert wait_until(lambda: s.fds() <= fds0, 10), (s.fds(), fds0)
    rss1 = s.rss_kib()
    print(f"h2 hostile: fds {fds0} -> {s.fds()}, RSS {rss0} KiB -> {rss1} KiB")
    assert rss1 < rss0 + 64 * 1024, (rss0, rss1)


def test_streams_without_window_are_reset_after_max_write_idle(switchyard, tmp_path):
    """Streams whose client grants no more window (a file, and a CGI's output, waiting in the
    gateway) are reset with CANCEL once `server.max-write-idle` passed without flow-control
    progress; the connection and its other streams go on. Before, the gateway never dated the
    stall (it offered only what the window allowed), so such streams held their buffers, file
    descriptors and CGIs until the client closed."""
    doc = tmp_path / "doc"
    (doc / "cgi").mkdir(parents=True)
    (doc / "big.bin").write_bytes(os.urandom(2 * MIB))
    (doc / "cgi" / "cat.py").write_bytes(CAT_CGI)
    srv = switchyard(f"""server.document-root = {q(doc)}
server.modules += ("mod_cgi")
server.max-write-idle = 1
$HTTP["url"] =~ "^/cgi/" {{
    cgi.assign = (".py" => "/usr/bin/python3")
}}
""")
    c = H2Client(srv.port)
    try:
        file_sid = c.open("GET", "/big.bin", end_stream=True)
        cgi_sid = c.open("POST", "/cgi/cat.py", [("content-length", str(3 * MIB // 2))])
        c.slow.update((file_sid, cgi_sid))       # never acknowledged: 1 MiB each, then no window
        c.send(cgi_sid, b"x" * (3 * MIB // 2), end_stream=True)
        c.wait(lambda: file_sid in c.resets and cgi_sid in c.resets, timeout=10)
        assert c.resets[file_sid] == 8 and c.resets[cgi_sid] == 8, c.resets   # CANCEL
        assert len(c.bodies[file_sid]) == MIB and len(c.bodies[cgi_sid]) == MIB
        assert c.request("GET", "/big.bin")[1] == (doc / "big.bin").read_bytes()
    finally:
        c.close()


@pytest.mark.parametrize("key", ["server.h2c", "server.h2proto"])
def test_h2c_disabled_keeps_http1(tmp_path, key):
    (tmp_path / "doc").mkdir()
    (tmp_path / "doc" / "index.html").write_text("x\n")
    srv = Switchyard(f'server.document-root = {q(tmp_path / "doc")}\n{key} = "disable"\n', tmp_path)
    try:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
            sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            reply = sock.recv(4096)
        assert reply.startswith(b"HTTP/1.1 "), reply   # answered as an (unsupported) HTTP/1 request
    finally:
        srv.kill()


# ---------------------------------------------------------------- tunnel and proxy over streams

def test_wstunnel_seed_and_proxy_over_rfc8441(h2srv, switchyard, tmp_path):
    """mod_wstunnel terminates RFC 8441 itself (the seed wstunnel.conf with echo.pl); mod_proxy
    sends an HTTP/1.1 upgrade to its backend (here the module's server and its CGI ws_echo.py)."""
    from wstunnel_util import seed_config
    extra = ('server.modules += ("mod_proxy")\n'
             f'proxy.server = ("/ws-proxied/" => (("host" => "127.0.0.1", "port" => {h2srv.port})))\n'
             'proxy.header = ("upgrade" => "enable", "map-urlpath" => ("/ws-proxied/" => "/ws/"))\n')
    srv = switchyard(seed_config(tmp_path, extra))
    wait_until(lambda: "echo.pl" in srv.output() or srv.children(), 5)
    c = H2Client(srv.port)
    try:
        sid = c.websocket("/ws/")
        assert c.headers[sid][":status"] == "200", c.headers[sid]
        c.ws_send(sid, 1, b"hello\n")
        assert c.ws_recv(sid).payload == b"hello\n"     # echo.pl's line, as a text frame
        c.ws_send(sid, 8, b"\x03\xe8")
        assert c.ws_recv(sid).opcode == 8
        c.wait(lambda: sid in c.ended, timeout=10)
        sid = c.websocket("/ws-proxied/ws_echo.py")
        assert c.headers[sid][":status"] == "200" and "sec-websocket-accept" not in c.headers[sid], c.headers[sid]
        c.ws_send(sid, 1, b"through the proxy")
        assert c.ws_recv(sid).payload == b"through the proxy"
        c.send(sid, b"", end_stream=True)
        c.wait(lambda: sid in c.ended, timeout=10)
        assert sid not in c.resets
    finally:
        c.close()


def test_idle_connection_gets_goaway_once_every_stream_ended(switchyard, tmp_path):
    """Every kind of ending (a HEAD answer ended by its HEADERS, a 304, a body, an error, a
    WebSocket half-closed both ways) lets go of its stream: only then does the idle connection get
    GOAWAY after server.max-keep-alive-idle."""
    doc = tmp_path / "doc"
    (doc / "ws").mkdir(parents=True)
    (doc / "index.html").write_text("idle\n")
    shutil.copy(require_seeds() / "ws_echo.py", doc / "ws" / "ws_echo.py")
    (doc / "ws" / "ws_echo.py").chmod(0o755)
    srv = switchyard(f"""
server.document-root = {q(doc)}
server.modules += ("mod_cgi")
server.max-keep-alive-idle = 1
$HTTP["url"] =~ "^/ws/" {{
    cgi.assign = ("" => "")
    cgi.upgrade = "enable"
}}
""")
    c = H2Client(srv.port)
    try:
        h, _ = c.request("HEAD", "/index.html")
        assert h[":status"] == "200" and h["content-length"] == "5"
        etag = c.request("GET", "/index.html")[0]["etag"]
        assert c.request("GET", "/index.html", [("if-none-match", etag)])[0][":status"] == "304"
        assert c.request("GET", "/missing")[0][":status"] == "404"
        sid = c.websocket("/ws/ws_echo.py")
        c.ws_send(sid, 1, b"x")
        assert c.ws_recv(sid).payload == b"x"
        c.send(sid, b"", end_stream=True)
        c.wait(lambda: sid in c.ended)
        started = time.monotonic()
        c.wait(lambda: c.terminated is not None, timeout=8)
        assert c.terminated == 0 and time.monotonic() - started < 6
    finally:
        c.close()


def test_head_through_a_local_redirect_stays_bodyless(switchyard, tmp_path):
    """cgi.local-redir serves the new path as a GET inside the same exchange; the client still
    asked HEAD, so the answer must end with its HEADERS (END_STREAM) and carry no DATA, as the
    HTTP/1.1 answer carries no body (the stream used to promise a body and the client reset it)."""
    doc = tmp_path / "doc"
    (doc / "cgi").mkdir(parents=True)
    (doc / "f.txt").write_text("hello file\n")
    script = doc / "cgi" / "r.sh"
    script.write_text('#!/bin/sh\nprintf "Location: /f.txt\\r\\n\\r\\n"\n')
    script.chmod(0o755)
    srv = switchyard(f"""
server.document-root = {q(doc)}
server.modules += ("mod_cgi")
cgi.local-redir = "enable"
$HTTP["url"] =^ "/cgi/" {{ cgi.assign = ("" => "") }}
""")
    c = H2Client(srv.port)
    try:
        headers, body = c.request("HEAD", "/cgi/r.sh")
        assert headers[":status"] == "200" and headers.get("content-length") == "11" and body == b"", (headers, body)
        headers, body = c.request("GET", "/cgi/r.sh")
        assert headers[":status"] == "200" and body == b"hello file\n"
        assert not c.resets, c.resets
    finally:
        c.close()

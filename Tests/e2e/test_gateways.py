"""mod_scgi / mod_fastcgi interop and faults, with real processes and sockets only.

(a) the seed lighttpd `scgi.conf` / `fastcgi.conf` (only socket and bin-path replaced) in front of our
    bridges and the project's RFC 6455 echo `cgi-bin/ws_echo.py`, driven by the `websockets` client;
(b) Debian's libfcgi app (`Fixtures/bin/fcgi-ws-echo`) behind `fastcgi.server` with `"upgrade" => 1`,
    spawned (`bin-path` + `socket`) and external (`host`/`port`);
(c) third-party backends: an SCGI app on the PyPI `scgi` package's server (GET/POST and a `Status: 101`
    WebSocket echo), flup's multiplexing FastCGI server, and Debian's uWSGI over the uwsgi protocol
    (`scgi.protocol = "uwsgi"`), including its own WebSocket handshake (`HTTP/1.1 101`);
(d) the other direction: lighttpd and nginx in front of our `fcgi-cgi` / `scgi-cgi` bridges;
(e) faults: refused connections and disable-time, a backend that closes before/after its headers,
    a FastCGI record with a bad version, FCGI_ABORT_REQUEST on a vanished client, a SIGKILLed
    spawned backend;
(f) a slow WebSocket reader over SCGI and FastCGI: bounded gateway memory, no frame lost.

Every backend here is started by the test (or by the server under test) and killed at teardown;
TCP ports are ephemeral, Unix sockets live under tmp_path. Switchyard-specific (lighttpd 1.4.69 has
no `"upgrade"` for SCGI/FastCGI), so the whole module is skipped in reference mode.
"""
import hashlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import wsframes
from e2e_util import (CGI_BIN, CGI_TEST, REPO, HTTPConnection, ConnectionClosed, descendant_pids, free_port, get, q,
                      request, require, require_module, wait_until)
from e2e_backpressure import wait_writer_stalled

pytestmark = pytest.mark.switchyard_only

BIN_DIR = REPO / ".build" / "debug"
SCGI_CGI = BIN_DIR / "scgi-cgi"
FCGI_CGI = BIN_DIR / "fcgi-cgi"
LIBFCGI_APP = REPO / "Fixtures" / "bin" / "fcgi-ws-echo"
LIGHTTPD = Path("/usr/sbin/lighttpd")
SCGI_APP = REPO / "Fixtures" / "scgi" / "scgi_echo_app.py"
UWSGI = Path("/usr/bin/uwsgi")
UWSGI_PYTHON3 = Path("/usr/lib/uwsgi/plugins/python3_plugin.so")
UWSGI_APP = REPO / "Fixtures" / "uwsgi" / "wsgi_echo_app.py"
NGINX = Path("/usr/sbin/nginx")

BRIDGES = {"scgi": SCGI_CGI, "fastcgi": FCGI_CGI}
MODULES = {"scgi": "mod_scgi", "fastcgi": "mod_fastcgi"}


def need(*paths):
    for p in paths:
        if not Path(p).exists():
            pytest.fail(f"{p} missing: run `make build`")


def need_tool(path):
    require(Path(path).exists(), f"{path} not installed (make deps)")


# ---------------------------------------------------------------- processes and sockets

class Procs:
    """Processes started by a test: own session each, output to files, all killed at teardown."""

    def __init__(self, tmp_path):
        self.dir = Path(tmp_path)
        self.procs = []

    def start(self, argv, name, **kw):
        out = open(self.dir / f"{name}.out", "wb")
        p = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                             start_new_session=True, **kw)
        out.close()
        p.name = name
        p.log_path = self.dir / f"{name}.out"
        self.procs.append(p)
        return p

    def output(self, p):
        try:
            return p.log_path.read_text("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, p, sig=signal.SIGTERM, timeout=5.0):
        family = descendant_pids(p.pid)
        if p.poll() is None:
            try:
                p.send_signal(sig)
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        for target in (p.pid,):
            try:
                os.killpg(target, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for d in family:
            try:
                os.kill(d, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            pass

    def stop_all(self):
        for p in reversed(self.procs):
            self.stop(p)
        self.procs.clear()


@pytest.fixture
def procs(tmp_path):
    ps = Procs(tmp_path)
    yield ps
    ps.stop_all()


def connectable(addr):
    fam = socket.AF_UNIX if isinstance(addr, (str, Path)) else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(1)
    try:
        s.connect(str(addr) if fam == socket.AF_UNIX else addr)
        return True
    except OSError:
        return False
    finally:
        s.close()


def wait_listening(addr, proc=None, procs=None, timeout=10.0):
    ok = wait_until(lambda: connectable(addr) or (proc is not None and proc.poll() is not None), timeout)
    if not ok or (proc is not None and proc.poll() is not None):
        out = procs.output(proc) if procs and proc else ""
        pytest.fail(f"nothing listening on {addr} after {timeout}s\n{out}")


class SockConnection(HTTPConnection):
    """HTTPConnection over an already connected socket (Unix sockets, tuned buffers)."""

    def __init__(self, sock, port=0, timeout=10.0):
        self.sock = sock
        self.sock.settimeout(timeout)
        self.port = port
        self.host = "127.0.0.1"
        self.buf = bytearray()


def unix_request(path, method, target, body=b"", headers=(), timeout=30.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(str(path))
    with SockConnection(s, timeout=timeout) as c:
        c.request(method, target, headers, body, host="localhost", close=True)
        return c.read_final_response(method)


def parse_kv(body: bytes):
    return dict(line.split("=", 1) for line in body.decode("utf-8", "replace").splitlines() if "=" in line)


def ws_connect(port, path):
    from websockets.sync.client import connect
    return connect(f"ws://127.0.0.1:{port}{path}", max_size=None, compression=None, proxy=None,
                   open_timeout=10, close_timeout=5, ping_interval=None)


def ws_echo_checks(port, path):
    """Text, UTF-8 text, binary, 1 MiB, ping, and our close code echoed back."""
    with ws_connect(port, path) as ws:
        ws.send("hello")
        assert ws.recv(timeout=10) == "hello"
        utf8 = "héllo ☃ wörld – 日本語 🚀"
        ws.send(utf8)
        assert ws.recv(timeout=10) == utf8
        binary = bytes(range(256)) * 4
        ws.send(binary)
        assert ws.recv(timeout=10) == binary
        big = os.urandom(1 << 20)
        ws.send(big)
        assert ws.recv(timeout=30) == big
        assert ws.ping(b"are you there").wait(10), "no PONG"
        ws.close(code=4001, reason="bye")
        assert ws.close_code == 4001, f"close code not echoed: {ws.close_code} {ws.close_reason!r}"


def install(src, dest, mode=0o755):
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dest)
    os.chmod(dest, mode)


# ---------------------------------------------------------------- (a) the seed configs

SEED_CASES = {
    "scgi": ("scgi.conf", "/tmp/scgi-ws.sock", "/usr/local/bin/scgi-cgi", SCGI_CGI),
    "fastcgi": ("fastcgi.conf", "/tmp/fcgi-ws.sock", "/usr/local/bin/fcgi-cgi", FCGI_CGI),
}


@pytest.mark.parametrize("proto", ["scgi", "fastcgi"])
def test_seed_config_ws_echo(switchyard, seeds, tmp_path, proto):
    name, seed_sock, seed_bin, bridge = SEED_CASES[proto]
    need(bridge)
    text = (seeds / "lighttpd" / name).read_text()
    assert text.count(seed_sock) == 1 and text.count(seed_bin) == 1, f"seed {name} changed:\n{text}"
    text = text.replace(seed_sock, str(tmp_path / f"{proto}-ws.sock")).replace(seed_bin, str(bridge))
    doc = tmp_path / "htdocs"
    install(CGI_BIN / "ws_echo.py", doc / "ws" / "ws_echo.py")
    server = switchyard(f'{text}\nserver.document-root = {q(doc)}\nserver.bind = "127.0.0.1"\nserver.port = 0\n')
    ws_echo_checks(server.port, "/ws/ws_echo.py")
    # without an upgrade the echo explains itself with a 400, through the same bridge
    r = get(server.port, "/ws/ws_echo.py")
    assert r.status == 400, r
    # and the connection after a WebSocket still works
    ws_echo_checks(server.port, "/ws/ws_echo.py")


# ---------------------------------------------------------------- (b) libfcgi app with upgrade

def libfcgi_checks(port):
    ws_echo_checks(port, "/app/ws")
    r = get(port, "/app/plain?x=1&y=two")
    assert r.status == 200, r
    assert b"fcgi-ws-echo ok" in r.body and b"method=GET" in r.body and b"query=x=1&y=two" in r.body, r


def test_libfcgi_app_spawned(switchyard, tmp_path):
    need(LIBFCGI_APP)
    server = switchyard(f"""
server.document-root = {q(tmp_path)}
server.modules += ("mod_fastcgi")
fastcgi.server = ("/app/" => ((
    "socket" => {q(tmp_path / "libfcgi.sock")},
    "bin-path" => {q(LIBFCGI_APP)},
    "check-local" => "disable",
    "upgrade" => 1
)))
""")
    libfcgi_checks(server.port)


def test_libfcgi_app_external_tcp(switchyard, procs, tmp_path):
    need(LIBFCGI_APP)
    port = free_port()
    app = procs.start([LIBFCGI_APP, f":{port}"], "fcgi-ws-echo")
    wait_listening(("127.0.0.1", port), app, procs)
    server = switchyard(f"""
server.document-root = {q(tmp_path)}
server.modules += ("mod_fastcgi")
fastcgi.server = ("/app/" => ((
    "host" => "127.0.0.1",
    "port" => {port},
    "check-local" => "disable",
    "upgrade" => 1
)))
""")
    libfcgi_checks(server.port)
    assert app.poll() is None, procs.output(app)


# ---------------------------------------------------------------- (c) Python SCGI, flup FastCGI, uwsgi

# flup's multiplexing WSGIServer (the real flup); the SCGI app and uWSGI are in Fixtures/scgi, Fixtures/uwsgi.
APP_SCRIPT = r'''
import hashlib, sys


def answer(app, env, body, extra=""):
    return (f"app={app}\nmethod={env.get('REQUEST_METHOD', '')}\nquery={env.get('QUERY_STRING', '')}\n"
            f"script_name={env.get('SCRIPT_NAME', '')}\nrequest_uri={env.get('REQUEST_URI', '')}\n"
            f"content_length={env.get('CONTENT_LENGTH', '')}\ncontent_type={env.get('CONTENT_TYPE', '')}\n"
            f"bytes={len(body)}\nsha256={hashlib.sha256(body).hexdigest()}\n{extra}").encode()


def flup_main(path):
    from flup.server.fcgi import WSGIServer

    def app(environ, start_response):
        n = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(n) if n else b""
        out = answer("flup", environ, body, f"multithread={environ.get('wsgi.multithread')}\n")
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(out)))])
        return [out]

    WSGIServer(app, bindAddress=path, multiplexed=True).run()


if __name__ == "__main__":
    flup_main(sys.argv[2])
'''


def start_app(procs, tmp_path, mode):
    script = tmp_path / "gw_app.py"
    script.write_text(APP_SCRIPT)
    sock = tmp_path / f"{mode}-app.sock"
    p = procs.start([sys.executable, script, mode, sock], f"{mode}-app")
    wait_listening(sock, p, procs)
    return sock, p


def check_get_post(port, prefix, app):
    r = get(port, f"{prefix}/hello?a=1&b=%20two")
    assert r.status == 200, r
    kv = parse_kv(r.body)
    assert kv["app"] == app and kv["method"] == "GET" and kv["query"] == "a=1&b=%20two", r.text
    assert kv["request_uri"] == f"{prefix}/hello?a=1&b=%20two", r.text
    assert kv["bytes"] == "0", r.text
    body = os.urandom(300 * 1024 + 7)
    r = request(port, "POST", f"{prefix}/upload", [("Content-Type", "application/x-e2e")], body=body, timeout=30)
    assert r.status == 200, r
    kv = parse_kv(r.body)
    assert kv["method"] == "POST" and kv["content_type"] == "application/x-e2e", r.text
    assert kv["content_length"] == str(len(body)) and kv["bytes"] == str(len(body)), r.text
    assert kv["sha256"] == hashlib.sha256(body).hexdigest(), r.text
    return kv


def test_python_scgi_app(switchyard, procs, tmp_path):
    """The PyPI `scgi` package's pre-forking SCGIServer (Fixtures/scgi/scgi_echo_app.py): GET/POST, and
    a WebSocket it accepts with `Status: 101` and echoes on the same connection."""
    require_module("scgi")
    sock = tmp_path / "scgi-app.sock"
    app = procs.start([sys.executable, SCGI_APP, sock], "scgi-app")
    wait_listening(sock, app, procs)
    server = switchyard(f"""
server.document-root = {q(tmp_path)}
server.modules += ("mod_scgi")
scgi.server = ("/scgi/" => (( "socket" => {q(sock)}, "check-local" => "disable", "upgrade" => 1 )))
""")
    kv = check_get_post(server.port, "/scgi", "scgi")
    assert kv["scgi_first"] == "CONTENT_LENGTH" and kv["scgi"] == "1", kv
    ws_echo_checks(server.port, "/scgi/ws")
    ws_echo_checks(server.port, "/scgi/ws")   # and again, on another forked child
    assert check_get_post(server.port, "/scgi", "scgi")
    assert app.poll() is None, procs.output(app)


def test_flup_fastcgi_app(switchyard, procs, tmp_path):
    """flup's WSGIServer(multiplexed=True). flup 1.0.3 on Python 3 answers FCGI_GET_VALUES with an empty
    result (its capability table has str keys, the names arrive as bytes), so the gateway does not learn
    FCGI_MPXS_CONNS and opens a connection per request; concurrent requests must still all work."""
    require_module("flup")
    sock, app = start_app(procs, tmp_path, "flup")
    server = switchyard(f"""
server.document-root = {q(tmp_path)}
server.modules += ("mod_fastcgi")
fastcgi.server = ("/flup/" => (( "socket" => {q(sock)}, "check-local" => "disable" )))
""")
    check_get_post(server.port, "/flup", "flup")
    # concurrent requests over flup's multiplexed connection(s)
    conns = [HTTPConnection(server.port, timeout=20) for _ in range(8)]
    try:
        for i, c in enumerate(conns):
            c.request("GET", f"/flup/c?i={i}", close=True)
        for i, c in enumerate(conns):
            r = c.read_response()
            assert r.status == 200 and parse_kv(r.body)["query"] == f"i={i}", r
    finally:
        for c in conns:
            c.close()
    assert app.poll() is None, procs.output(app)


def start_uwsgi(procs, tmp_path):
    """Debian's uWSGI with the python3 plugin on a Unix socket under tmp_path (own session: the master
    and its workers go with the killpg at teardown; --die-on-term: SIGTERM stops instead of reloading)."""
    need_tool(UWSGI)
    need_tool(UWSGI_PYTHON3)
    sock = tmp_path / "uwsgi.sock"
    app = procs.start([UWSGI, "--plugin", "python3", "--socket", sock, "--wsgi-file", UWSGI_APP, "--need-app",
                       "--master", "--processes", "2", "--die-on-term", "--chdir", tmp_path], "uwsgi")
    wait_listening(sock, app, procs, timeout=20)
    return sock, app


def test_uwsgi_protocol(switchyard, procs, tmp_path):
    """A real uWSGI over the uwsgi protocol (`scgi.protocol = "uwsgi"`): it answers with an
    `HTTP/1.1 200 OK` status line, not a CGI `Status:` header."""
    sock, app = start_uwsgi(procs, tmp_path)
    server = switchyard(f"""
server.document-root = {q(tmp_path)}
server.modules += ("mod_scgi")
scgi.protocol = "uwsgi"
scgi.server = ("/uw/" => (( "socket" => {q(sock)}, "check-local" => "disable" )))
""")
    kv = check_get_post(server.port, "/uw", "uwsgi")
    assert kv["uwsgi_version"], kv
    assert app.poll() is None, procs.output(app)


def test_uwsgi_websocket_echo(switchyard, procs, tmp_path):
    """uWSGI's own WebSocket handshake (`uwsgi.websocket_handshake()` answers `HTTP/1.1 101`) and its
    framing, through the gateway's upgrade over the uwsgi protocol."""
    sock, app = start_uwsgi(procs, tmp_path)
    server = switchyard(f"""
server.document-root = {q(tmp_path)}
server.modules += ("mod_scgi")
scgi.protocol = "uwsgi"
scgi.server = ("/uw/" => (( "socket" => {q(sock)}, "check-local" => "disable", "upgrade" => 1 )))
""")
    key = wsframes.new_key()
    with HTTPConnection(server.port) as c:
        c.send(f"GET /uw/ws HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        r = c.read_response()
        assert r.status == 101, f"{r}\n{server.log_text()[-2000:]}\n{procs.output(app)[-2000:]}"
        assert r.header("Sec-WebSocket-Accept") == wsframes.accept_for(key), r
        # uWSGI answers a PING with an EMPTY PONG (\x8a\x00, not the ping's payload as RFC 6455 5.5.3
        # wants), so the websockets client's ping() would never match it: checked on raw frames
        c.send(wsframes.build_frame(9, b"are you there") + wsframes.build_frame(1, b"after the ping"))
        got = []
        while len(got) < 2:
            parsed = wsframes.parse_frame(c.buf)
            if parsed:
                f, used = parsed
                del c.buf[:used]
                got.append((f.opcode, f.payload, f.masked))
            else:
                c._fill()
        assert got == [(10, b"", False), (1, b"after the ping", False)], got
    with ws_connect(server.port, "/uw/ws") as ws:
        for text in ("hello", "héllo ☃ wörld – 日本語 🚀", "x" * 70000, "y" * (1 << 20)):
            ws.send(text)
            assert ws.recv(timeout=30) == text
        ws.send(b"bin:" + bytes(range(256)) * 4)
        assert ws.recv(timeout=10) == b"bin:" + bytes(range(256)) * 4
        ws.close()   # uWSGI answers with an empty CLOSE (no code)
    # the route still serves plain requests, and uWSGI is fine
    assert check_get_post(server.port, "/uw", "uwsgi")
    assert app.poll() is None, procs.output(app)


# ---------------------------------------------------------------- (d) lighttpd / nginx in front of our bridges

def bridge_docroot(root):
    doc = root / "htdocs"
    for d in ("fcgi", "scgi"):
        install(CGI_BIN / "env.py", doc / d / "env.py")
        install(CGI_TEST / "upload.py", doc / d / "upload.py")
    return doc


def front_checks(sock_path, prefix):
    r = unix_request(sock_path, "GET", f"/{prefix}/env.py?q=1&r=%2F")
    assert r.status == 200, r
    env = parse_kv(r.body)
    assert env.get("REQUEST_METHOD") == "GET", r.text
    assert env.get("QUERY_STRING") == "q=1&r=%2F", r.text
    assert env.get("SCRIPT_NAME") == f"/{prefix}/env.py", r.text
    body = os.urandom(1 << 20)
    r = unix_request(sock_path, "POST", f"/{prefix}/upload.py", body,
                     [("Content-Type", "application/octet-stream")], timeout=60)
    assert r.status == 200, r
    kv = parse_kv(r.body)
    assert (kv.get("sha256"), kv.get("bytes")) == (hashlib.sha256(body).hexdigest(), str(len(body))), r.text


@pytest.fixture(scope="module")
def lighttpd_front(tmp_path_factory):
    need_tool(LIGHTTPD)
    need(SCGI_CGI, FCGI_CGI)
    root = tmp_path_factory.mktemp("lighttpd")
    doc = bridge_docroot(root)
    sock = root / "http.sock"
    conf = root / "lighttpd.conf"
    conf.write_text(f"""
server.document-root = {q(doc)}
server.bind = {q(sock)}
server.modules = ("mod_fastcgi", "mod_scgi")
server.errorlog = {q(root / "error.log")}
server.max-request-size = 16384
fastcgi.server = ("/fcgi/" => (( "socket" => {q(root / "fcgi.sock")}, "bin-path" => {q(FCGI_CGI)}, "max-procs" => 1 )))
scgi.server = ("/scgi/" => (( "socket" => {q(root / "scgi.sock")}, "bin-path" => {q(SCGI_CGI)}, "max-procs" => 1 )))
""")
    ps = Procs(root)
    p = ps.start([LIGHTTPD, "-D", "-f", conf], "lighttpd")
    try:
        wait_listening(sock, p, ps)
        yield sock
    finally:
        ps.stop_all()


@pytest.mark.parametrize("prefix", ["fcgi", "scgi"])
def test_lighttpd_in_front_of_bridge(lighttpd_front, prefix):
    front_checks(lighttpd_front, prefix)


@pytest.fixture(scope="module")
def nginx_front(tmp_path_factory):
    need_tool(NGINX)
    need(SCGI_CGI, FCGI_CGI)
    root = tmp_path_factory.mktemp("nginx")
    doc = bridge_docroot(root)
    ps = Procs(root)
    try:
        fsock, ssock = root / "fcgi.sock", root / "scgi.sock"
        f = ps.start([FCGI_CGI, "--socket", fsock], "fcgi-cgi")
        s = ps.start([SCGI_CGI, "--socket", ssock], "scgi-cgi")
        wait_listening(fsock, f, ps)
        wait_listening(ssock, s, ps)
        sock = root / "http.sock"
        tmp = root / "tmp"
        tmp.mkdir()
        conf = root / "nginx.conf"
        conf.write_text(f"""
{"user root;" if os.geteuid() == 0 else ""}
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
worker_processes 1;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    client_max_body_size 16m;
    server {{
        listen unix:{sock};
        root {doc};
        location /fcgi/ {{
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            fastcgi_pass unix:{fsock};
        }}
        location /scgi/ {{
            include /etc/nginx/scgi_params;
            scgi_param SCRIPT_NAME $uri;
            scgi_param SCRIPT_FILENAME $document_root$uri;
            scgi_pass unix:{ssock};
        }}
    }}
}}
""")
        n = ps.start([NGINX, "-p", root, "-e", tmp / "error.log", "-c", conf, "-g", "daemon off;"], "nginx")
        wait_listening(sock, n, ps)
        yield sock
    finally:
        ps.stop_all()


@pytest.mark.parametrize("prefix", ["fcgi", "scgi"])
def test_nginx_in_front_of_bridge(nginx_front, prefix):
    front_checks(nginx_front, prefix)


# ---------------------------------------------------------------- fake backends (threads)
#
# Hand-written SCGI/FastCGI peers, kept ONLY for what a real application cannot be made to do on
# purpose: close before or in the middle of its headers/body, send a record with a bad version, never
# answer, refuse connections. Everything a well-behaved peer does is tested above against the real
# ones (the scgi package's server, flup, libfcgi, uWSGI, lighttpd, nginx, our bridges).

class FakeBackend:
    """A Unix-socket server in a thread; handler(conn, backend) runs per connection in its own thread.
    backend.events collects what the handlers record."""

    def __init__(self, path, handler):
        self.path = Path(path)
        self.handler = handler
        self.events = []
        self.lock = threading.Lock()
        self.stopping = False
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def record(self, *event):
        with self.lock:
            self.events.append(event)

    def has(self, pred):
        with self.lock:
            return any(pred(e) for e in self.events)

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.conns.append(c)
            self.record("accept")
            threading.Thread(target=self._run, args=(c,), daemon=True).start()

    def _run(self, c):
        c.settimeout(20)
        try:
            self.handler(c, self)
        except Exception as e:  # recorded, the test decides
            self.record("error", repr(e))
        finally:
            c.close()

    def close(self):
        self.stopping = True
        self.thread.join(2)
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


@pytest.fixture
def fake_backend():
    made = []

    def make(path, handler):
        b = FakeBackend(path, handler)
        made.append(b)
        return b

    yield make
    for b in made:
        b.close()


def recv_exact(sock, n):
    """n bytes, or None on EOF before the first byte; EOFError on EOF in the middle."""
    buf = bytearray()
    while len(buf) < n:
        try:
            chunk = sock.recv(n - len(buf))
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            if not buf:
                return None
            raise EOFError(f"EOF after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def read_scgi_request(c):
    """Reads one SCGI request (netstring + body); returns the environment."""
    digits = b""
    while True:
        ch = recv_exact(c, 1)
        if ch is None:
            raise EOFError("no request")
        if ch == b":":
            break
        digits += ch
    block = recv_exact(c, int(digits) + 1)
    items = block[:-1].split(b"\0")
    env = {k.decode(): v.decode("latin-1") for k, v in zip(items[0:-1:2], items[1::2])}
    n = int(env.get("CONTENT_LENGTH") or 0)
    if n:
        recv_exact(c, n)
    return env


def wait_eof(c, timeout=20):
    c.settimeout(timeout)
    try:
        while c.recv(65536):
            pass
    except OSError:
        pass


# FastCGI
FCGI_BEGIN_REQUEST, FCGI_ABORT_REQUEST, FCGI_END_REQUEST, FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT = 1, 2, 3, 4, 5, 6
FCGI_GET_VALUES, FCGI_GET_VALUES_RESULT = 9, 10


def fcgi_record(rtype, rid, content=b"", version=1):
    pad = (-len(content)) % 8
    return struct.pack("!BBHHBx", version, rtype, rid, len(content), pad) + content + b"\0" * pad


def fcgi_read_record(c):
    head = recv_exact(c, 8)
    if head is None:
        return None
    _, rtype, rid, clen, plen = struct.unpack("!BBHHBx", head)
    content = recv_exact(c, clen) if clen else b""
    if plen:
        recv_exact(c, plen)
    return rtype, rid, content


def fcgi_pairs(d):
    out = bytearray()
    for k, v in d.items():
        k, v = k.encode(), v.encode()
        for n in (len(k), len(v)):
            out += bytes([n]) if n < 128 else struct.pack("!I", n | 0x80000000)
        out += k + v
    return bytes(out)


def fcgi_parse_pairs(data):
    env, i = {}, 0

    def length():
        nonlocal i
        if data[i] < 128:
            i += 1
            return data[i - 1]
        n = struct.unpack_from("!I", data, i)[0] & 0x7FFFFFFF
        i += 4
        return n

    while i < len(data):
        kl = length()
        vl = length()
        env[data[i:i + kl].decode()] = data[i + kl:i + kl + vl].decode("latin-1")
        i += kl + vl
    return env


def fcgi_answer(c, rid, body, head=b"Status: 200 OK\r\nContent-Type: text/plain\r\n"):
    c.sendall(fcgi_record(FCGI_STDOUT, rid, head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
              + fcgi_record(FCGI_STDOUT, rid) + fcgi_record(FCGI_END_REQUEST, rid, b"\0" * 8))


def fcgi_serve(respond):
    """Handler for FakeBackend: a FastCGI app loop; respond(c, backend, rid, env, stdin) is called at the
    end of each request's STDIN and returns "close" to end the connection. Records every record."""

    def handler(c, backend):
        reqs = {}
        while True:
            rec = fcgi_read_record(c)
            if rec is None:
                backend.record("eof")
                return
            rtype, rid, content = rec
            backend.record("record", rtype, rid, len(content))
            if rtype == FCGI_GET_VALUES:
                c.sendall(fcgi_record(FCGI_GET_VALUES_RESULT, 0, fcgi_pairs(
                    {"FCGI_MAX_CONNS": "1", "FCGI_MAX_REQS": "1", "FCGI_MPXS_CONNS": "0"})))
            elif rtype == FCGI_BEGIN_REQUEST:
                reqs[rid] = [bytearray(), bytearray()]
            elif rtype == FCGI_PARAMS:
                reqs[rid][0] += content
            elif rtype == FCGI_STDIN:
                if content:
                    reqs[rid][1] += content
                else:
                    env = fcgi_parse_pairs(bytes(reqs[rid][0]))
                    backend.record("request", env.get("REQUEST_URI", ""))
                    if respond(c, backend, rid, env, bytes(reqs[rid][1])) == "close":
                        return
            elif rtype == FCGI_ABORT_REQUEST:
                c.sendall(fcgi_record(FCGI_END_REQUEST, rid, struct.pack("!IB3x", 0, 0)))

    return handler


def gateway_config(proto, tmp_path, host_opts, prefix="/app/"):
    table = "scgi.server" if proto == "scgi" else "fastcgi.server"
    return f"""
server.document-root = {q(tmp_path)}
server.event-loops = 1
server.modules += ({q(MODULES[proto])})
{table} = ({q(prefix)} => (( "check-local" => "disable", {host_opts} )))
"""


# ---------------------------------------------------------------- (e) faults

def dead_socket(path):
    """A socket file with nothing listening: connect() gets ECONNREFUSED."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.close()


@pytest.mark.parametrize("proto", ["scgi", "fastcgi"])
def test_backend_not_listening_503_and_disabled(switchyard, fake_backend, tmp_path, proto):
    sock = tmp_path / "dead.sock"
    dead_socket(sock)
    server = switchyard(gateway_config(proto, tmp_path, f'"socket" => {q(sock)}, "disable-time" => 3'))
    r = get(server.port, "/app/x")
    assert r.status == 503, r
    t_fail = time.monotonic()
    assert server.wait_for_log("disabled for 3 s", 5), server.log_text()[-3000:]

    # Now something listens there, but the host is disabled: still 503, without a connection attempt.
    sock.unlink()

    def ok(c, b):
        if proto == "scgi":
            read_scgi_request(c)
            c.sendall(b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nback again\n")
        else:
            fcgi_serve(lambda c2, b2, rid, env, body: fcgi_answer(c2, rid, b"back again\n"))(c, b)

    backend = fake_backend(sock, ok)
    skipped = "no backend host available (all disabled"
    n0 = server.log_text().count(skipped)
    r = get(server.port, "/app/y")
    assert time.monotonic() - t_fail < 3, "test too slow to be within disable-time"
    assert r.status == 503, f"second request within disable-time: {r}\n{server.log_text()[-3000:]}"
    assert not backend.has(lambda e: e[0] == "accept"), "gateway connected to a disabled host"
    assert wait_until(lambda: server.log_text().count(skipped) > n0, 5), \
        f"no log line about the disabled host for the second request:\n{server.log_text()[-3000:]}"

    # after disable-time the host is used again
    def back():
        return get(server.port, "/app/z").status == 200
    assert wait_until(back, 8, 0.25), server.log_text()[-3000:]


@pytest.mark.parametrize("proto", ["scgi", "fastcgi"])
def test_backend_closes_before_headers_502(switchyard, fake_backend, tmp_path, proto):
    sock = tmp_path / "b.sock"

    def handler(c, b):
        if proto == "scgi":
            read_scgi_request(c)
        else:
            while True:  # up to the end of STDIN
                rec = fcgi_read_record(c)
                if rec is None or (rec[0] == FCGI_STDIN and not rec[2]):
                    break
        b.record("closing")

    backend = fake_backend(sock, handler)
    server = switchyard(gateway_config(proto, tmp_path, f'"socket" => {q(sock)}'))
    r = get(server.port, "/app/x")
    assert r.status == 502, r
    assert backend.has(lambda e: e[0] == "closing")
    assert server.alive()


@pytest.mark.parametrize("case", ["scgi", "fastcgi", "fastcgi-no-length"])
def test_backend_closes_mid_body(switchyard, fake_backend, tmp_path, case):
    """Headers, part of the body, then the backend's socket closes. With Content-Length announced the
    client must see a short body and a closed connection; for FastCGI (no FCGI_END_REQUEST) without
    Content-Length the chunked response must not be terminated as if it were complete."""
    proto = case.split("-")[0]
    sock = tmp_path / "b.sock"
    length = b"" if case.endswith("no-length") else b"Content-Length: 100000\r\n"
    head = b"Status: 200 OK\r\nContent-Type: application/octet-stream\r\n" + length + b"\r\n"
    part = b"x" * 1000

    def handler(c, b):
        if proto == "scgi":
            read_scgi_request(c)
            c.sendall(head + part)
        else:
            while True:
                rec = fcgi_read_record(c)
                if rec is None or (rec[0] == FCGI_STDIN and not rec[2]):
                    break
            c.sendall(fcgi_record(FCGI_STDOUT, 1 if rec is None else rec[1], head + part))
        time.sleep(0.2)
        b.record("closing")

    fake_backend(sock, handler)
    server = switchyard(gateway_config(proto, tmp_path, f'"socket" => {q(sock)}'))
    with HTTPConnection(server.port, timeout=10) as c:
        c.request("GET", "/app/x")
        with pytest.raises(ConnectionClosed):
            r = c.read_response()
            pytest.fail(f"complete response from a backend that died mid-body: {r!r}")
    # the server itself is fine
    with HTTPConnection(server.port, timeout=10) as c:
        c.request("GET", "/no-such-file", close=True)
        assert c.read_response().status == 404


def test_fastcgi_bad_version_502_and_survives(switchyard, fake_backend, tmp_path):
    sock = tmp_path / "b.sock"

    def respond(c, b, rid, env, body):
        if env.get("REQUEST_URI", "").startswith("/app/bad"):
            c.sendall(fcgi_record(FCGI_STDOUT, rid, b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nbad\n",
                                  version=2))
            return None  # keep reading: the gateway must drop the connection
        fcgi_answer(c, rid, b"good\n")
        return None

    backend = fake_backend(sock, fcgi_serve(respond))
    server = switchyard(gateway_config("fastcgi", tmp_path, f'"socket" => {q(sock)}'))
    r = get(server.port, "/app/bad")
    assert r.status == 502, r
    assert b"bad\n" not in r.body
    assert wait_until(lambda: backend.has(lambda e: e == ("eof",)), 5), \
        f"gateway kept the connection after a malformed record: {backend.events}"
    for i in range(3):
        r = get(server.port, f"/app/good?{i}")
        assert r.status == 200 and r.body == b"good\n", r
    assert server.alive()


@pytest.mark.parametrize("proto", ["scgi", "fastcgi"])
def test_vanished_client_aborts_backend_request(switchyard, fake_backend, tmp_path, proto):
    """The app is still "working" when the client leaves: FCGI_ABORT_REQUEST or a closed socket."""
    sock = tmp_path / "b.sock"

    def scgi_handler(c, b):
        read_scgi_request(c)
        b.record("request", "")
        wait_eof(c, 20)
        b.record("eof")

    def respond(c, b, rid, env, body):
        return None  # never answers; fcgi_serve records ABORT / EOF

    backend = fake_backend(sock, scgi_handler if proto == "scgi" else fcgi_serve(respond))
    server = switchyard(gateway_config(proto, tmp_path, f'"socket" => {q(sock)}'))
    c = HTTPConnection(server.port, timeout=10)
    c.request("GET", "/app/slow")
    assert wait_until(lambda: backend.has(lambda e: e[0] == "request"), 5), backend.events
    c.close()
    aborted = wait_until(lambda: backend.has(lambda e: e == ("eof",) or (e[0] == "record" and e[1] == FCGI_ABORT_REQUEST)),
                         5)
    assert aborted, f"no FCGI_ABORT_REQUEST / close within 5 s of the client leaving: {backend.events}\n" \
                    f"{server.log_text()[-2000:]}"


@pytest.mark.parametrize("proto", ["scgi", "fastcgi"])
def test_killed_spawned_backend_is_restarted(switchyard, tmp_path, proto):
    bridge = BRIDGES[proto]
    need(bridge)
    install(CGI_BIN / "env.py", tmp_path / "app" / "env.py")
    server = switchyard(gateway_config(proto, tmp_path, f'"socket" => {q(tmp_path / "spawn.sock")}, '
                                                        f'"bin-path" => {q(bridge)}'))
    assert get(server.port, "/app/env.py?first").status == 200
    kids = [p for p, st in server.children() if st != "Z"]
    assert len(kids) == 1, f"expected one spawned {bridge.name}: {server.children()}"
    old = kids[0]
    assert Path(f"/proc/{old}/exe").resolve() == bridge.resolve()
    os.kill(old, signal.SIGKILL)
    assert wait_until(lambda: old not in [p for p, _ in server.children()], 5), "killed backend not reaped"

    statuses = []

    def works():
        try:
            r = get(server.port, "/app/env.py?again", timeout=5)
        except (OSError, ConnectionClosed) as e:
            statuses.append(repr(e))
            return False
        statuses.append(r.status)
        return r.status == 200 and b"QUERY_STRING=again" in r.body

    assert wait_until(works, 6, 0.2), f"no successful request after the restart: {statuses}\n" \
                                      f"{server.log_text()[-3000:]}"
    new = [p for p, st in server.children() if st != "Z"]
    assert new and old not in new, server.children()
    assert server.alive()


# ---------------------------------------------------------------- (f) slow WebSocket reader

def read_frame(c):
    b0, b1 = c.read_exact(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", c.read_exact(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", c.read_exact(8))[0]
    assert not b1 & 0x80, "server frame is masked"
    return b0, c.read_exact(n)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("proto", ["scgi", "fastcgi"])
def test_slow_websocket_reader(switchyard, tmp_path, proto):
    bridge = BRIDGES[proto]
    need(bridge)
    install(CGI_TEST / "ws_flood.py", tmp_path / "ws" / "ws_flood.py")
    server = switchyard(gateway_config(proto, tmp_path, f'"socket" => {q(tmp_path / "flood.sock")}, '
                                                        f'"bin-path" => {q(bridge)}, "upgrade" => 1', prefix="/ws/"))
    frames, size = 96, 1 << 20   # 96 MiB: more than the memory bound allows the gateway to hold
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.connect(("127.0.0.1", server.port))
    c = SockConnection(s, server.port, timeout=30)
    try:
        time.sleep(0.2)
        rss0 = server.rss_kib()
        key = wsframes.new_key()
        c.send(f"GET /ws/ws_flood.py?frames={frames}&size={size} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
               f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\n\r\n".encode())
        r = c.read_response()
        assert r.status == 101, r
        assert r.header("Sec-WebSocket-Accept") == wsframes.accept_for(key)
        # measured once the flood has moved a known amount and is blocked, not after a fixed sleep
        written = wait_writer_stalled(server.pid, "ws_flood.py", at_least=2 << 20)
        assert written < frames * size, f"ws_flood.py wrote all {written} bytes to a client that did not read"
        growth = server.rss_kib() - rss0
        bridge_rss = {p: Path(f"/proc/{p}/status").read_text().split("VmRSS:")[1].split("\n")[0].strip()
                      for p, st in server.children() if st != "Z"}
        assert growth < 64 * 1024, f"gateway RSS grew by {growth} KiB while the client did not read " \
                                   f"(ws_flood.py wrote {written} bytes; bridge RSS {bridge_rss})"
        for i in range(frames):
            b0, payload = read_frame(c)
            assert b0 == 0x82, f"frame {i}: first byte {b0:#x}"
            assert len(payload) == size and payload == bytes([i % 251]) * size, \
                f"frame {i} corrupted: {len(payload)} bytes, first {payload[:8]!r}"
        b0, payload = read_frame(c)
        assert (b0, payload) == (0x88, struct.pack("!H", 1000)), (b0, payload)
        c.send(wsframes.build_frame(8, struct.pack("!H", 1000)))
        assert c.wait_closed(10), "connection not closed after the CLOSE"
    finally:
        c.close()

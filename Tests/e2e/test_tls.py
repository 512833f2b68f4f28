"""TLS listeners (issue 12): `ssl.*` keys, OpenSSL 3 through the TLS transport.

Certificates are made at test time with the `openssl` command in a temporary directory (a CA and
leaf certificates for a.test and b.test; nothing is committed). Checked with real peers: curl over
https (static files, which go through user-space copies since TLS has no kernel path, and a CGI's
environment), `openssl s_client` (TLS 1.0/1.1 refused, 1.2/1.3 accepted, ALPN, SNI, resumption),
Python `websockets` over wss through CGI, SCGI, FastCGI, mod_wstunnel and mod_proxy, and a raw lenient
client with the seed ws_echo.py (the upgraded stream is copied, never spliced), and hostile handshakes (half a ClientHello then silence, garbage) while another
client is served and the gateway's descriptors return to their baseline.
"""
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import time
from pathlib import Path

import pytest

from e2e_util import CGI_BIN, q, require, require_module, require_seeds, wait_until
from wsframes import build_frame, new_key, parse_frame

OPENSSL = shutil.which("openssl")
CURL = shutil.which("curl")


def run_openssl(args, cwd):
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    require(OPENSSL is not None, "openssl command not installed (make deps)")
    d = tmp_path_factory.mktemp("tls-certs")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run_openssl(["req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
                 "-subj", "/CN=Switchyard e2e CA"], d)
    for name in ("a.test", "b.test"):
        (d / f"{name}.ext").write_text(f"subjectAltName=DNS:{name}\n")
        run_openssl(["req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}"], d)
        run_openssl(["x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                     "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext"], d)
        os.chmod(d / f"{name}.key", 0o600)
    return d


def tls_config(doc, certs, extra="", read_idle=3):
    return f"""
server.document-root = {q(doc)}
server.modules += ("mod_cgi", "mod_openssl")
server.max-read-idle = {read_idle}
mimetype.assign = (".html" => "text/html", ".bin" => "application/octet-stream")
$HTTP["url"] =~ "^/cgi/" {{
    cgi.assign = (".py" => "/usr/bin/python3")
}}
$HTTP["url"] =~ "^/ws/" {{
    cgi.assign = ("" => "")
    cgi.upgrade = "enable"
}}
$SERVER["socket"] == "127.0.0.1:0" {{
    ssl.engine = "enable"
    ssl.pemfile = {q(certs / "a.test.crt")}
    ssl.privkey = {q(certs / "a.test.key")}
}}
$HTTP["host"] == "b.test" {{
    ssl.pemfile = {q(certs / "b.test.crt")}
    ssl.privkey = {q(certs / "b.test.key")}
}}
{extra}
"""


class TLSServer:
    def __init__(self, srv, certs, doc):
        self.srv = srv
        self.certs = certs
        self.doc = doc
        wait_until(lambda: "listening on https://" in srv.output(), timeout=5)
        self.port = int(re.search(r"listening on https://127\.0\.0\.1:(\d+)/", srv.output()).group(1))
        self.plain_port = int(re.search(r"listening on http://127\.0\.0\.1:(\d+)/", srv.output()).group(1))

    def curl(self, path, host="a.test", *args):
        require(CURL is not None, "curl not installed (make deps)")
        r = subprocess.run([CURL, "-sS", "--max-time", "20", "--cacert", str(self.certs / "ca.pem"),
                            "--resolve", f"{host}:{self.port}:127.0.0.1", *args, f"https://{host}:{self.port}{path}"],
                           capture_output=True, timeout=30)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        return r.stdout

    def s_client(self, *args, stdin=b""):
        r = subprocess.run([OPENSSL, "s_client", "-connect", f"127.0.0.1:{self.port}", "-CAfile",
                            str(self.certs / "ca.pem"), *args], input=stdin, capture_output=True, timeout=20)
        return r.returncode, r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")

    def client_context(self):
        ctx = ssl.create_default_context(cafile=str(self.certs / "ca.pem"))
        return ctx

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.srv.pid}/fd"))


@pytest.fixture
def tls_server(switchyard, tmp_path, certs):
    def start(extra="", read_idle=3):
        doc = tmp_path / "doc"
        (doc / "cgi").mkdir(parents=True, exist_ok=True)
        (doc / "ws").mkdir(exist_ok=True)
        (doc / "index.html").write_text("hello over tls\n")
        (doc / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 17))
        (doc / "cgi" / "env.py").write_bytes((CGI_BIN / "env.py").read_bytes())
        shutil.copy(CGI_BIN / "ws_echo.py", doc / "ws" / "ws_echo.py")   # a copy: symlinks out of the root are refused
        (doc / "ws" / "ws_echo.py").chmod(0o755)
        return TLSServer(switchyard(tls_config(doc, certs, extra, read_idle)), certs, doc)
    return start


def test_https_static_files_and_cgi_environment(tls_server):
    s = tls_server()
    assert s.curl("/index.html") == b"hello over tls\n"
    # Larger than the copy limit: plain HTTP would use sendfile; TLS copies through user space.
    assert s.curl("/big.bin") == (s.doc / "big.bin").read_bytes()
    env = dict(line.split("=", 1) for line in s.curl("/cgi/env.py").decode().splitlines() if "=" in line)
    assert env["HTTPS"] == "on" and env["REQUEST_SCHEME"] == "https"
    assert env["SSL_PROTOCOL"] == "TLSv1.3" and env["SSL_CIPHER"].startswith("TLS_"), env
    assert int(env["SSL_CIPHER_USEKEYSIZE"]) >= 128 and int(env["SSL_CIPHER_ALGKEYSIZE"]) >= 128, env
    assert env["SERVER_PORT"] == str(s.port)
    env12 = dict(line.split("=", 1) for line in s.curl("/cgi/env.py", "a.test", "--tlsv1.2", "--tls-max", "1.2")
                 .decode().splitlines() if "=" in line)
    assert env12["SSL_PROTOCOL"] == "TLSv1.2" and "-" in env12["SSL_CIPHER"], env12
    # The plain listener of the same server stays plain.
    plain = subprocess.run([CURL, "-sS", f"http://127.0.0.1:{s.plain_port}/cgi/env.py"], capture_output=True, timeout=20)
    assert b"REQUEST_SCHEME=http\n" in plain.stdout and b"HTTPS=" not in plain.stdout and b"SSL_" not in plain.stdout


@pytest.mark.parametrize("flag, accepted", [("-tls1", False), ("-tls1_1", False), ("-tls1_2", True), ("-tls1_3", True)])
def test_protocol_versions(tls_server, flag, accepted):
    s = tls_server()
    # SECLEVEL=0 so the client itself is willing to offer TLS 1.0/1.1: the refusal must be the server's.
    code, out = s.s_client(flag, "-servername", "a.test", *(["-cipher", "DEFAULT@SECLEVEL=0"] if flag in ("-tls1", "-tls1_1") else []))
    version = {"-tls1": "TLSv1", "-tls1_1": "TLSv1.1", "-tls1_2": "TLSv1.2", "-tls1_3": "TLSv1.3"}[flag]
    if accepted:
        assert code == 0 and f"New, {version}, Cipher is" in out and "Verify return code: 0 (ok)" in out, out
    else:
        assert code != 0 and "Cipher is (NONE)" in out, out
        assert "protocol version" in out or "unsupported protocol" in out, out


def test_alpn_and_sni(tls_server):
    s = tls_server()
    # server.h2proto is enabled by default (as in lighttpd 1.4.x): h2 first, then http/1.1.
    _, out = s.s_client("-servername", "a.test", "-alpn", "h2,http/1.1")
    assert "ALPN protocol: h2" in out, out
    _, out = s.s_client("-servername", "a.test", "-alpn", "http/1.1")
    assert "ALPN protocol: http/1.1" in out, out
    _, out = s.s_client("-servername", "a.test", "-alpn", "spdy/3")
    assert "No ALPN negotiated" in out, out
    for name, expected in (("a.test", "a.test"), ("b.test", "b.test"), ("B.TEST", "b.test"), ("other.test", "a.test")):
        code, out = s.s_client("-servername", name)
        assert code == 0 and re.search(rf"subject=\s*CN\s*=\s*{re.escape(expected)}\b", out), (name, out)
    assert s.curl("/index.html", "b.test") == b"hello over tls\n"


def test_alpn_without_h2proto(tls_server):
    s = tls_server('server.h2proto = "disable"')
    _, out = s.s_client("-servername", "a.test", "-alpn", "h2,http/1.1")
    assert "ALPN protocol: http/1.1" in out, out
    _, out = s.s_client("-servername", "a.test", "-alpn", "h2")
    assert "No ALPN negotiated" in out, out
    assert s.curl("/index.html", "a.test", "-w", "%{http_version}") == b"hello over tls\n1.1"


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_session_resumption(tls_server, tmp_path, version):
    s = tls_server()
    sess = tmp_path / f"session{version}.pem"
    # A request, then wait for the server's close: a TLS 1.3 ticket arrives after the handshake.
    get = b"GET /index.html HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
    code, out = s.s_client(version, "-servername", "a.test", "-ign_eof", "-sess_out", str(sess), stdin=get)
    assert code == 0 and "New, TLSv1." in out and sess.stat().st_size > 0, out
    code, out = s.s_client(version, "-servername", "a.test", "-ign_eof", "-sess_in", str(sess), stdin=get)
    assert code == 0 and "Reused, TLSv1." in out and "hello over tls" in out, out


def test_resumption_reuses_a_fresh_ticket(tls_server):
    """A TLS 1.3 resumption with a ticket in the first half of its lifetime gets no new ticket
    (lighttpd's policy, and half the server's CPU of a resumed handshake): the client resumes with
    the same session again and again. OpenSSL's default would send a fresh ticket every time."""
    s = tls_server()
    ctx = s.client_context()
    session = None
    for attempt in range(4):
        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="a.test", session=session) as tls:
                tls.sendall(b"GET /index.html HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
                body = b""
                while chunk := tls.recv(65536):
                    body += chunk
                assert body.endswith(b"hello over tls\n"), body
                assert tls.version() == "TLSv1.3"
                assert tls.session_reused == (attempt > 0), attempt
                if attempt > 0:
                    assert tls.session == session, "the server issued a new ticket on resumption"
                session = tls.session


def test_wss_through_cgi_with_websockets(tls_server):
    require_module("websockets", "python websockets client")
    from websockets.sync import client as sync_client
    s = tls_server()
    url = f"wss://a.test:{s.port}/ws/ws_echo.py"
    sock = socket.create_connection(("127.0.0.1", s.port))
    with sync_client.connect(url, sock=sock, ssl=s.client_context(), server_hostname="a.test",
                             max_size=None, open_timeout=10, proxy=None) as ws:
        for payload in (b"x", os.urandom(70_000), os.urandom(1 << 20)):
            ws.send(payload)
            assert ws.recv(timeout=20) == payload
        ws.send("text over tls")
        assert ws.recv(timeout=10) == "text over tls"


def recv_frame(tls, buf):
    while True:
        parsed = parse_frame(buf)
        if parsed:
            frame, used = parsed
            return frame, buf[used:]
        chunk = tls.recv(65536)
        assert chunk, "connection closed before a whole frame"
        buf += chunk


def test_seed_ws_echo_over_wss_with_lenient_client(tls_server):
    seeds = require_seeds()
    s = tls_server()
    seed = s.doc / "ws" / "seed_ws_echo.py"
    shutil.copy(seeds / "ws_echo.py", seed)
    seed.chmod(0o755)
    raw = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    tls = s.client_context().wrap_socket(raw, server_hostname="a.test")
    key = new_key()
    tls.sendall((f"GET /ws/seed_ws_echo.py HTTP/1.1\r\nHost: a.test:{s.port}\r\nUpgrade: websocket\r\n"
                 f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                 f"Origin: https://a.test:{s.port}\r\n\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = tls.recv(4096)
        assert chunk, buf
        buf += chunk
    head, buf = buf.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 101"), head
    # The seed reports the scheme it saw (REQUEST_SCHEME=https -> wss).
    assert f"Sec-WebSocket-Location: wss://a.test:{s.port}/ws/seed_ws_echo.py".encode() in head, head
    # ASCII only: the seed re-encodes what it echoes as UTF-8 (its own quirk, not the transport's).
    for payload in (b"hello seed", bytes(65 + b % 26 for b in os.urandom(3000))):
        tls.sendall(build_frame(0x2, payload))
        frame, buf = recv_frame(tls, buf)   # the seed masks its replies: the lenient client accepts it
        assert frame.payload == payload
    tls.sendall(build_frame(0x8, b"\x03\xe8"))
    frame, buf = recv_frame(tls, buf)
    assert frame.opcode == 0x8
    tls.close()


HALF_CLIENT_HELLO = (b"\x16\x03\x01\x02\x00"            # handshake record of 512 bytes...
                     b"\x01\x00\x01\xfc\x03\x03" + b"\x5a" * 32 + b"\x00\x00\x02\x13\x01")  # ...of which ~50 arrive


HOSTILE_STALLED = 1000   # the size: half a ClientHello (or nothing), then silence
GARBAGE = 200            # garbage instead of a ClientHello: refused at once


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


@pytest.fixture
def fd_room():
    """The stalled and garbage connections need ~1250 descriptors here and ~1100 in the gateway
    (which inherits the limit): raise the soft limit for the test, restore it after."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = HOSTILE_STALLED + GARBAGE + 200
    require(hard == resource.RLIM_INFINITY or hard >= need, f"RLIMIT_NOFILE hard limit {hard} < {need} (ulimit -Hn)")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need) if hard == resource.RLIM_INFINITY else min(max(soft, need), hard), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_hostile_handshakes_do_not_block_others_and_are_closed(fd_room, tls_server):
    s = tls_server()
    for _ in range(3):   # warm: the first handshakes allocate OpenSSL's per-thread state
        assert s.curl("/index.html") == b"hello over tls\n"
    time.sleep(0.3)
    baseline, rss0 = s.fd_count(), rss_kib(s.srv.pid)
    stalled, garbage = [], []
    try:
        for i in range(HOSTILE_STALLED):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            c.sendall(HALF_CLIENT_HELLO if i % 4 else b"")   # every fourth sends nothing at all
            stalled.append(c)
        for i in range(GARBAGE):   # each fails at once, with a log line (a few a second, then counted)
            # Never a valid record header by chance: the random bytes follow a 0x00 type and a
            # 0x00 version major (random version and length bytes made one in ~7 runs a record
            # header OpenSSL waited on, which the idle timer then closed without a log line).
            payload = (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", b"\x00\x00" + os.urandom(4094), b"\x16\x03\x03\x00\x05\xff\xff\xff\xff\xff",
                       b"\x16\x03\x01\xff\xff" + os.urandom(300))[i % 4]
            g = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            g.sendall(payload)
            garbage.append(g)
        # Clients that give up in the middle of a handshake (FIN, or a reset) leave nothing behind.
        for i in range(100):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            c.sendall(HALF_CLIENT_HELLO)
            if i % 2:
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))   # RST on close
            c.close()
        # Others are served meanwhile, promptly.
        for _ in range(5):
            t0 = time.monotonic()
            assert s.curl("/index.html") == b"hello over tls\n"
            assert time.monotonic() - t0 < 3
        # Garbage is refused at once (an alert and/or the close), not kept.
        for g in garbage[:3]:
            g.settimeout(5)
            try:
                while g.recv(4096):
                    pass
            except ConnectionResetError:
                pass
        held = s.fd_count()
        assert held >= baseline + HOSTILE_STALLED * 3 // 4, ("the stalled handshakes should still be open here", held, baseline)
        rss_held = rss_kib(s.srv.pid)
        # The handshake deadline (min(10 s, server.max-read-idle = 3 s)) closes the stalled ones while
        # their clients still hold them: the gateway's descriptors return to the baseline.
        assert wait_until(lambda: s.fd_count() <= baseline, timeout=12), (s.fd_count(), baseline)
        stalled[1].settimeout(5)
        assert stalled[1].recv(100) == b""
    finally:
        for c in stalled + garbage:
            c.close()
    assert s.curl("/index.html") == b"hello over tls\n"
    # Memory: what the half-open sessions took (~40 KiB each: OpenSSL's session and record buffer,
    # the connection's own) is given back: the worker trims the heap on its next 1 s tick once a
    # burst of connections is gone. 2 MiB of slack for the allocator, against ~40 MiB held.
    assert rss_held - rss0 >= 4096, (rss0, rss_held)   # the half-open sessions did cost memory
    # The log: a few lines a second about failed handshakes (garbage) and stalled ones (closed by
    # the handshake deadline or the read-idle limit, whichever came first), the rest summed up.
    summary = re.compile(r"(\d+) more failed TLS handshakes in the last second")
    single = re.compile(r"\(info\) 127\.0\.0\.1:\d+: TLS handshake (?:failed|not complete)")
    expected = GARBAGE + HOSTILE_STALLED

    def logged():   # failures written one by one + those summed up
        out = s.srv.output()
        return len(single.findall(out)) + sum(int(n) for n in summary.findall(out))
    assert wait_until(lambda: logged() >= expected, timeout=4), (logged(), s.srv.output()[-3000:])
    lines = len(single.findall(s.srv.output()))
    assert lines <= 40 and logged() == expected, f"{lines} lines one by one, {logged()} failures in all"
    assert wait_until(lambda: rss_kib(s.srv.pid) <= rss0 + 2048, timeout=4), (
        f"RSS {rss0} KiB before, {rss_held} KiB with {HOSTILE_STALLED} stalled handshakes, "
        f"{rss_kib(s.srv.pid)} KiB 4 s after they were closed")


def run_check(conf_text, tmp_path):
    conf = tmp_path / "check.conf"
    conf.write_text(conf_text)
    from e2e_util import switchyard_bin
    r = subprocess.run([str(switchyard_bin()), "-t", "-f", str(conf)], capture_output=True, timeout=20)
    return r.returncode, (r.stdout + r.stderr).decode(errors="replace")


def test_config_check_reports_tls_errors_and_warnings(certs, tmp_path):
    base = f'server.document-root = "/tmp"\nserver.port = 0\nssl.engine = "enable"\n'
    code, out = run_check(base + f'ssl.pemfile = {q(certs / "missing.pem")}\n', tmp_path)
    assert code == 1 and "check.conf:4:" in out and "ssl.pemfile" in out, out
    code, out = run_check(base + f'ssl.pemfile = {q(certs / "a.test.crt")}\nssl.privkey = {q(certs / "b.test.key")}\n', tmp_path)
    assert code == 1 and "check.conf:5:" in out and "does not match" in out, out
    loose = tmp_path / "loose.key"
    shutil.copy(certs / "a.test.key", loose)
    loose.chmod(0o644)
    code, out = run_check(base + f'ssl.pemfile = {q(certs / "a.test.crt")}\nssl.privkey = {q(loose)}\n', tmp_path)
    assert code == 0 and "readable by group or others" in out, out
    code, out = run_check(base + f'ssl.pemfile = {q(certs / "a.test.crt")}\nssl.privkey = {q(certs / "a.test.key")}\n'
                          'ssl.openssl.ssl-conf-cmd = ("MinProtocol" => "TLSv1.3", "Options" => "-SessionTicket")\n', tmp_path)
    assert code == 0 and "warning" not in out, out


def test_proxy_sees_https_and_tunnels_wss(tls_server):
    import json
    from proxy_peers import Backend, WSEcho
    backend, echo = Backend(), WSEcho()
    try:
        s = tls_server(f"""
server.modules += ("mod_proxy")
proxy.server = ( "/api/" => (( "host" => "127.0.0.1", "port" => {backend.port} )),
                 "/pws/" => (( "host" => "127.0.0.1", "port" => {echo.port} )) )
proxy.header = ( "upgrade" => "enable" )
proxy.forwarded = ( "for" => 1, "proto" => 1 )
""")
        seen = {k.lower(): v for k, v in json.loads(s.curl("/api/headers"))["headers"]}
        assert seen["x-forwarded-proto"] == "https" and "proto=https" in seen["forwarded"], seen
        require_module("websockets", "python websockets client")
        from websockets.sync import client as sync_client
        sock = socket.create_connection(("127.0.0.1", s.port))
        with sync_client.connect(f"wss://a.test:{s.port}/pws/x", sock=sock, ssl=s.client_context(),
                                 server_hostname="a.test", max_size=None, open_timeout=10, proxy=None) as ws:
            payload = os.urandom(1 << 20)
            ws.send(payload)
            assert ws.recv(timeout=20) == payload
    finally:
        backend.close()
        echo.close()


def test_handshake_deadline_is_shorter_than_the_read_idle_limit(tls_server):
    s = tls_server(read_idle=60)
    assert s.curl("/index.html") == b"hello over tls\n"
    time.sleep(0.3)
    baseline = s.fd_count()
    stalled = [socket.create_connection(("127.0.0.1", s.port), timeout=10) for _ in range(20)]
    try:
        for c in stalled[::2]:
            c.sendall(HALF_CLIENT_HELLO)
        t0 = time.monotonic()
        assert wait_until(lambda: s.fd_count() >= baseline + 20, timeout=5)
        # Closed by the 10 s handshake deadline, not by server.max-read-idle (60 s).
        assert wait_until(lambda: s.fd_count() <= baseline, timeout=15), (s.fd_count(), baseline)
        assert 9 <= time.monotonic() - t0 < 14
        assert "TLS handshake not complete after 10 s" in s.srv.output()
    finally:
        for c in stalled:
            c.close()


def test_client_renegotiation_is_refused(tls_server):
    s = tls_server()
    # s_client's "R" line asks for a TLS 1.2 renegotiation: the server refuses it (no_renegotiation).
    r = subprocess.run(f"(printf 'R\\n'; sleep 1) | {OPENSSL} s_client -connect 127.0.0.1:{s.port} -tls1_2 "
                       f"-servername a.test -CAfile {s.certs / 'ca.pem'}", shell=True, capture_output=True, timeout=20)
    out = (r.stdout + r.stderr).decode(errors="replace")
    assert "RENEGOTIATING" in out and "no renegotiation" in out, out
    assert s.curl("/index.html") == b"hello over tls\n"


def tls_socket_block(certs):
    return f"""
$SERVER["socket"] == "127.0.0.1:0" {{
    ssl.engine = "enable"
    ssl.pemfile = {q(certs / "a.test.crt")}
    ssl.privkey = {q(certs / "a.test.key")}
}}
"""


def wss_connect(server, path):
    require_module("websockets", "python websockets client")
    from websockets.sync import client as sync_client
    sock = socket.create_connection(("127.0.0.1", server.port))
    return sync_client.connect(f"wss://a.test:{server.port}{path}", sock=sock, ssl=server.client_context(),
                               server_hostname="a.test", max_size=None, open_timeout=10, proxy=None)


def test_wss_through_scgi_fastcgi_and_wstunnel(switchyard, tmp_path, certs):
    from test_echo_app import echo_config, need_echo_app
    from wstunnel_util import seed_config
    need_echo_app()
    root = tmp_path / "echo"
    root.mkdir()
    apps = TLSServer(switchyard(echo_config(root) + tls_socket_block(certs), name="apps"), certs, root)
    for path, size in (("/scgi/ws", 16 << 20), ("/fcgi/ws", 1 << 20)):
        with wss_connect(apps, path) as ws:
            payload = os.urandom(size)
            ws.send(payload)
            assert ws.recv(timeout=60) == payload, path
            ws.send("small text")
            assert ws.recv(timeout=10) == "small text", path
    # mod_wstunnel with the seed wstunnel.conf (paths and port changed) and the seed echo.pl.
    tunnel = TLSServer(switchyard(seed_config(tmp_path / "tunnel", tls_socket_block(certs)), name="tunnel"),
                       certs, tmp_path / "tunnel")
    with wss_connect(tunnel, "/ws/") as ws:
        ws.send("hello over wss\n")
        assert ws.recv(timeout=10) == "hello over wss\n"


def test_compare_fills_the_tls_rows(tmp_path):
    """`switchyard-bench compare --paths tls,lighttpd`: switchyard and lighttpd's mod_openssl with
    the same certificate and suite; every TLS cell is measured (the resumed column only when the
    servers really resumed), with the ratio line."""
    from e2e_util import REPO, require_executable
    bin_dir = Path(os.environ.get("SWITCHYARD_BIN_DIR") or REPO / ".build" / "debug")
    bench = bin_dir / "switchyard-bench"
    require_executable(bench, "swift build --product switchyard-bench, or set SWITCHYARD_BIN_DIR")
    if not Path("/usr/lib/lighttpd/mod_openssl.so").exists():
        pytest.fail("lighttpd's mod_openssl is not installed (make deps: lighttpd-mod-openssl)")
    env = dict(os.environ, SWITCHYARD_ROOT=str(REPO), SWITCHYARD_BIN_DIR=str(bin_dir))
    env.pop("SWITCHYARD_BIN", None)
    out = tmp_path / "out"
    r = subprocess.run([str(bench), "compare", "--quick", "--duration", "0.5", "--warmup", "0.2",
                        "--paths", "tls,lighttpd", "--out", str(out)], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    md = (out / "results.md").read_text()
    rows = {line.split("|")[1].strip(): line for line in md.splitlines() if line.startswith("|")}
    for name in ["lighttpd mod_openssl + mod_cgi", "switchyard TLS + CGI"]:
        assert name in rows, md
        cells = [c.strip() for c in rows[name].split("|")[2:-1]]
        assert len(cells) == 6 and all(c and c[0].isdigit() for c in cells), rows[name]
    assert "switchyard TLS ÷ lighttpd mod_openssl" in md
    assert "lighttpd mod_cgi" not in rows and "switchyard CGI (splice)" not in rows   # --paths leaves the rest out
    runs = [line for line in (out / "raw" / "runs.jsonl").read_text().splitlines() if '"tls-resumed"' in line]
    assert runs and all('"resumed": 0,' not in line for line in runs), runs

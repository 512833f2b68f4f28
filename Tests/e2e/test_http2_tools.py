"""HTTP/2 through nghttp2's own clients (issue 13's test list): `nghttp` (bodies of a few MiB both
ways, compared byte for byte) and `h2load` (thousands of multiplexed requests, every one must end
2xx with none failed or errored), over TLS with ALPN h2 and over h2c with prior knowledge, against
static files, CGI, FastCGI, SCGI and mod_proxy.

A second client implementation matters here: curl and the Python `h2` package (test_http2.py)
share none of nghttp2's framing choices (h2load pipelines up to -m streams per connection and
sends its own SETTINGS and window updates; nghttp uploads with its own DATA sizes).
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from e2e_util import Switchyard, require, require_executable, stop_with_apps, wait_until
from proxy_peers import Backend, pattern
from test_http2 import CAT_CGI, ECHO_APP, H2Server, config, make_certs

pytestmark = pytest.mark.switchyard_only

NGHTTP = shutil.which("nghttp")
H2LOAD = shutil.which("h2load")
MIB = 1 << 20

SHELL_CGI = b"#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nshell cgi\\n'\n"


@pytest.fixture(scope="module")
def tools_srv(tmp_path_factory):
    require(NGHTTP is not None and H2LOAD is not None, "nghttp/h2load not installed (Debian nghttp2-client; make deps)")
    require_executable(ECHO_APP, "swift build --product switchyard-echo-app, or set SWITCHYARD_BIN_DIR")
    root = tmp_path_factory.mktemp("http2tools")
    make_certs(root)
    doc = root / "doc"
    for sub in ("cgi", "sh"):
        (doc / sub).mkdir(parents=True)
    (doc / "small.txt").write_text("small file over h2\n")
    (doc / "big.bin").write_bytes(os.urandom(4 * MIB + 5))
    (doc / "cgi" / "cat.py").write_bytes(CAT_CGI)
    (doc / "sh" / "hi.sh").write_bytes(SHELL_CGI)
    backend = Backend()
    extra = f"""
server.modules += ("mod_proxy")
$HTTP["url"] =~ "^/sh/" {{
    cgi.assign = (".sh" => "/bin/sh")
}}
proxy.server = ("/proxied/" => (("host" => "127.0.0.1", "port" => {backend.port})))
"""
    s = Switchyard(config(root, extra=extra), root)
    server = H2Server(s, root)
    yield server
    stop_with_apps(s, [pid for pid, state in s.children() if state != "Z"])
    backend.close()


def base_url(s: H2Server, tls: bool) -> str:
    return f"https://127.0.0.1:{s.tls_port}" if tls else f"http://127.0.0.1:{s.port}"


def nghttp(s: H2Server, tls: bool, path: str, upload: Path = None) -> bytes:
    """One nghttp run (h2 only: ALPN over TLS, prior knowledge on http://); the response body."""
    args = [NGHTTP, "--timeout=30"]
    if upload is not None:
        args += ["-d", str(upload)]
    r = subprocess.run(args + [base_url(s, tls) + path], capture_output=True, timeout=60)
    assert r.returncode == 0, (path, r.returncode, r.stderr.decode(errors="replace")[-2000:])
    return r.stdout


@pytest.mark.parametrize("tls", [True, False], ids=["h2-alpn", "h2c-prior-knowledge"])
def test_nghttp_large_bodies_both_ways(tools_srv, tls, tmp_path):
    s = tools_srv
    big = (s.doc / "big.bin").read_bytes()
    assert nghttp(s, tls, "/big.bin") == big
    upload = tmp_path / "upload.bin"
    body = os.urandom(3 * MIB + 11)
    upload.write_bytes(body)
    # CGI: the script reads the whole upload and sends it back.
    got = nghttp(s, tls, "/cgi/cat.py", upload)
    assert len(got) == len(body) and hashlib.sha256(got).digest() == hashlib.sha256(body).digest()
    for prefix in ("/fcgi", "/scgi"):
        got = nghttp(s, tls, f"{prefix}/upload", upload)
        assert got == f"echo-app ok POST {prefix}/upload\n".encode() + body, (prefix, len(got))
    # mod_proxy: 3 MiB down (the backend's checksum beside it), 3 MiB up (the backend hashes it).
    n = 3 * MIB + 3
    assert hashlib.sha256(nghttp(s, tls, f"/proxied/big?n={n}")).digest() == hashlib.sha256(pattern(n)).digest()
    reply = json.loads(nghttp(s, tls, "/proxied/sha", upload))
    assert reply["len"] == len(body) and reply["sha256"] == hashlib.sha256(body).hexdigest(), reply


def h2load(s: H2Server, tls: bool, path: str, n: int, c: int, m: int) -> dict:
    """One h2load run; its request and status-code counters."""
    r = subprocess.run([H2LOAD, "-n", str(n), "-c", str(c), "-m", str(m), "-t", "1", "-T", "30", "-N", "30",
                        base_url(s, tls) + path], capture_output=True, timeout=90)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, (path, out[-2000:], r.stderr.decode(errors="replace")[-1000:])
    req = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", out)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    assert req and codes, out
    assert "Application protocol: h2" in out if tls else "Application protocol: h2c" in out, out
    names = ("total", "started", "done", "succeeded", "failed", "errored", "timeout")
    return dict(zip(names, map(int, req.groups()))) | dict(zip(("2xx", "3xx", "4xx", "5xx"), map(int, codes.groups())))


@pytest.mark.parametrize("tls", [True, False], ids=["h2-alpn", "h2c-prior-knowledge"])
def test_h2load_every_route_all_2xx(tools_srv, tls):
    """Multiplexed load (-m streams in flight per connection) on every route: nothing may fail,
    error or time out, and every answer is 2xx. A CGI spawns a process per request, so that route
    gets fewer requests; the proxy's backend is a threaded Python server (tens of ms a request)."""
    s = tools_srv
    runs = [("/small.txt", 2000, 4, 8), ("/fcgi/get", 500, 4, 8), ("/scgi/get", 500, 4, 8),
            ("/sh/hi.sh", 40, 2, 4), ("/proxied/big?n=1000", 20, 2, 4)]
    for path, n, c, m in runs:
        got = h2load(s, tls, path, n, c, m)
        want = {"total": n, "started": n, "done": n, "succeeded": n, "failed": 0, "errored": 0, "timeout": 0,
                "2xx": n, "3xx": 0, "4xx": 0, "5xx": 0}
        assert got == want, (path, got)
    assert s.srv.alive()


def write_syscalls(pid: int) -> int:
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("syscw:"):
            return int(line.split()[1])
    raise AssertionError("no syscw in /proc/PID/io")


def test_streams_answered_together_leave_in_one_write(tools_srv):
    """Eight GETs arriving in one read (h2load -m 8 does this all the time) are answered with one
    write (counted by the kernel in /proc/PID/io; over TLS, since plain sockets use sendmsg): every response's HEADERS, DATA and END_STREAM gather until the loop's pass ends.
    Writing each stream's frames as they were queued cost 16 write(2)s and, over TLS, 16 records
    (found by the h2 benchmark rows: 5x lighttpd's CPU per static request)."""
    from h2_client import H2Client
    s = tools_srv
    c = H2Client(s.tls_port, tls_ca=s.root / "a.crt")   # TLS records leave through write(2) (counted in syscw)
    try:
        assert c.request("GET", "/small.txt")[1] == b"small file over h2\n"   # settings exchanged, file cached
        time.sleep(0.3)
        before = write_syscalls(s.srv.pid)
        sids = []
        for _ in range(8):
            sid = c.conn.get_next_available_stream_id()
            c.conn.send_headers(sid, [(":method", "GET"), (":scheme", "https"), (":authority", c.authority),
                                      (":path", "/small.txt")], end_stream=True)
            sids.append(sid)
        c.flush()   # one write: the server reads all eight at once
        c.wait(lambda: all(sid in c.ended for sid in sids))
        writes = write_syscalls(s.srv.pid) - before
        assert [c.bodies[sid] for sid in sids] == [b"small file over h2\n"] * 8
        assert writes <= 2, f"{writes} write(2)s for 8 responses read together"
    finally:
        c.close()

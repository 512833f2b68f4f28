"""mod_status (status.status-url, status.statistics-url, status.config-url) and status.metrics-url
(Prometheus text) with real traffic: WebSockets through the seed's ws_echo.py over CGI (used in
place through alias.url) and through switchyard-echo-app over SCGI and FastCGI. Raw frames of known
sizes go both ways; the per-route counters must show exactly those bytes, the open gauges must
follow the connections up and back to 0, backend processes and restarts must appear, and the
status URLs must obey mod_access / mod_auth inside conditionals like any other route.
Switchyard-only: lighttpd's mod_status reports no WebSockets per route and has no metrics URL."""
import os
import re
import signal
import struct
from pathlib import Path

import pytest

import wsframes
from e2e_util import REPO, HTTPConnection, Switchyard, get, q, require_executable, require_seeds, stop_with_apps, wait_until

pytestmark = pytest.mark.switchyard_only

BIN_DIR = Path(os.environ.get("SWITCHYARD_BIN_DIR") or REPO / ".build" / "debug")
ECHO_APP = BIN_DIR / "switchyard-echo-app"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

# (path, module, route label): the seed CGI through an alias, the echo app over SCGI and FastCGI.
ROUTES = [("/seed/ws_echo.py", "cgi", ".py"), ("/scgi/ws", "scgi", "/scgi/"), ("/fcgi/ws", "fastcgi", "/fcgi/")]


def config(root: Path, seeds: Path, extra="") -> str:
    return f"""
server.document-root = {q(root)}
server.event-loops = 2
server.modules += ("mod_access", "mod_alias", "mod_cgi", "mod_fastcgi", "mod_scgi", "mod_status")
alias.url = ("/seed/" => {q(str(seeds) + "/")})
cgi.assign = (".py" => "/usr/bin/python3")
cgi.upgrade = "enable"
fastcgi.server = ("/fcgi/" => (( "socket" => {q(root / "echo-fcgi.sock")},
    "bin-path" => {q(f"{ECHO_APP} --protocol fastcgi")}, "check-local" => "disable", "upgrade" => 1 )))
scgi.server = ("/scgi/" => (( "socket" => {q(root / "echo-scgi.sock")},
    "bin-path" => {q(f"{ECHO_APP} --protocol scgi")}, "check-local" => "disable", "upgrade" => 1 )))
status.status-url = "/server-status"
status.statistics-url = "/server-statistics"
status.config-url = "/server-config"
$HTTP["remoteip"] == "127.0.0.1" {{
    status.metrics-url = "/metrics"
}}
{extra}
"""


def metrics(port):
    """The exposition as {(name, frozenset(labels)): value}, checking its syntax on the way."""
    r = get(port, "/metrics")
    assert r.status == 200, r
    assert r.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8"
    out, typed = {}, set()
    for line in r.body.decode().splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, line
        assert m.group(1) in typed, f"sample before its TYPE: {line}"
        labels = frozenset(LABEL.findall(m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def route_value(samples, name, module, route):
    return samples.get((f"switchyard_{name}", frozenset({("module", module), ("route", route)})), 0)


class RawWS:
    """A WebSocket over a raw socket that counts every byte after the 101 head, each way."""

    def __init__(self, port, path):
        self.c = HTTPConnection(port)
        key = wsframes.new_key()
        self.c.send(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    f"Origin: http://127.0.0.1:{port}\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        r = self.c.read_response()
        assert r.status == 101, r
        self.sent = 0
        self.received = len(self.c.buf)   # bytes that came right behind the head
        self.expected_down = 0

    @staticmethod
    def length_bytes(n):
        """RFC 6455 5.2: 7-bit length, or 126 + 16 bits, or 127 + 64 bits."""
        return 0 if n < 126 else 2 if n < 65536 else 8

    def echo(self, payload: bytes, masked_reply: bool):
        frame = wsframes.build_frame(2, payload)
        # client -> server: 2 header bytes + extended length + 4 mask bytes + payload
        assert len(frame) == 2 + self.length_bytes(len(payload)) + 4 + len(payload)
        self.c.send(frame)
        self.sent += len(frame)
        # server -> client: the same without a mask, or with one (the seed echoes with our key)
        self.expected_down += 2 + self.length_bytes(len(payload)) + (4 if masked_reply else 0) + len(payload)
        while True:
            parsed = wsframes.parse_frame(self.c.buf)
            if parsed:
                f, used = parsed
                del self.c.buf[:used]
                assert f.payload == payload
                return
            before = len(self.c.buf)
            self.c._fill()
            self.received += len(self.c.buf) - before

    def close(self):
        self.c.close()


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    seeds = require_seeds()
    require_executable(ECHO_APP, "swift build --product switchyard-echo-app, or set SWITCHYARD_BIN_DIR")
    root = tmp_path_factory.mktemp("status")
    s = Switchyard(config(root, seeds), root)
    yield s
    stop_with_apps(s, echo_pids(s))


def echo_pids(s):
    out = []
    for pid, state in s.children():
        try:
            if state != "Z" and Path(f"/proc/{pid}/exe").resolve() == ECHO_APP.resolve():
                out.append(pid)
        except OSError:
            pass
    return out


def test_websockets_per_route_bytes_and_gauges(srv):
    before = metrics(srv.port)
    base = {(m, r): (route_value(before, "route_upgrades_total", m, r),
                     route_value(before, "route_upgraded_received_bytes_total", m, r),
                     route_value(before, "route_upgraded_sent_bytes_total", m, r)) for _, m, r in ROUTES}
    n = {"cgi": 2, "scgi": 3, "fastcgi": 4}
    sizes = [0, 5, 125, 126, 1000, 70000]
    sockets = {}
    for path, module, route in ROUTES:
        sockets[module] = [RawWS(srv.port, path) for _ in range(n[module])]
        for ws in sockets[module]:
            for size in sizes:
                ws.echo(b"a" * size if module == "cgi" else os.urandom(size), masked_reply=(module == "cgi"))
    try:
        m = metrics(srv.port)
        for path, module, route in ROUTES:
            socks = sockets[module]
            up0, rx0, tx0 = base[(module, route)]
            assert route_value(m, "route_websockets_open", module, route) == n[module], (module, m)
            assert route_value(m, "route_upgrades_total", module, route) - up0 == n[module]
            assert route_value(m, "route_upgraded_received_bytes_total", module, route) - rx0 == sum(w.sent for w in socks)
            assert route_value(m, "route_upgraded_sent_bytes_total", module, route) - tx0 == sum(w.expected_down for w in socks)
            assert sum(w.received for w in socks) == sum(w.expected_down for w in socks)
        assert m[("switchyard_connections", frozenset({("state", "upgraded")}))] == sum(n.values())
        auto = get(srv.port, "/server-status?auto")
        assert auto.status == 200 and auto.header("Content-Type").startswith("text/plain"), auto
        fields = dict(line.split(": ", 1) for line in auto.text.splitlines())
        assert fields["UpgradedStreams"] == str(sum(n.values()))
        assert fields["Scoreboard"].count("U") == sum(n.values())
        assert set(fields) >= {"Total Accesses", "Uptime", "BusyServers", "IdleServers", "Scoreboard"}
        stats = get(srv.port, "/server-statistics").text
        assert f"fastcgi.route./fcgi/.websockets-open: {n['fastcgi']}" in stats.splitlines(), stats
    finally:
        for socks in sockets.values():
            for ws in socks:
                ws.close()
    assert wait_until(lambda: all(route_value(metrics(srv.port), "route_websockets_open", mod, r) == 0
                                  for _, mod, r in ROUTES), 15), metrics(srv.port)
    after = metrics(srv.port)
    assert after[("switchyard_connections", frozenset({("state", "upgraded")}))] == 0


def test_html_pages_and_backend_processes(srv):
    page = get(srv.port, "/server-status")
    assert page.status == 200 and page.header("Content-Type") == "text/html; charset=utf-8", page
    body = page.text
    for needle in ("Server-Status", "<td>fastcgi</td><td>/fcgi/</td>", "Backend processes", str(ECHO_APP)):
        assert needle in body, needle
    cfg = get(srv.port, "/server-config")
    assert cfg.status == 200 and "mod_status" in cfg.text
    m = metrics(srv.port)
    fcgi = frozenset({("host", str(srv.dir / "echo-fcgi.sock")), ("program", str(ECHO_APP)), ("slot", "0")})
    assert m[("switchyard_backend_process_up", fcgi)] == 1
    restarts = m[("switchyard_backend_process_restarts_total", fcgi)]
    # The FastCGI app dies: the slot shows it restarting, then up again with one more restart.
    pids = [p for p in echo_pids(srv) if "fastcgi" in Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="replace")]
    assert len(pids) == 1, pids
    os.kill(pids[0], signal.SIGKILL)
    assert wait_until(lambda: "restarting" in get(srv.port, "/server-status").text, 5)
    assert wait_until(lambda: metrics(srv.port).get(("switchyard_backend_process_restarts_total", fcgi)) == restarts + 1, 10)
    assert metrics(srv.port)[("switchyard_backend_process_up", fcgi)] == 1
    assert get(srv.port, "/fcgi/hello").status == 200


def test_requests_and_5xx_per_route(srv):
    before = metrics(srv.port)
    for _ in range(3):
        assert get(srv.port, "/scgi/plain").status == 200
    assert get(srv.port, "/seed/ws_echo.py").status == 204   # the seed answers a plain GET with 204
    after = metrics(srv.port)
    assert route_value(after, "route_requests_total", "scgi", "/scgi/") - route_value(before, "route_requests_total", "scgi", "/scgi/") == 3
    assert route_value(after, "route_requests_total", "cgi", ".py") - route_value(before, "route_requests_total", "cgi", ".py") == 1
    total = ("switchyard_requests_total", frozenset())
    assert after[total] - before[total] >= 5   # the 4 above and the first /metrics


def test_traffic_counts_what_clients_received(srv):
    """sent_bytes_total / Total kBytes: a request's bytes are added when the next one on its
    connection starts, so on one keep-alive connection the sum is exact to the byte."""
    (srv.dir / "big.bin").write_bytes(os.urandom(300 * 1024))

    def value(r):
        return int(float(re.search(r"^switchyard_sent_bytes_total (\S+)$", r.text, re.M).group(1)))

    def attempt():
        with HTTPConnection(srv.port) as c:
            c.request("GET", "/metrics")
            first = c.read_response()
            c.request("GET", "/big.bin")
            big = c.read_response()
            assert big.status == 200 and len(big.body) == 300 * 1024
            c.request("GET", "/metrics")
            second = c.read_response()
        delta = value(second) - value(first)
        return delta == len(first.raw_head) + len(first.body) + len(big.raw_head) + len(big.body), delta

    # Another connection ending in between would add its bytes too: retried, never loosened.
    results = [attempt() for _ in range(3)]
    assert any(ok for ok, _ in results), results
    kb = dict(line.split(": ", 1) for line in get(srv.port, "/server-status?auto").text.splitlines())["Total kBytes"]
    assert int(kb) >= 300


def test_status_urls_obey_access_and_auth_in_conditionals(switchyard, tmp_path):
    import shutil
    import subprocess
    from e2e_util import require
    require(shutil.which("htpasswd") is not None, "htpasswd not installed (Debian apache2-utils; make deps)")
    users = tmp_path / "htpasswd"
    subprocess.run(["htpasswd", "-b", "-c", "-B", "-C", "5", str(users), "admin", "s3cret"], check=True, capture_output=True)
    import base64
    auth = ("Authorization", "Basic " + base64.b64encode(b"admin:s3cret").decode())
    server = switchyard(f"""
server.document-root = {q(tmp_path)}
server.modules += ("mod_access", "mod_auth", "mod_authn_file", "mod_status")
auth.backend = "htpasswd"
auth.backend.htpasswd.userfile = {q(users)}
status.status-url = "/server-status"
status.metrics-url = "/metrics"
$HTTP["url"] =~ "^/metrics" {{
    auth.require = ( "" => ( "method" => "basic", "realm" => "metrics", "require" => "valid-user" ) )
}}
$HTTP["remoteip"] == "127.0.0.1" {{
    url.access-deny = ( "/server-status" )
}}
$HTTP["host"] == "nostatus.example" {{
    status.metrics-url = ""
}}
""")
    r = get(server.port, "/metrics")
    assert r.status == 401 and "metrics" in r.header("WWW-Authenticate", ""), r
    r = get(server.port, "/metrics", headers=[auth])
    assert r.status == 200 and "switchyard_requests_total" in r.text, r
    assert get(server.port, "/server-status").status == 403
    assert get(server.port, "/server-status?auto").status == 403
    # "" inside a conditional turns the page off there: the path is an ordinary (missing) file.
    assert get(server.port, "/metrics", headers=[auth, ("Host", "nostatus.example")]).status == 404


def test_config_errors_name_file_and_line(tmp_path):
    from e2e_util import switchyard_bin
    conf = tmp_path / "bad.conf"
    conf.write_text('server.modules = ("mod_status")\n\nstatus.metrics-url = "metrics"\n')
    r = __import__("subprocess").run([str(switchyard_bin()), "-t", "-f", str(conf)], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "bad.conf:3" in r.stderr + r.stdout and "status.metrics-url" in r.stderr + r.stdout, r.stderr


def test_wstunnel_route_counts_frames_both_ways(switchyard, tmp_path):
    """mod_wstunnel (the seed wstunnel.conf in place, the seed echo.pl): Switchyard is the WebSocket
    server here, so the counters see the client's frames and the frames Switchyard made. echo.pl
    serves one connection at a time (max-procs 1): all three are open (101) at once, each echoes
    once the one before it has closed."""
    from wstunnel_util import handshake, seed_config
    server = switchyard(seed_config(tmp_path, 'server.modules += ("mod_status")\nstatus.metrics-url = "/metrics"\n'))
    conns = []
    for _ in range(3):
        c, r = handshake(server.port, "/ws/")
        assert r.status == 101, r
        conns.append(c)
    m = metrics(server.port)
    assert route_value(m, "route_websockets_open", "wstunnel", "/ws/") == 3
    assert route_value(m, "route_upgrades_total", "wstunnel", "/ws/") == 3
    sent = received = 0
    for k, c in enumerate(conns):
        for line in (b"hello\n", b"x" * 200 + b"\n"):
            frame = wsframes.build_frame(1, line)
            c.send(frame)
            sent += len(frame)
            got = bytearray()
            while not got.endswith(b"\n"):
                parsed = wsframes.parse_frame(c.buf)
                if not parsed:
                    c._fill()
                    continue
                f, used = parsed
                got += f.payload
                received += used
                del c.buf[:used]
            assert bytes(got) == line
        close = wsframes.build_frame(8, struct.pack("!H", 1000))
        c.send(close)
        sent += len(close)
        assert c.wait_closed(10), "no EOF after the CLOSE handshake"
        parsed = wsframes.parse_frame(c.buf)
        assert parsed and parsed[0].opcode == 8, bytes(c.buf)
        received += len(c.buf)   # the CLOSE reply, counted as sent to the client too
        c.close()
        assert wait_until(lambda: route_value(metrics(server.port), "route_websockets_open", "wstunnel", "/ws/") == 2 - k, 10)
    m = metrics(server.port)
    # masked client frames: 2 + 4 + 6 bytes, 2 + 2 (126-byte form) + 4 + 201 bytes, CLOSE 2 + 4 + 2
    assert route_value(m, "route_upgraded_received_bytes_total", "wstunnel", "/ws/") == sent == 3 * ((2 + 4 + 6) + (2 + 2 + 4 + 201) + 8)
    assert route_value(m, "route_upgraded_sent_bytes_total", "wstunnel", "/ws/") == received
    assert received >= 3 * ((2 + 6) + (2 + 2 + 201))   # unmasked replies, maybe in more frames than one


def test_disabled_backend_host_shows_until_when(switchyard, tmp_path):
    """A host that refused a connection is disabled for its disable-time: the status page says
    until when, the metrics how many seconds are left, and the route counts the 503."""
    server = switchyard(f"""
server.document-root = {q(tmp_path)}
server.event-loops = 1
server.modules += ("mod_scgi", "mod_status")
scgi.server = ("/app/" => (( "socket" => {q(tmp_path / "nobody-listens.sock")}, "check-local" => "disable",
                            "disable-time" => 30 )))
status.status-url = "/server-status"
status.metrics-url = "/metrics"
""")
    assert get(server.port, "/app/x").status == 503
    m = metrics(server.port)
    host = frozenset({("module", "scgi"), ("route", "/app/"), ("host", str(tmp_path / "nobody-listens.sock"))})
    assert 25 <= m[("switchyard_backend_disabled_seconds", host)] <= 30, m
    assert route_value(m, "route_responses_5xx_total", "scgi", "/app/") == 1
    assert route_value(m, "route_requests_total", "scgi", "/app/") == 1
    page = get(server.port, "/server-status").text
    assert re.search(r"disabled until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \((2[5-9]|30) s\)", page), page

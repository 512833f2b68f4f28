"""Live reload on SIGUSR1 (issue 14, point 5).

The configuration file is read again in the running process: new connections and requests get
the new settings (document root, routes, server.tag), a WebSocket opened before through the seed's
ws_echo.py over CGI keeps echoing after its route left the configuration, a file that fails the
checks of `switchyard -t` (or moves a listener) is refused with a log line naming file and line
while the old configuration keeps serving, a spawned `bin-path` backend removed from the file is
stopped once its last exchange ended, and repeated reloads leave no descriptor or process behind.
"""
import os
import re
import signal
import time
from pathlib import Path

import pytest

from e2e_util import REPO, HTTPConnection, Switchyard, get, proc_state, q, require_executable, require_seeds, wait_until
from test_status import ECHO_APP, RawWS, echo_pids

pytestmark = pytest.mark.switchyard_only

RELOADED = "reloaded (generation"
REFUSED = "refused, the running configuration stays"
HEAD = 'server.bind = "127.0.0.1"\nserver.port = 0\n'   # what Switchyard() puts first


def site(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir(exist_ok=True)
        (tmp_path / name / "index.html").write_text(f"docroot {name}\n")


def cgi_config(tmp_path, seeds, docroot="a", cgi=True, tag="one", extra=""):
    ws = """cgi.assign = (".py" => "/usr/bin/python3")
cgi.upgrade = "enable"
""" if cgi else ""
    return f"""
server.document-root = {q(tmp_path / docroot)}
server.modules += ("mod_alias", "mod_cgi", "mod_scgi")
server.tag = "{tag}"
alias.url = ("/seed/" => {q(str(seeds) + "/")})
{ws}{extra}
"""


def scgi_block(tmp_path, procs=1):
    return f"""scgi.server = ("/scgi/" => (( "socket" => {q(tmp_path / "echo-scgi.sock")},
    "bin-path" => {q(f"{ECHO_APP} --protocol scgi")}, "check-local" => "disable", "upgrade" => 1, "max-procs" => {procs} )))
"""


def reload(s, text, expect=RELOADED):
    """Writes the new file, sends SIGUSR1 and waits for the outcome's log line."""
    before = s.output().count(expect)
    Path(s.conf_path).write_text(HEAD + text + "\n")
    s.send_signal(signal.SIGUSR1)
    assert wait_until(lambda: s.output().count(expect) > before, 10), s.output()[-3000:]
    return [l for l in s.output().splitlines() if expect in l][-1]


def test_new_requests_get_new_settings_open_websocket_keeps_old_route(tmp_path):
    seeds = require_seeds()
    site(tmp_path)
    s = Switchyard(cgi_config(tmp_path, seeds), tmp_path)
    ws = RawWS(s.port, "/seed/ws_echo.py")
    ws.echo(b"before", masked_reply=True)
    keep = HTTPConnection(s.port)
    keep.send(b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")
    r = keep.read_response()
    assert r.body == b"docroot a\n" and r.header("Server") == "one"

    assert get(s.port, "/server-status").status == 404
    # New document root and tag, a module added (mod_status); the CGI route (and its WebSocket
    # upgrade) removed.
    status = 'server.modules += ("mod_status")\nstatus.status-url = "/server-status"\n'
    reload(s, cgi_config(tmp_path, seeds, docroot="b", cgi=False, tag="two", extra=status))
    r = get(s.port, "/index.html")
    assert r.body == b"docroot b\n" and r.header("Server") == "two", r
    assert get(s.port, "/server-status").status == 200
    # A keep-alive connection's next request is routed with the new settings too.
    keep.send(b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")
    assert keep.read_response().body == b"docroot b\n"
    # The WebSocket opened through the old CGI route keeps echoing.
    for payload in (b"after", b"x" * 1000, b""):   # the seed reads a frame with one read: small ones
        ws.echo(payload, masked_reply=True)
    # ... while a new upgrade finds no CGI route any more (the script is served as a file).
    r = get(s.port, "/seed/ws_echo.py", headers=[("Upgrade", "websocket"), ("Connection", "Upgrade")])
    assert r.status == 200 and b"import" in r.body, r
    ws.close()
    keep.close()
    s.stop()


def test_bad_configuration_is_refused_and_old_one_kept(tmp_path):
    seeds = require_seeds()
    site(tmp_path)
    s = Switchyard(cgi_config(tmp_path, seeds), tmp_path)
    name = Path(s.conf_path).name
    good = cgi_config(tmp_path, seeds)
    lines = good.count("\n") + 3   # the two header lines Switchyard() adds
    cases = [
        (good + 'server.modules += ("mod_status"\n', rf"{name}:{lines + 2}:1: expected"),     # syntax (found at the end of the file)
        (good + "server.max-keep-alive-idle = 99999999999\n", rf"{name}:{lines}:.*server.max-keep-alive-idle"),  # a -t range check
        (good + 'server.modules += ("mod_fastcgi")\nfastcgi.server = (".php" => (( "socket" => "/tmp/x.sock", "bin-path" => "/nonexistent/php" )))\n',
         rf"{name}:{lines + 1}:.*/nonexistent/php"),                                                                 # a missing bin-path
        ("server.port = 1\n" + good, rf"{name}:3:.*server.port changed"),                         # a listener
    ]
    for text, where in cases:
        line = reload(s, text, expect=REFUSED)
        assert re.search(where, line), (where, line)
        r = get(s.port, "/index.html")
        assert r.body == b"docroot a\n" and r.header("Server") == "one", (where, r)
    assert RELOADED not in s.output()
    # Fixed again: the next reload applies.
    reload(s, cgi_config(tmp_path, seeds, docroot="b"))
    assert get(s.port, "/index.html").body == b"docroot b\n"
    s.stop()


def test_removed_spawned_backend_stops_after_its_last_exchange(tmp_path):
    seeds = require_seeds()
    require_executable(ECHO_APP, "swift build --product switchyard-echo-app, or set SWITCHYARD_BIN_DIR")
    site(tmp_path)
    s = Switchyard(cgi_config(tmp_path, seeds, extra=scgi_block(tmp_path)), tmp_path)
    [app] = echo_pids(s)
    ws = RawWS(s.port, "/scgi/ws")
    ws.echo(b"hello", masked_reply=False)

    reload(s, cgi_config(tmp_path, seeds))
    assert get(s.port, "/scgi/ws").status == 404   # the route is gone for new requests
    # Bulk messages: the relay hands the stream to splice (the kernel moves the bytes), which must
    # still count as the backend being in use - and stop counting when it closes.
    for _ in range(4):
        ws.echo(os.urandom(256 * 1024), masked_reply=False)
    time.sleep(0.6)                                  # a few drain checks
    assert proc_state(app) not in (None, "Z")
    ws.echo(b"still there", masked_reply=False)
    ws.close()
    assert wait_until(lambda: proc_state(app) in (None, "Z"), 10), s.output()[-2000:]
    assert s.wait_for_log("stopped (removed from the configuration)")
    assert not (tmp_path / "echo-scgi.sock").exists()
    assert echo_pids(s) == []
    s.stop()


def test_backend_added_back_while_draining_returns_to_service(tmp_path):
    seeds = require_seeds()
    require_executable(ECHO_APP, "swift build --product switchyard-echo-app, or set SWITCHYARD_BIN_DIR")
    site(tmp_path)
    with_scgi = cgi_config(tmp_path, seeds, extra=scgi_block(tmp_path))
    s = Switchyard(with_scgi, tmp_path)
    [app] = echo_pids(s)
    ws = RawWS(s.port, "/scgi/ws")
    reload(s, cgi_config(tmp_path, seeds))          # removed: draining while the WebSocket is open
    reload(s, with_scgi)                             # back, the same: the same process serves again
    assert s.wait_for_log("configured again"), s.output()[-2000:]
    fresh = RawWS(s.port, "/scgi/ws")
    fresh.echo(b"new", masked_reply=False)
    ws.echo(b"old", masked_reply=False)
    ws.close()
    fresh.close()
    time.sleep(0.6)                                  # a drain check would have stopped it by now
    assert echo_pids(s) == [app] and "stopping it" not in s.output()
    s.stop()


def test_changed_spawned_backend_is_replaced_on_its_socket(tmp_path):
    seeds = require_seeds()
    require_executable(ECHO_APP, "swift build --product switchyard-echo-app, or set SWITCHYARD_BIN_DIR")
    site(tmp_path)
    s = Switchyard(cgi_config(tmp_path, seeds, extra=scgi_block(tmp_path)), tmp_path)
    [old] = echo_pids(s)
    ws = RawWS(s.port, "/scgi/ws")
    ws.echo(b"on the old process", masked_reply=False)

    reload(s, cgi_config(tmp_path, seeds, extra=scgi_block(tmp_path, procs=2)))
    assert s.wait_for_log("replaced on"), s.output()[-2000:]
    assert wait_until(lambda: len(echo_pids(s)) == 3), echo_pids(s)   # two new beside the old one
    fresh = RawWS(s.port, "/scgi/ws")
    fresh.echo(b"on a new process", masked_reply=False)
    ws.echo(b"still on the old one", masked_reply=False)
    time.sleep(0.5)
    assert proc_state(old) not in (None, "Z"), "the old process serves its WebSocket until it closes"
    ws.close()
    assert wait_until(lambda: proc_state(old) in (None, "Z"), 10), s.output()[-2000:]
    assert len(echo_pids(s)) == 2 and (tmp_path / "echo-scgi.sock").exists()
    fresh.echo(b"the new processes keep the socket", masked_reply=False)
    fresh.close()
    assert not (tmp_path / "echo-scgi.sock.new").exists()
    s.stop()


def test_pooled_connection_to_a_retired_host_closes_when_idle(tmp_path):
    require_executable(ECHO_APP, "swift build --product switchyard-echo-app, or set SWITCHYARD_BIN_DIR")
    site(tmp_path)

    def fcgi(prefix):
        return f"""server.document-root = {q(tmp_path / "a")}
server.modules += ("mod_fastcgi")
server.event-loops = 1
fastcgi.server = ("{prefix}" => (( "socket" => {q(tmp_path / "echo-fcgi.sock")},
    "bin-path" => {q(f"{ECHO_APP} --protocol fastcgi")}, "check-local" => "disable", "connection-pool" => "enable" )))
"""
    s = Switchyard(fcgi("/fcgi/"), tmp_path)
    [app] = echo_pids(s)
    baseline = s.fd_count()
    assert get(s.port, "/fcgi/x").status == 200
    assert wait_until(lambda: s.fd_count() == baseline + 1), s.fd_count()   # the pooled idle connection
    # The same program on another route: the process is kept, the old route's host state is
    # retired and its idle pooled connection closed at once (not after the 30 s idle time).
    reload(s, fcgi("/app/"))
    assert wait_until(lambda: s.fd_count() == baseline, 5), s.fd_count()
    assert get(s.port, "/app/x").status == 200 and get(s.port, "/fcgi/x").status == 404
    assert echo_pids(s) == [app]
    s.stop()


def test_repeated_reloads_leave_nothing_behind(tmp_path):
    seeds = require_seeds()
    require_executable(ECHO_APP, "swift build --product switchyard-echo-app, or set SWITCHYARD_BIN_DIR")
    site(tmp_path)
    plain = cgi_config(tmp_path, seeds)
    s = Switchyard(plain, tmp_path)
    baseline = s.fd_count()   # listeners, loops, logs: before any client connection
    for i in range(6):
        # A spawned backend comes and goes with every other reload, with a request through it.
        reload(s, cgi_config(tmp_path, seeds, extra=scgi_block(tmp_path)))
        ws = RawWS(s.port, "/scgi/ws")
        ws.echo(b"%d" % i, masked_reply=False)
        ws.close()
        reload(s, plain)
        assert get(s.port, "/index.html").status == 200
    fds = lambda: sorted(os.readlink(f"/proc/{s.pid}/fd/{n}") for n in os.listdir(f"/proc/{s.pid}/fd"))
    ok = wait_until(lambda: echo_pids(s) == [] and s.fd_count() <= baseline, 10)
    assert ok, "\n".join(fds() + [str(echo_pids(s)), str(s.children())] + [l for l in s.output().splitlines() if "pid" in l or "stop" in l])
    assert s.output().count(REFUSED) == 0
    s.stop()

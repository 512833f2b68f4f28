"""Numeric settings out of range, spawned backends that cannot start, and a conditional combination
that does not resolve: `-t` rejects the first two with file:line:col and the allowed range (each of
them used to pass -t and then trap at start, on the first request, idle connection or SIGTERM), the
third answers 500 with an error log line instead of silently using the global settings."""
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from e2e_util import HTTPConnection, get, q, require_binary, switchyard_bin

pytestmark = pytest.mark.switchyard_only

HUGE = 9223372036854


def check(conf):
    require_binary()
    p = subprocess.run([str(switchyard_bin()), "-t", "-f", str(conf)], capture_output=True, timeout=15,
                       stdin=subprocess.DEVNULL)
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")


def write(tmp_path, body, name="limits.conf"):
    conf = tmp_path / name
    conf.write_text(f"server.document-root = {q(tmp_path)}\nserver.bind = \"127.0.0.1\"\n{body}\n")
    return conf


GLOBAL_CASES = [
    ("server.port", 70000, "0...65535"),
    ("server.port", -1, "0...65535"),
    ("server.max-read-idle", HUGE, "1...65535"),
    ("server.max-read-idle", -1, "1...65535"),
    ("server.max-keep-alive-idle", HUGE, "0...65535"),
    ("server.max-keep-alive-idle", -1, "0...65535"),
    ("server.max-write-idle", HUGE, "1...65535"),
    ("server.graceful-shutdown-timeout", HUGE, "0...86400"),
    ("server.max-request-size", 9223372036854775807, "0...4294967295"),
    ("server.max-request-field-size", 0, "1024...1048576"),
    ("server.listen-backlog", 3000000000, "1...65535"),
    ("server.max-keep-alive-requests", -5, "0...1000000"),
    ("server.event-loops", 100000, "0...1024"),
    ("server.h2-max-concurrent-streams", 0, "1...1024"),
    ("server.h2-initial-window-size", 2147483647, "1024...16777216"),
    ("server.h2-max-frame-size", 16383, "16384...16777215"),
]


@pytest.mark.parametrize("key,value,allowed", GLOBAL_CASES, ids=[f"{k}={v}" for k, v, _ in GLOBAL_CASES])
def test_global_number_out_of_range(tmp_path, key, value, allowed):
    port = "" if key == "server.port" else "server.port = 0\n"
    literal = f'"{value}"' if value < 0 else value   # the grammar has no negative literal; "-1" is read as -1
    conf = write(tmp_path, f"{port}server.tag = \"x\"\n{key} = {literal}")
    code, text = check(conf)
    assert code == 1, text
    line = 5 if port else 4
    assert re.search(rf"limits\.conf:{line}:\d+: {re.escape(key)} = {value} is out of range \(allowed {re.escape(allowed)}",
                     text), text


def test_max_request_size_in_a_conditional(tmp_path):
    conf = write(tmp_path, 'server.port = 0\n$HTTP["url"] =^ "/up/" {\n  server.max-request-size = "-1"\n}')
    code, text = check(conf)
    assert code == 1 and re.search(r"limits\.conf:5:\d+: server\.max-request-size = -1 is out of range", text), text


@pytest.mark.parametrize("module,key", [("mod_fastcgi", "fastcgi.server"), ("mod_scgi", "scgi.server")])
@pytest.mark.parametrize("option,value,allowed", [("port", 99999, "1...65535"), ("port", 0, "1...65535"),
                                                  ("read-timeout", -1, "0...86400"), ("kill-signal", 99, "1...64"),
                                                  ("max-procs", 1000000000, "1...1024"),
                                                  ("max-connections", -1, "0...65535")])
def test_backend_option_out_of_range(tmp_path, module, key, option, value, allowed):
    extra = "" if option == "port" else '"port" => 9000, '
    literal = f'"{value}"' if value < 0 else value
    conf = write(tmp_path, f'server.port = 0\nserver.modules += ("{module}")\n'
                           f'{key} = ("/app/" => (( "host" => "127.0.0.1", {extra}"{option}" => {literal} )))')
    code, text = check(conf)
    assert code == 1, text
    assert re.search(rf'limits\.conf:5:\d+: {re.escape(key)} host "[^"]*": "{option}" = {value} is out of range '
                     rf'\(allowed {re.escape(allowed)}\)', text), text


def test_cgi_limits_must_be_in_range(tmp_path):
    conf = write(tmp_path, 'server.port = 0\nserver.modules += ("mod_cgi")\ncgi.assign = (".cgi" => "")\n'
                           'cgi.limits = ("read-timeout" => "-3")')
    code, text = check(conf)
    assert code == 1 and re.search(r'limits\.conf:6:\d+: cgi\.limits "read-timeout" = -3 is out of range', text), text


def test_largest_values_pass_and_run(switchyard, tmp_path):
    """The upper bounds themselves are accepted, and a server using them survives idle connections
    (seconds -> nanoseconds) and a SIGTERM with the longest grace."""
    (tmp_path / "f.txt").write_text("ok")
    server = switchyard(f"""
server.document-root = {q(tmp_path)}
server.max-read-idle = 65535
server.max-write-idle = 65535
server.max-keep-alive-idle = 65535
server.max-keep-alive-requests = 1000000
server.graceful-shutdown-timeout = 86400
server.max-request-size = 4294967295
server.max-request-field-size = 1048576
server.listen-backlog = 65535
server.h2-max-concurrent-streams = 1024
server.h2-initial-window-size = 16777216
server.h2-max-frame-size = 16777215
""")
    idle = socket.create_connection(("127.0.0.1", server.port))   # never sends: the read-idle check runs
    c = HTTPConnection(server.port)
    c.request("GET", "/f.txt")
    r = c.read_response()
    assert r.status == 200 and r.body == b"ok", r
    time.sleep(2.2)                                               # two worker ticks over both connections
    assert server.alive(), server.output()
    assert get(server.port, "/f.txt").status == 200
    idle.close()
    c.close()
    server.stop()                                                 # SIGTERM, exit 0 expected


@pytest.fixture
def program(tmp_path):
    p = tmp_path / "app.sh"
    p.write_text("#!/bin/sh\nexit 0\n")
    p.chmod(0o755)
    return p


@pytest.mark.parametrize("case", ["missing", "not-executable", "directory", "socket-dir"])
def test_spawned_backend_checked_by_t(tmp_path, program, case):
    socket_path = tmp_path / "app.sock"
    bin_path = program
    if case == "missing":
        bin_path = tmp_path / "nope" / "app"
    elif case == "not-executable":
        program.chmod(0o644)
    elif case == "directory":
        bin_path = tmp_path
    else:
        socket_path = tmp_path / "no-such-dir" / "app.sock"
    conf = write(tmp_path, f'server.port = 0\nserver.modules += ("mod_fastcgi")\n'
                           f'fastcgi.server = ("/app/" => (( "socket" => {q(socket_path)},\n'
                           f'    "bin-path" => {q(str(bin_path) + " --flag")} )))')
    code, text = check(conf)
    assert code == 1, text
    assert re.search(r"limits\.conf:5:\d+: fastcgi\.server host", text), text
    assert ("socket" if case == "socket-dir" else "bin-path") in text, text


def test_spawned_backend_ok_passes_t(tmp_path, program):
    conf = write(tmp_path, f'server.port = 0\nserver.modules += ("mod_fastcgi")\n'
                           f'fastcgi.server = ("/app/" => (( "socket" => {q(tmp_path / "a.sock")}, '
                           f'"bin-path" => {q(str(program) + " -x")} )))')
    code, text = check(conf)
    assert code == 0, text


def test_unresolvable_conditional_combination_is_500(switchyard, tmp_path):
    """Each block is valid alone (start-up validates them one by one); a request matching both gets an
    invalid scgi.protocol for its scgi.server. It must not be served with the global settings."""
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x").write_text("static, should not be served")
    server = switchyard(f"""
server.document-root = {q(tmp_path)}
server.modules += ("mod_scgi")
$HTTP["url"] =~ "^/a/" {{
    scgi.protocol = "bogus"
}}
$HTTP["url"] =~ "x$" {{
    scgi.server = ("/" => (( "host" => "127.0.0.1", "port" => 9 )))
}}
""")
    r = get(server.port, "/a/x")
    assert r.status == 500, r
    assert server.wait_for_log("cannot be resolved"), server.log_text()
    assert "scgi.protocol" in server.log_text()


def test_extra_socket_port_out_of_range(tmp_path):
    conf = write(tmp_path, 'server.port = 0\n$SERVER["socket"] == "127.0.0.1:70000" {\n}')
    code, text = check(conf)
    assert code == 1 and re.search(r'limits\.conf:4:\d+: \$SERVER\["socket"\] port = 70000 is out of range', text), text


def test_keys_without_effect_say_so(tmp_path):
    """lighttpd keys that change nothing here are not parsed into unused settings: -t accepts them
    and says, with file:line, that they have no effect."""
    conf = write(tmp_path, 'server.port = 0\nserver.stream-request-body = 1\nserver.stream-response-body = 2')
    code, text = check(conf)
    assert code == 0, text
    assert re.search(r"limits\.conf:4:\d+: .*server\.stream-request-body has no effect", text), text
    assert re.search(r"limits\.conf:5:\d+: .*server\.stream-response-body has no effect", text), text

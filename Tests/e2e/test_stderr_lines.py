"""A backend program's stderr in the error log: every way it arrives is split into lines the same way
(one LineSplitter): CRLF loses its CR, a line split across writes comes out whole, a line is cut at
8 KiB (the rest of it dropped), and an unterminated last line is logged when the stream ends.

Paths: a mod_cgi script (stderr pipe); FCGI_STDERR records from flup's FastCGI server (`wsgi.errors`);
the stderr of a spawned backend (`bin-path`): flup at startup, and the fcgi-cgi bridge, whose CGIs
inherit its stderr. Each line is tagged with the path that wrote it and matched whole, to its end."""
import os
import re
import sys
from pathlib import Path

import pytest

from e2e_require import require_executable, require_module
from e2e_util import REPO, get, q, wait_until

pytestmark = pytest.mark.switchyard_only

FCGI_CGI = REPO / ".build" / "debug" / "fcgi-cgi"
CAP = 8192

# Writes the sample lines to `err` with flushes (and pauses) between the pieces of a split line.
WRITE_LINES = r'''
import time


def write_lines(err, tag, unterminated=True):
    err.write(f"{tag} crlf line\r\n"); err.flush()
    err.write(f"{tag} split "); err.flush(); time.sleep(0.1)
    err.write("across writes\n"); err.flush()
    err.write(f"{tag} long " + "y" * 20000 + "\n"); err.flush()
    err.write(f"{tag} after long\n")
    if unterminated:
        err.write(f"{tag} unterminated")
    err.flush()
'''

CGI_SCRIPT = "#!" + sys.executable + "\n" + WRITE_LINES + r'''
import os, sys
write_lines(sys.stderr, os.environ.get("QUERY_STRING", "?"))
sys.stdout.write("Content-Type: text/plain\r\n\r\nlines ok\n")
'''

FLUP_APP = WRITE_LINES + r'''
import sys
from flup.server.fcgi import WSGIServer


def app(environ, start_response):
    write_lines(environ["wsgi.errors"], environ.get("QUERY_STRING", "?"))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"lines ok\n"]


write_lines(sys.stderr, "flup-startup", unterminated=False)
WSGIServer(app).run()   # the listening socket is fd 0 (bin-path)
'''


def expected_lines(tag, unterminated=True):
    long_line = f"{tag} long " + "y" * 20000
    lines = [f"{tag} crlf line", f"{tag} split across writes", long_line[:CAP], f"{tag} after long"]
    return lines + ([f"{tag} unterminated"] if unterminated else [])


def assert_logged(server, tag, unterminated=True):
    """Every expected line appears as a whole log line ending in 'stderr: <line>'."""
    lines = expected_lines(tag, unterminated)
    wait_until(lambda: all(f"stderr: {line}\n" in server.log_text() for line in lines), 10)
    log = server.log_text()
    for line in lines:
        assert re.search(r"\) [^\n]*: stderr: " + re.escape(line) + "\n", log), (line[:80], log[-3000:])
    assert "y" * (CAP + 1) not in log
    assert f"{tag} crlf line\r" not in log


def site(tmp_path):
    doc = tmp_path / "doc"
    for d in ("cgi", "bridge"):
        (doc / d).mkdir(parents=True)
        script = doc / d / "lines.py"
        script.write_text(CGI_SCRIPT)
        os.chmod(script, 0o755)
    return doc


def test_cgi_stderr_lines(switchyard, tmp_path):
    doc = site(tmp_path)
    server = switchyard(f"""
server.document-root = {q(doc)}
server.modules += ("mod_cgi")
$HTTP["url"] =~ "^/cgi/" {{ cgi.assign = (".py" => "") }}
""")
    r = get(server.port, "/cgi/lines.py?cgi")
    assert r.status == 200 and r.body == b"lines ok\n", r
    assert_logged(server, "cgi")


def test_fastcgi_stderr_records_and_backend_stderr(switchyard, tmp_path):
    require_module("flup")
    app = tmp_path / "flup_lines.py"
    app.write_text(FLUP_APP)
    server = switchyard(f"""
server.document-root = {q(tmp_path)}
server.modules += ("mod_fastcgi")
fastcgi.server = ("/flup/" => (( "socket" => {q(tmp_path / "flup.sock")},
                                  "bin-path" => {q(f"{sys.executable} {app}")}, "check-local" => "disable" )))
""")
    r = get(server.port, "/flup/x?fcgi-records")
    assert r.status == 200 and r.body == b"lines ok\n", r
    assert_logged(server, "fcgi-records")
    assert_logged(server, "flup-startup", unterminated=False)


def test_bridge_cgi_inherits_the_bridge_stderr(switchyard, tmp_path):
    require_executable(FCGI_CGI, "swift build")
    doc = site(tmp_path)
    server = switchyard(f"""
server.document-root = {q(doc)}
server.modules += ("mod_fastcgi")
fastcgi.server = ("/bridge/" => (( "socket" => {q(tmp_path / "bridge.sock")}, "bin-path" => {q(FCGI_CGI)},
                                   "check-local" => "disable" )))
""")
    r = get(server.port, "/bridge/lines.py?bridge")
    assert r.status == 200 and r.body == b"lines ok\n", r
    # Its last line stays unterminated in the shared pipe: the bridge (its writer too) is still running.
    assert_logged(server, "bridge", unterminated=False)

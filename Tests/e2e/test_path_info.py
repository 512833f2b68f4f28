"""PATH_INFO on extension routes: `fastcgi.server = (".php" => ...)` and a request for
`/index.php/users/7?x=1` reach `index.php` with SCRIPT_NAME=/index.php and PATH_INFO=/users/7,
as lighttpd does (every PHP front controller depends on it).

Against Debian's php-fpm (the peer PHP users have) and the project's own SCGI and uwsgi apps, with
check-local enabled (the script must exist under the document root) and disabled.
"""
import os
import sys
from pathlib import Path

import pytest

from e2e_util import get, q, require
from test_gateways import SCGI_APP, parse_kv, procs, start_uwsgi, wait_listening  # noqa: F401 (procs is a fixture)

PHP_SCRIPT = """<?php
header("Content-Type: text/plain");
foreach (["SCRIPT_NAME", "PATH_INFO", "SCRIPT_FILENAME", "QUERY_STRING", "REQUEST_URI", "PHP_SELF"] as $k) {
    echo strtolower($k), "=", $_SERVER[$k] ?? "", "\\n";
}
"""


def php_fpm():
    found = sorted(Path("/usr/sbin").glob("php-fpm*"))
    require(bool(found), "php-fpm is not installed (apt-get install php-fpm; make deps installs it)")
    return found[-1]


@pytest.fixture
def fpm(procs, tmp_path):
    """A php-fpm master with two children on a Unix socket under tmp_path (foreground, own session)."""
    binary = php_fpm()
    conf = tmp_path / "fpm.conf"
    root_lines = "user = root\ngroup = root\n" if os.geteuid() == 0 else ""
    conf.write_text(f"""[global]
pid = {tmp_path / 'fpm.pid'}
error_log = {tmp_path / 'fpm.log'}
daemonize = no
[www]
{root_lines}listen = {tmp_path / 'php.sock'}
pm = static
pm.max_children = 2
""")
    args = [binary, "-F", "-y", conf] + (["-R"] if os.geteuid() == 0 else [])
    p = procs.start(args, "php-fpm")
    wait_listening(tmp_path / "php.sock", p, procs)
    return tmp_path / "php.sock"


@pytest.fixture
def docroot(tmp_path):
    root = tmp_path / "www"
    (root / "blog").mkdir(parents=True)
    (root / "index.php").write_text(PHP_SCRIPT)
    (root / "blog" / "front.php").write_text(PHP_SCRIPT)
    return root


@pytest.mark.parametrize("check_local", ["enable", "disable"])
def test_php_fpm_front_controller_gets_path_info(switchyard, fpm, docroot, check_local):
    server = switchyard(f"""
server.document-root = {q(docroot)}
server.modules += ("mod_fastcgi")
fastcgi.server = (".php" => (( "socket" => {q(fpm)}, "check-local" => "{check_local}" )))
""")
    r = get(server.port, "/index.php/users/7?x=1")
    assert r.status == 200, f"{r}\n{server.log_text()[-2000:]}"
    kv = parse_kv(r.body)
    assert kv["script_name"] == "/index.php", r.text
    assert kv["path_info"] == "/users/7", r.text
    assert kv["script_filename"] == str(docroot / "index.php"), r.text
    assert kv["query_string"] == "x=1", r.text
    assert kv["request_uri"] == "/index.php/users/7?x=1", r.text
    assert kv["php_self"] == "/index.php/users/7", r.text

    # In a subdirectory, and the plain script without PATH_INFO.
    kv = parse_kv(get(server.port, "/blog/front.php/2026/12/post").body)
    assert (kv["script_name"], kv["path_info"]) == ("/blog/front.php", "/2026/12/post"), kv
    kv = parse_kv(get(server.port, "/index.php").body)
    assert (kv["script_name"], kv["path_info"]) == ("/index.php", ""), kv
    # Not an extension route: the suffix must end a path segment.
    assert get(server.port, "/index.phpx/users").status == 404


def test_check_local_refuses_a_missing_script_before_path_info(switchyard, fpm, docroot):
    server = switchyard(f"""
server.document-root = {q(docroot)}
server.modules += ("mod_fastcgi")
fastcgi.server = (".php" => (( "socket" => {q(fpm)} )))
""")
    assert get(server.port, "/missing.php/users/7").status == 404
    assert get(server.port, "/index.php/users/7").status == 200


def test_scgi_extension_route_path_info(switchyard, procs, tmp_path):
    """The project's SCGI app (the PyPI `scgi` server) behind an extension route, check-local disabled."""
    sock = tmp_path / "scgi-app.sock"
    app = procs.start([sys.executable, SCGI_APP, sock], "scgi-app")
    wait_listening(sock, app, procs)
    server = switchyard(f"""
server.document-root = {q(tmp_path)}
server.modules += ("mod_scgi")
scgi.server = (".py" => (( "socket" => {q(sock)}, "check-local" => "disable" )))
""")
    r = get(server.port, "/app.py/users/7?x=1")
    assert r.status == 200, f"{r}\n{server.log_text()[-2000:]}"
    kv = parse_kv(r.body)
    assert (kv["script_name"], kv["path_info"], kv["query"]) == ("/app.py", "/users/7", "x=1"), r.text


def test_uwsgi_extension_route_path_info(switchyard, procs, tmp_path):
    """Debian's uWSGI over the uwsgi protocol behind an extension route, check-local disabled."""
    sock, _ = start_uwsgi(procs, tmp_path)
    server = switchyard(f"""
server.document-root = {q(tmp_path)}
server.modules += ("mod_scgi")
scgi.protocol = "uwsgi"
scgi.server = (".wsgi" => (( "socket" => {q(sock)}, "check-local" => "disable" )))
""")
    r = get(server.port, "/site.wsgi/a/b")
    assert r.status == 200, f"{r}\n{server.log_text()[-2000:]}"
    kv = parse_kv(r.body)
    assert (kv["script_name"], kv["path_info"]) == ("/site.wsgi", "/a/b"), r.text

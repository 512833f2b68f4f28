"""mod_auth + mod_authn_file: Basic authentication against an htpasswd file written by the real
`htpasswd` (Debian apache2-utils) in every format it can write, with lighttpd's keys, inside
conditionals; REMOTE_USER and AUTH_TYPE reach a real CGI."""
import base64
import shutil
import subprocess
import time

import pytest

from e2e_util import CGI_BIN, HTTPConnection, get, q, require, switchyard_bin

HTPASSWD = shutil.which("htpasswd") or "/usr/bin/htpasswd"

# htpasswd flag -> the hash prefix it writes
FORMATS = {"-B": "$2y$", "-m": "$apr1$", "-s": "{SHA}", "-2": "$5$", "-5": "$6$", "-d": ""}


def need_htpasswd():
    require(shutil.which("htpasswd") is not None, "htpasswd not installed (Debian apache2-utils; make deps)")


def add_user(path, user, password, flag, create=False):
    args = [HTPASSWD, "-b"] + (["-c"] if create else []) + ([flag, "-C", "5"] if flag == "-B" else [flag])
    subprocess.run(args + [str(path), user, password], check=True, capture_output=True, timeout=30)


def basic(user, password):
    return ("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())


def env_of(r):
    return dict(line.split("=", 1) for line in r.body.decode().splitlines() if "=" in line and not line.startswith("#"))


@pytest.fixture
def users(tmp_path):
    need_htpasswd()
    path = tmp_path / "htpasswd"
    for i, (flag, prefix) in enumerate(FORMATS.items()):
        add_user(path, f"user{i}", f"pw{i}!x", flag, create=(i == 0))
    lines = path.read_text().splitlines()
    for line, (flag, prefix) in zip(lines, FORMATS.items()):
        assert line.split(":", 1)[1].startswith(prefix), (flag, line)
    return path


def test_every_htpasswd_format_and_the_challenge(switchyard, tmp_path, users):
    (tmp_path / "admin").mkdir()
    (tmp_path / "admin" / "page.txt").write_text("secret page\n")
    (tmp_path / "open.txt").write_text("open\n")
    server = switchyard(f"""
server.document-root = {q(tmp_path)}
server.modules += ("mod_auth", "mod_authn_file")
auth.backend = "htpasswd"
auth.backend.htpasswd.userfile = {q(users)}
auth.require = ( "/admin/" => ( "method" => "basic", "realm" => "Admin area", "require" => "valid-user" ) )
""")
    assert get(server.port, "/open.txt").status == 200
    r = get(server.port, "/admin/page.txt")
    assert r.status == 401 and r.header("WWW-Authenticate") == 'Basic realm="Admin area", charset="UTF-8"', r
    for i, flag in enumerate(FORMATS):
        r = get(server.port, "/admin/page.txt", headers=[basic(f"user{i}", f"pw{i}!x")])
        assert r.status == 200 and r.body == b"secret page\n", (flag, r)
        r = get(server.port, "/admin/page.txt", headers=[basic(f"user{i}", f"pw{i}!y")])
        assert r.status == 401, (flag, "wrong password accepted", r)
    assert get(server.port, "/admin/page.txt", headers=[basic("nobody", "x")]).status == 401
    assert get(server.port, "/admin/page.txt", headers=[("Authorization", "Basic %%%")]).status == 401
    assert get(server.port, "/admin/page.txt", headers=[("Authorization", "Bearer abc")]).status == 401
    # A 401 keeps the connection (browsers retry with credentials on it).
    with HTTPConnection(server.port) as c:
        c.request("GET", "/admin/page.txt")
        assert c.read_response().status == 401
        c.request("GET", "/admin/page.txt", headers=[basic("user0", "pw0!x")])
        assert c.read_response().status == 200


def test_require_users_in_a_conditional_and_remote_user_for_cgi(switchyard, tmp_path, users):
    (tmp_path / "cgi-bin").symlink_to(CGI_BIN)
    server = switchyard(f"""
server.document-root = {q(tmp_path)}
server.modules += ("mod_auth", "mod_cgi")
cgi.script-directories = ({q(CGI_BIN)})
auth.backend = "htpasswd"
auth.backend.htpasswd.userfile = {q(users)}
$HTTP["url"] =^ "/cgi-bin/" {{
    cgi.assign = (".py" => "/usr/bin/python3")
    auth.require = ( "" => ( "method" => "basic", "realm" => "cgi", "require" => "user=user1|user=user2" ) )
}}
""")
    assert get(server.port, "/cgi-bin/env.py", headers=[basic("user0", "pw0!x")]).status == 401, "user0 is not listed"
    r = get(server.port, "/cgi-bin/env.py", headers=[basic("user2", "pw2!x")])
    assert r.status == 200, r
    env = env_of(r)
    assert env["REMOTE_USER"] == "user2" and env["AUTH_TYPE"] == "Basic", env


def test_password_file_changes_apply_without_restart(switchyard, tmp_path, users):
    (tmp_path / "x.txt").write_text("x")
    server = switchyard(f"""
server.document-root = {q(tmp_path)}
server.modules += ("mod_auth")
auth.backend = "htpasswd"
auth.backend.htpasswd.userfile = {q(users)}
auth.require = ( "" => ( "method" => "basic", "realm" => "r", "require" => "valid-user" ) )
""")
    assert get(server.port, "/x.txt", headers=[basic("user1", "pw1!x")]).status == 200
    time.sleep(0.01)
    add_user(users, "user1", "changed", "-B")          # a remembered login must not survive this
    assert get(server.port, "/x.txt", headers=[basic("user1", "pw1!x")]).status == 401
    assert get(server.port, "/x.txt", headers=[basic("user1", "changed")]).status == 200


def test_auth_config_errors_name_file_and_line(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text(f'server.document-root = {q(tmp_path)}\nserver.modules += ("mod_auth")\n'
                    'auth.backend = "htpasswd"\nauth.backend.htpasswd.userfile = "/etc/htpasswd"\n'
                    'auth.require = ( "/a/" => ( "method" => "digest", "realm" => "r", "require" => "valid-user" ) )\n')
    p = subprocess.run([str(switchyard_bin()), "-t", "-f", str(conf)], capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and f"{conf}:5" in p.stderr + p.stdout and "digest" in p.stderr + p.stdout, p.stderr

"""lighttpd's URL modules with their keys and semantics, inside conditionals: mod_redirect
(`url.redirect`, `url.redirect-code`), mod_rewrite (`url.rewrite-once`, `url.rewrite-repeat`,
`url.rewrite-if-not-file`) and mod_access (`url.access-deny`, `url.access-allow`).

The PHP front-controller recipe from lighttpd's docs runs against Debian's php-fpm; rewritten
requests reach a real CGI (cgi-bin/env.py) with the client's REQUEST_URI and the new QUERY_STRING.
"""
import subprocess

from e2e_util import CGI_BIN, get, q, switchyard_bin
from test_gateways import parse_kv, procs  # noqa: F401 (procs is a fixture)
from test_path_info import PHP_SCRIPT, fpm  # noqa: F401 (fpm is a fixture)


def env_of(r):
    return dict(line.split("=", 1) for line in r.body.decode().splitlines() if "=" in line and not line.startswith("#"))


def test_redirect_with_captures_and_code_in_a_conditional(switchyard, tmp_path):
    server = switchyard(f"""
server.document-root = {q(tmp_path)}
server.modules += ("mod_redirect")
url.redirect = ( "^/old/(.*)$" => "/new/$1", "^/docs$" => "https://example.org/docs" )
$HTTP["host"] == "temp.example" {{
    url.redirect = ( "^/(.*)$" => "http://elsewhere.example/$1" )
    url.redirect-code = 302
}}
""")
    r = get(server.port, "/old/a/b?x=1")
    assert r.status == 301 and r.header("Location") == "/new/a/b?x=1", r
    r = get(server.port, "/docs")
    assert r.status == 301 and r.header("Location") == "https://example.org/docs", r
    r = get(server.port, "/page", headers=[("Host", "temp.example")])
    assert r.status == 302 and r.header("Location") == "http://elsewhere.example/page", r
    assert get(server.port, "/other").status == 404


def test_rewrite_once_to_a_cgi_keeps_request_uri(switchyard, tmp_path):
    (tmp_path / "cgi-bin").symlink_to(CGI_BIN)
    server = switchyard(f"""
server.document-root = {q(tmp_path)}
server.modules += ("mod_rewrite", "mod_cgi")
cgi.script-directories = ({q(CGI_BIN)})
url.rewrite-once = ( "^/people/([a-z]+)(\\?(.*))?$" => "/cgi-bin/env.py?name=$1&$3" )
$HTTP["url"] =^ "/cgi-bin/" {{
    cgi.assign = (".py" => "/usr/bin/python3")
}}
""")
    r = get(server.port, "/people/ada?lang=en")
    assert r.status == 200, f"{r}\n{server.log_text()[-1500:]}"
    env = env_of(r)
    assert env["QUERY_STRING"] == "name=ada&lang=en", env
    assert env["SCRIPT_NAME"] == "/cgi-bin/env.py", env
    assert env["REQUEST_URI"] == "/people/ada?lang=en", env
    assert get(server.port, "/people/ADA").status == 404      # no rule matched: a static 404


def test_percent_captures_of_the_enclosing_conditional(switchyard, tmp_path):
    """lighttpd's %1..%9: the groups of the `$HTTP[...] =~` block the rule is written in (here the
    host's name without www. for a redirect, the tenant part for a rewrite to a CGI)."""
    (tmp_path / "cgi-bin").symlink_to(CGI_BIN)
    server = switchyard(f"""
server.document-root = {q(tmp_path)}
server.modules += ("mod_redirect", "mod_rewrite", "mod_cgi")
cgi.script-directories = ({q(CGI_BIN)})
$HTTP["host"] =~ "^www\\.(.*)$" {{
    url.redirect = ( "^/(.*)$" => "https://%1/$1" )
}}
$HTTP["host"] =~ "^([a-z]+)\\.tenants\\.test$" {{
    $HTTP["url"] =^ "/app/" {{
        url.rewrite-once = ( "^/app/(.*)$" => "/cgi-bin/env.py?tenant=%1&page=$1&literal=\\%1" )
    }}
}}
$HTTP["url"] =^ "/cgi-bin/" {{
    cgi.assign = (".py" => "/usr/bin/python3")
}}
""")
    r = get(server.port, "/a/b?c=1", headers=[("Host", "www.example.org")])
    assert r.status == 301 and r.header("Location") == "https://example.org/a/b?c=1", r
    r = get(server.port, "/app/home", headers=[("Host", "acme.tenants.test")])
    assert r.status == 200, f"{r}\n{server.log_text()[-1500:]}"
    assert env_of(r)["QUERY_STRING"] == "tenant=acme&page=home&literal=%1", env_of(r)


def test_php_front_controller_rewrite_if_not_file(switchyard, fpm, tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "index.php").write_text(PHP_SCRIPT)
    (root / "style.css").write_text("body {}\n")
    server = switchyard(f"""
server.document-root = {q(root)}
server.modules += ("mod_rewrite", "mod_fastcgi")
fastcgi.server = (".php" => (( "socket" => {q(fpm)} )))
url.rewrite-if-not-file = ( "^/(.*)$" => "/index.php/$1" )
""")
    r = get(server.port, "/users/7?x=1")
    assert r.status == 200, f"{r}\n{server.log_text()[-1500:]}"
    kv = parse_kv(r.body)
    assert (kv["script_name"], kv["path_info"], kv["request_uri"]) == ("/index.php", "/users/7", "/users/7?x=1"), kv
    r = get(server.port, "/style.css")
    assert r.status == 200 and r.body == b"body {}\n", "an existing file must not be rewritten"


def test_rewrite_loop_is_bounded(switchyard, tmp_path):
    server = switchyard(f"""
server.document-root = {q(tmp_path)}
server.modules += ("mod_rewrite")
url.rewrite-repeat = ( "^/a(.*)$" => "/a$1" )
""")
    assert get(server.port, "/a/b").status == 500
    assert get(server.port, "/b").status == 404


def test_access_deny_and_allow(switchyard, tmp_path):
    for name in ("x.inc", "notes~", "ok.html", "a.txt"):
        (tmp_path / name).write_text(name)
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "a.html").write_text("a")
    (tmp_path / "only" / "a.txt").write_text("a")
    server = switchyard(f"""
server.document-root = {q(tmp_path)}
server.modules += ("mod_access")
url.access-deny = ( "~", ".inc" )
$HTTP["url"] =^ "/only/" {{
    url.access-allow = ( ".html" )
}}
""")
    assert get(server.port, "/x.inc").status == 403
    assert get(server.port, "/notes~").status == 403
    assert get(server.port, "/ok.html").status == 200
    assert get(server.port, "/a.txt").status == 200
    assert get(server.port, "/only/a.html").status == 200
    assert get(server.port, "/only/a.txt").status == 403


def test_bad_regex_is_a_config_error_with_file_and_line(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text(f'server.document-root = {q(tmp_path)}\nserver.modules += ("mod_rewrite")\n'
                    'url.rewrite-once = ( "^/(unclosed" => "/x" )\n')
    p = subprocess.run([str(switchyard_bin()), "-t", "-f", str(conf)], capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert f"{conf}:3" in p.stderr + p.stdout and "bad regex" in p.stderr + p.stdout, p.stderr + p.stdout


def test_setenv_request_headers_environment_and_response_headers(switchyard, tmp_path):
    (tmp_path / "cgi-bin").symlink_to(CGI_BIN)
    (tmp_path / "page.html").write_text("<p>hi</p>")
    server = switchyard(f"""
server.document-root = {q(tmp_path)}
server.modules += ("mod_setenv", "mod_cgi")
cgi.script-directories = ({q(CGI_BIN)})
setenv.add-environment = ( "APP_MODE" => "demo", "APP_TIER" => "one" )
setenv.set-environment = ( "APP_TIER" => "two" )
setenv.add-request-header = ( "X-Via-Gateway" => "switchyard" )
setenv.set-request-header = ( "User-Agent" => "" )
setenv.add-response-header = ( "X-Frame-Options" => "DENY" )
$HTTP["url"] =^ "/cgi-bin/" {{
    cgi.assign = (".py" => "/usr/bin/python3")
    setenv.add-response-header = ( "X-Scope" => "cgi" )
}}
""")
    r = get(server.port, "/cgi-bin/env.py", headers=[("User-Agent", "curl/8")])
    assert r.status == 200, f"{r}\n{server.log_text()[-1500:]}"
    env = env_of(r)
    assert env.get("APP_MODE") == "demo" and env.get("APP_TIER") == "two", env
    assert env.get("HTTP_X_VIA_GATEWAY") == "switchyard", env
    assert "HTTP_USER_AGENT" not in env, "set-request-header with an empty value removes the header"
    assert r.header("X-Scope") == "cgi" and r.header("X-Frame-Options") is None, r.headers
    r = get(server.port, "/page.html")
    assert r.status == 200 and r.header("X-Frame-Options") == "DENY", r.headers
    r = get(server.port, "/missing")
    assert r.status == 404 and r.header("X-Frame-Options") == "DENY", "error answers carry them too"


def test_setenv_refuses_header_injection(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text(f'server.document-root = {q(tmp_path)}\nserver.modules += ("mod_setenv")\n'
                    'setenv.add-response-header = ( "X-A" => "1\\r\\nSet-Cookie: x=1" )\n')
    p = subprocess.run([str(switchyard_bin()), "-t", "-f", str(conf)], capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and f"{conf}:3" in p.stderr + p.stdout, p.stderr + p.stdout


def test_alias_setenv_and_cgi_assign_recipe(switchyard, tmp_path):
    """lighttpd's docs recipe: a CGI directory outside the document root through alias.url, with
    cgi.assign and setenv, plus a static alias and the prefix rule at a segment boundary."""
    import shutil
    docroot, outside, images = tmp_path / "www", tmp_path / "cgi", tmp_path / "images"
    for d in (docroot, outside, images):
        d.mkdir()
    shutil.copy(CGI_BIN / "env.py", outside / "env.py")
    (outside / "env.py").chmod(0o755)
    (images / "a.txt").write_text("from the alias\n")
    (tmp_path / "secret.txt").write_text("must not be served\n")
    server = switchyard(f"""
server.document-root = {q(docroot)}
server.modules += ("mod_alias", "mod_setenv", "mod_cgi")
alias.url = ( "/cgi-bin/" => "{outside}/", "/img" => "{images}" )
$HTTP["url"] =^ "/cgi-bin/" {{
    cgi.assign = ( ".py" => "/usr/bin/python3" )
    setenv.add-environment = ( "FROM_RECIPE" => "yes" )
}}
""")
    r = get(server.port, "/cgi-bin/env.py/extra/info?q=1")
    assert r.status == 200, f"{r}\n{server.log_text()[-1500:]}"
    env = env_of(r)
    assert env["SCRIPT_NAME"] == "/cgi-bin/env.py" and env["PATH_INFO"] == "/extra/info", env
    assert env["SCRIPT_FILENAME"] == str(outside / "env.py") and env["DOCUMENT_ROOT"] == str(outside), env
    assert env["FROM_RECIPE"] == "yes", env
    r = get(server.port, "/img/a.txt")
    assert r.status == 200 and r.body == b"from the alias\n", r
    # "/img" matches only at a segment boundary: "/img../secret.txt" is not "/img" + "../secret.txt".
    assert get(server.port, "/img../secret.txt").status == 404
    assert get(server.port, "/imgx/a.txt").status == 404


def extforward_server(switchyard, tmp_path, forwarders):
    (tmp_path / "cgi-bin").symlink_to(CGI_BIN)
    trust = ", ".join(f'"{f}" => "trust"' for f in forwarders)
    return switchyard(f"""
server.document-root = {q(tmp_path)}
server.modules += ("mod_extforward", "mod_setenv", "mod_cgi")
cgi.script-directories = ({q(CGI_BIN)})
extforward.forwarder = ( {trust} )
$HTTP["url"] =^ "/cgi-bin/" {{
    cgi.assign = (".py" => "/usr/bin/python3")
}}
$HTTP["remoteip"] == "203.0.113.0/24" {{
    setenv.add-environment = ( "CLIENT_NET" => "documentation" )
}}
""")


def test_extforward_takes_the_client_from_trusted_proxies(switchyard, tmp_path):
    server = extforward_server(switchyard, tmp_path, ["127.0.0.1", "10.0.0.0/8"])
    xff = [("X-Forwarded-For", "203.0.113.7, 10.0.0.2")]
    env = env_of(get(server.port, "/cgi-bin/env.py", headers=xff))
    assert env["REMOTE_ADDR"] == "203.0.113.7", env
    assert env.get("CLIENT_NET") == "documentation", "conditionals see the forwarded address"
    env = env_of(get(server.port, "/cgi-bin/env.py", headers=[("X-Forwarded-For", "not-an-address")]))
    assert env["REMOTE_ADDR"] == "127.0.0.1", env
    env = env_of(get(server.port, "/cgi-bin/env.py"))
    assert env["REMOTE_ADDR"] == "127.0.0.1" and "CLIENT_NET" not in env, env


def test_extforward_stops_at_the_first_untrusted_hop(switchyard, tmp_path):
    server = extforward_server(switchyard, tmp_path, ["127.0.0.1"])
    env = env_of(get(server.port, "/cgi-bin/env.py", headers=[("X-Forwarded-For", "203.0.113.7, 10.0.0.2")]))
    assert env["REMOTE_ADDR"] == "10.0.0.2", "10.0.0.2 is not trusted: it is the client as far as we can tell"


def test_extforward_ignores_untrusted_peers(switchyard, tmp_path):
    server = extforward_server(switchyard, tmp_path, ["192.0.2.1"])
    env = env_of(get(server.port, "/cgi-bin/env.py", headers=[("X-Forwarded-For", "203.0.113.7")]))
    assert env["REMOTE_ADDR"] == "127.0.0.1" and "CLIENT_NET" not in env, "a spoofed header from an untrusted peer"


def test_expire_url_and_mimetypes_on_static_files(switchyard, tmp_path):
    """mod_expire: expire.url (first matching prefix) before expire.mimetypes (type prefix), from
    the access time or the file's modification; 200, 206 and 304 carry Expires and max-age; a CGI's
    response keeps its own caching; a bad rule is a config error with file and line."""
    import email.utils
    import os
    import time
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(b"\x89PNG" + b"x" * 100)
    (tmp_path / "site.css").write_text("body {}\n")
    (tmp_path / "page.html").write_text("<p>no rule</p>\n")
    mtime = int(time.time()) - 86400
    os.utime(tmp_path / "site.css", (mtime, mtime))
    (tmp_path / "cgi-bin").symlink_to(CGI_BIN)
    server = switchyard(f"""
server.document-root = {q(tmp_path)}
server.modules += ("mod_expire", "mod_cgi")
cgi.script-directories = ({q(CGI_BIN)})
mimetype.assign = (".png" => "image/png", ".css" => "text/css", ".html" => "text/html", ".py" => "text/plain")
expire.url = ( "/img/" => "access plus 1 hours 30 minutes" )
expire.mimetypes = ( "text/css" => "modification plus 2 days", "image/" => "access plus 1 years" )
$HTTP["url"] =~ "^/cgi-bin/" {{
    cgi.assign = ( ".py" => "/usr/bin/python3" )
}}
""")

    def expires_of(r):
        return int(email.utils.parsedate_to_datetime(r.header("Expires")).timestamp())

    t0 = int(time.time())
    r = get(server.port, "/img/a.png")
    assert r.status == 200 and r.header("Cache-Control") == "max-age=5400", r
    assert t0 + 5400 - 2 <= expires_of(r) <= int(time.time()) + 5400 + 1, r
    r = get(server.port, "/site.css")
    assert r.status == 200 and expires_of(r) == mtime + 2 * 86400, r
    age = int(r.header("Cache-Control").removeprefix("max-age="))
    assert 86400 - 5 <= age <= 86400 + 1, r
    # A range and a revalidation carry them too.
    r = get(server.port, "/img/a.png", headers=[("Range", "bytes=0-3")])
    assert r.status == 206 and r.body == b"\x89PNG" and r.header("Cache-Control") == "max-age=5400", r
    r = get(server.port, "/site.css", headers=[("If-Modified-Since", email.utils.formatdate(mtime, usegmt=True))])
    assert r.status == 304 and expires_of(r) == mtime + 2 * 86400, r
    r = get(server.port, "/page.html")
    assert r.status == 200 and r.header("Expires") is None and r.header("Cache-Control") is None, r
    r = get(server.port, "/cgi-bin/env.py")
    assert r.status == 200 and r.header("Expires") is None, r

    conf = tmp_path / "bad.conf"
    conf.write_text(f'server.document-root = {q(tmp_path)}\nserver.modules += ("mod_expire")\n'
                    'expire.url = ( "/a/" => "access plus 3 fortnights" )\n')
    p = subprocess.run([str(switchyard_bin()), "-t", "-f", str(conf)], capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and "bad.conf:3" in p.stderr and "unit" in p.stderr, p.stderr

"""server.follow-symlink and CGI containment.

Default (lighttpd's): symlinks are followed for static files. With "disable", a static file or CGI
script reached through a symlink anywhere below the document root answers 403 (lighttpd checks each
component with lstat). Independent of that key, a CGI script whose real path lies outside the
document root and cgi.script-directories answers 403 with an error log line: a symlink dropped into
the document root must not make an arbitrary program runnable."""
import os
import shutil

import pytest

from e2e_util import CGI_BIN, get, q

pytestmark = [pytest.mark.switchyard_only, pytest.mark.needs_cgi]


@pytest.fixture
def site(tmp_path):
    doc = tmp_path / "doc"
    (doc / "sub").mkdir(parents=True)
    (doc / "cgi").mkdir()
    (doc / "idx").mkdir()
    (doc / "real.txt").write_text("real file\n")
    (doc / "sub" / "f.txt").write_text("in sub\n")
    (doc / "link.txt").symlink_to("real.txt")
    (doc / "linkdir").symlink_to("sub")
    (doc / "idx" / "index.html").symlink_to("../real.txt")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("outside the root\n")
    (doc / "out.txt").symlink_to(outside / "secret.txt")
    shutil.copy2(CGI_BIN / "env.py", doc / "cgi" / "env.py")
    os.chmod(doc / "cgi" / "env.py", 0o755)
    (doc / "cgi" / "alias.py").symlink_to("env.py")
    shutil.copy2(CGI_BIN / "env.py", outside / "env.py")
    os.chmod(outside / "env.py", 0o755)
    (doc / "cgi" / "outside.py").symlink_to(outside / "env.py")
    (doc / "cgi" / "sh").symlink_to("/bin/sh")
    return doc, outside


def config(doc, extra=""):
    return f"""
server.document-root = {q(doc)}
server.modules += ("mod_cgi")
$HTTP["url"] =^ "/cgi/" {{
    cgi.assign = ("" => "")
}}
{extra}
"""


def test_default_follows_symlinks(switchyard, site):
    doc, _ = site
    server = switchyard(config(doc))
    for path, body in [("/real.txt", b"real file\n"), ("/link.txt", b"real file\n"), ("/linkdir/f.txt", b"in sub\n"),
                       ("/idx/", b"real file\n"), ("/out.txt", b"outside the root\n")]:
        r = get(server.port, path)
        assert r.status == 200 and r.body == body, (path, r)
    r = get(server.port, "/cgi/alias.py")        # a symlink inside the root to a script inside the root
    assert r.status == 200 and b"GATEWAY_INTERFACE=CGI/1.1" in r.body, r


def test_disabled_refuses_every_symlinked_component(switchyard, site):
    doc, _ = site
    server = switchyard(config(doc, 'server.follow-symlink = "disable"'))
    r = get(server.port, "/real.txt")
    assert r.status == 200 and r.body == b"real file\n", r
    for path in ["/link.txt", "/linkdir/f.txt", "/linkdir/", "/out.txt", "/idx/"]:
        for _ in range(2):                        # the second time the real file is in the static cache
            r = get(server.port, path)
            assert r.status == 403, (path, r)
    assert get(server.port, "/sub/f.txt").status == 200
    assert get(server.port, "/cgi/env.py").status == 200
    r = get(server.port, "/cgi/alias.py")
    assert r.status == 403, r
    assert server.wait_for_log("follow-symlink"), server.log_text()


def test_disabled_only_in_a_conditional(switchyard, site):
    doc, _ = site
    server = switchyard(config(doc, '$HTTP["url"] =^ "/linkdir/" {\n  server.follow-symlink = "disable"\n}'))
    assert get(server.port, "/link.txt").status == 200
    assert get(server.port, "/linkdir/f.txt").status == 403


def test_cgi_outside_the_root_is_refused(switchyard, site):
    doc, outside = site
    server = switchyard(config(doc))
    r = get(server.port, "/cgi/outside.py")
    assert r.status == 403, r
    assert server.wait_for_log("outside the document root"), server.log_text()
    r = get(server.port, "/cgi/sh")
    assert r.status == 403, r
    # the static symlink to the same place is still followed (lighttpd's default)
    assert get(server.port, "/out.txt").status == 200


def test_cgi_script_directories_allow_a_linked_directory(switchyard, site):
    doc, outside = site
    server = switchyard(config(doc, f'cgi.script-directories = ({q(outside)})'))
    r = get(server.port, "/cgi/outside.py")
    assert r.status == 200 and f"SCRIPT_FILENAME={doc}/cgi/outside.py".encode() in r.body, r
    assert get(server.port, "/cgi/sh").status == 403

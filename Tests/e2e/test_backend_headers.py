"""Request headers on their way to CGI / SCGI backends.

* Only names of letters, digits and '-' become HTTP_* variables: X_Foo and X.Foo are dropped (Apache
  httpd's rule), so a front proxy that strips X-Foo cannot be bypassed with another spelling.
* Value bytes from 0x80 up reach the backend exactly (not replaced by U+FFFD).
* Headers that would make a CGI environment the kernel refuses (E2BIG) answer 431, not 500."""
import os
import shutil
import socket
import threading

import pytest

from e2e_util import CGI_BIN, get, q, raw, switchyard_bin

pytestmark = [pytest.mark.switchyard_only, pytest.mark.needs_cgi]

RAW_VALUE = b"caf\xe9 \xff\x80 \xc3(\xf4\x8f\xbe\x80 ok"      # Latin-1, stray bytes, a bad pair, U+10FF80
UTF8_VALUE = "h\u00e9llo \u2603".encode()


@pytest.fixture
def cgi_site(tmp_path):
    doc = tmp_path / "doc"
    (doc / "cgi").mkdir(parents=True)
    shutil.copy2(CGI_BIN / "env.py", doc / "cgi" / "env.py")
    os.chmod(doc / "cgi" / "env.py", 0o755)
    (doc / "f.txt").write_text("static\n")
    return doc


def cgi_config(doc, extra=""):
    return f"""
server.document-root = {q(doc)}
server.modules += ("mod_cgi")
cgi.assign = (".py" => "")
{extra}
"""


def request_bytes(port, path, fields):
    head = b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    for name, value in fields:
        head += name + b": " + value + b"\r\n"
    return raw(port, head + b"\r\n")


def env_lines(body):
    return {line.split(b"=", 1)[0]: line.split(b"=", 1)[1] for line in body.split(b"\n") if b"=" in line}


def test_cgi_header_names_and_bytes(switchyard, cgi_site):
    server = switchyard(cgi_config(cgi_site))
    r = request_bytes(server.port, "/cgi/env.py", [
        (b"X-Raw", RAW_VALUE), (b"X-Utf8", UTF8_VALUE), (b"X_Foo", b"underscore"), (b"X.Foo", b"dot"),
        (b"X-Foo", b"dash"), (b"X_Forwarded_For", b"6.6.6.6"), (b"My.Header", b"m")])
    assert r.status == 200, r
    env = env_lines(r.body)
    assert env[b"HTTP_X_RAW"] == RAW_VALUE, env.get(b"HTTP_X_RAW")
    assert env[b"HTTP_X_UTF8"] == UTF8_VALUE
    assert env[b"HTTP_X_FOO"] == b"dash"
    assert b"HTTP_X_FORWARDED_FOR" not in env and b"HTTP_MY_HEADER" not in env, env


def test_static_files_unaffected_by_high_bytes(switchyard, cgi_site):
    server = switchyard(cgi_config(cgi_site))
    r = request_bytes(server.port, "/f.txt", [(b"X-Raw", RAW_VALUE), (b"If-None-Match", b"\"\xff\"")])
    assert r.status == 200 and r.body == b"static\n", r


class SCGIPeer:
    """A minimal SCGI application: answers with the netstring's variables, values as raw bytes."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(str(path))
        self.sock.listen(8)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b":" not in data:
                    data += conn.recv(65536)
                length, rest = data.split(b":", 1)
                need = int(length) + 1
                while len(rest) < need:
                    rest += conn.recv(65536)
                parts = rest[:need - 1].split(b"\0")
                body = b"".join(parts[i] + b"=" + parts[i + 1] + b"\n" for i in range(0, len(parts) - 1, 2))
                conn.sendall(b"Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

    def close(self):
        self.sock.close()


def test_scgi_header_names_and_bytes(switchyard, tmp_path):
    peer = SCGIPeer(tmp_path / "app.sock")
    try:
        server = switchyard(f"""
server.document-root = {q(tmp_path)}
server.modules += ("mod_scgi")
scgi.server = ("/app/" => (( "socket" => {q(tmp_path / "app.sock")}, "check-local" => "disable" )))
""")
        r = request_bytes(server.port, "/app/x", [(b"X-Raw", RAW_VALUE), (b"X_Foo", b"u"), (b"X.Foo", b"d"),
                                                   (b"X-Foo", b"dash")])
        assert r.status == 200, r
        env = env_lines(r.body)
        assert env[b"HTTP_X_RAW"] == RAW_VALUE, env.get(b"HTTP_X_RAW")
        assert env[b"HTTP_X_FOO"] == b"dash", env
    finally:
        peer.close()


@pytest.mark.parametrize("shape", ["one-name-several-fields", "several-names"])
def test_huge_cgi_environment_is_431(switchyard, cgi_site, shape):
    server = switchyard(cgi_config(cgi_site, "server.max-request-field-size = 1048576"))
    chunk = b"v" * 50_000
    if shape == "one-name-several-fields":
        fields = [(b"X-Big", chunk)] * 4
    else:
        fields = [(b"X-Big-%d" % i, chunk) for i in range(4)]
    r = request_bytes(server.port, "/cgi/env.py", fields)
    assert r.status == 431, r
    assert server.wait_for_log("431"), server.log_text()
    # the same headers on a static file are fine (within server.max-request-field-size)
    assert request_bytes(server.port, "/f.txt", fields).status == 200
    assert get(server.port, "/cgi/env.py").status == 200


@pytest.mark.parametrize("module,key,bridge", [("mod_fastcgi", "fastcgi.server", "fcgi-cgi"),
                                               ("mod_scgi", "scgi.server", "scgi-cgi")])
def test_bytes_and_names_through_our_bridges(switchyard, cgi_site, tmp_path, module, key, bridge):
    """HTTP -> gateway -> FastCGI/SCGI -> our fcgi-cgi / scgi-cgi -> CGI environment, byte-exact."""
    program = switchyard_bin().parent / bridge
    if not program.exists():
        pytest.fail(f"{program} missing: run `swift build`")
    server = switchyard(f"""
server.document-root = {q(cgi_site)}
server.modules += ("{module}")
{key} = ("/cgi/" => (( "socket" => {q(tmp_path / (bridge + ".sock"))}, "bin-path" => {q(program)},
                       "check-local" => "disable" )))
""")
    r = request_bytes(server.port, "/cgi/env.py", [(b"X-Raw", RAW_VALUE), (b"X_Foo", b"u"), (b"X-Foo", b"dash")])
    assert r.status == 200, r
    env = env_lines(r.body)
    assert env[b"HTTP_X_RAW"] == RAW_VALUE, env.get(b"HTTP_X_RAW")
    assert env[b"HTTP_X_FOO"] == b"dash", env

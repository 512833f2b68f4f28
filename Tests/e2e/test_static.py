"""Static files: headers, conditional requests, ranges, index files, errors, path traversal."""
import email.utils
import os
import re
import time

import pytest

from e2e_util import HTTPConnection, Switchyard, get, q, raw, request

SECRET = b"TOP-SECRET-e2e-7f3a9c41"
HELLO = b"Hello, Switchyard!\n"
DATA = bytes((i * 37 + 11) % 256 for i in range(100))
TAG = "switchyard-e2e-static"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("static")
    doc = root / "docroot"
    (doc / "dir").mkdir(parents=True)
    (doc / "noindex").mkdir()
    (root / "docroot-private").mkdir()
    (root / "secret.txt").write_bytes(SECRET + b"\n")
    (root / "docroot-private" / "secret.txt").write_bytes(SECRET + b"\n")
    (doc / "hello.txt").write_bytes(HELLO)
    (doc / "data.bin").write_bytes(DATA)
    (doc / "style.css").write_bytes(b"body { color: #333; }\n")
    (doc / "file.weird").write_bytes(b"weird\n")
    (doc / "noext").write_bytes(b"no extension\n")
    (doc / "dir" / "index.html").write_bytes(b"<p>dir index</p>\n")
    (doc / "noindex" / "file.txt").write_bytes(b"file in a directory without an index\n")
    old = time.time() - 86400 * 3
    os.utime(doc / "hello.txt", (old, old))
    conf = f"""
server.document-root = {q(doc)}
server.tag = {q(TAG)}
index-file.names = ("index.html")
mimetype.assign = (
    ".txt" => "text/plain; charset=utf-8",
    ".html" => "text/html",
    ".css" => "text/css",
    ".bin" => "application/octet-stream",
    ".weird" => "application/x-weird-e2e",
)
"""
    s = Switchyard(conf, root)
    s.doc = doc
    yield s
    s.kill()


def http_date(value):
    return email.utils.parsedate_to_datetime(value).timestamp()


def test_get_file(site):
    r = get(site.port, "/hello.txt")
    assert r.status == 200, r
    assert r.body == HELLO
    assert r.header("Content-Type") == "text/plain; charset=utf-8"
    assert r.header("Content-Length") == str(len(HELLO))
    etag = r.header("ETag")
    assert etag and re.fullmatch(r'(W/)?"[^"]*"', etag), r
    mtime = os.stat(site.doc / "hello.txt").st_mtime
    assert abs(http_date(r.header("Last-Modified")) - mtime) < 1.5, r
    assert abs(http_date(r.header("Date")) - time.time()) < 60, r
    assert r.header("Server") == TAG


def test_head(site):
    with HTTPConnection(site.port) as c:
        c.request("HEAD", "/hello.txt", close=True)
        r = c.read_response("HEAD")
        assert r.status == 200
        assert r.header("Content-Length") == str(len(HELLO))
        assert r.header("Content-Type") == "text/plain; charset=utf-8"
        assert r.header("ETag")
        assert c.read_to_eof() == b"", "HEAD response must not carry a body"


def test_head_then_get_on_one_connection(site):
    with HTTPConnection(site.port) as c:
        c.request("HEAD", "/hello.txt")
        c.request("GET", "/hello.txt")
        assert c.read_response("HEAD").status == 200
        r = c.read_response()
        assert r.status == 200 and r.body == HELLO


def test_if_none_match_304(site):
    etag = get(site.port, "/hello.txt").header("ETag")
    r = get(site.port, "/hello.txt", {"If-None-Match": etag})
    assert r.status == 304, r
    assert r.body == b""
    assert r.header("ETag") == etag
    r = get(site.port, "/hello.txt", {"If-None-Match": '"no-such-etag"'})
    assert r.status == 200 and r.body == HELLO


def test_if_modified_since_304(site):
    lm = get(site.port, "/hello.txt").header("Last-Modified")
    r = get(site.port, "/hello.txt", {"If-Modified-Since": lm})
    assert r.status == 304, r
    assert r.body == b""
    older = email.utils.formatdate(http_date(lm) - 86400, usegmt=True)
    r = get(site.port, "/hello.txt", {"If-Modified-Since": older})
    assert r.status == 200 and r.body == HELLO


@pytest.mark.parametrize("spec,start,end", [("bytes=0-9", 0, 9), ("bytes=-5", 95, 99), ("bytes=10-", 10, 99)])
def test_range(site, spec, start, end):
    r = get(site.port, "/data.bin", {"Range": spec})
    assert r.status == 206, r
    assert r.body == DATA[start:end + 1]
    assert r.header("Content-Range") == f"bytes {start}-{end}/{len(DATA)}"
    assert r.header("Content-Length") == str(end - start + 1)


def test_range_not_satisfiable(site):
    r = get(site.port, "/data.bin", {"Range": "bytes=200-300"})
    assert r.status == 416, r
    if r.has("Content-Range"):
        assert r.header("Content-Range") == f"bytes */{len(DATA)}"
    assert DATA not in r.body


def test_index_file(site):
    r = get(site.port, "/dir/")
    assert r.status == 200, r
    assert r.body == b"<p>dir index</p>\n"
    assert r.header("Content-Type", "").startswith("text/html")


def test_directory_without_slash_redirects(site):
    r = get(site.port, "/dir")
    assert r.status in (301, 308), r
    assert r.header("Location", "").endswith("/dir/"), r


def test_directory_without_index_403(site):
    r = get(site.port, "/noindex/")
    assert r.status == 403, r
    assert b"file.txt" not in r.body


def test_not_found(site):
    r = get(site.port, "/no/such/file.txt")
    assert r.status == 404, r


@pytest.mark.lighttpd_differs("lighttpd serves POST on static files (200) and answers 501 to PUT/DELETE")
@pytest.mark.parametrize("method", ["POST", "DELETE", "PUT"])
def test_method_not_allowed(site, method):
    r = request(site.port, method, "/hello.txt", body=b"hello")
    assert r.status == 405, r
    allow = {m.strip() for m in r.header("Allow", "").split(",")}
    assert {"GET", "HEAD"} <= allow, r
    assert method not in allow


def test_options(site):
    r = request(site.port, "OPTIONS", "/hello.txt")
    assert r.status in (200, 204), r
    allow = {m.strip() for m in r.header("Allow", "").split(",")}
    assert {"GET", "HEAD"} <= allow, r


TRAVERSALS = [
    "/../secret.txt",
    "/../../secret.txt",
    "/dir/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/.%2e/secret.txt",
    "/%2e%2e%2fsecret.txt",
    "/%2f..%2fsecret.txt",
    "/..%2fsecret.txt",
    "/dir/..%2f..%2fsecret.txt",
    "/%2e%2e%5csecret.txt",
    "/..\\secret.txt",
    "/dir\\..\\..\\secret.txt",
    "/%5c..%5csecret.txt",
    "//../secret.txt",
    "/./../secret.txt",
    "/../docroot-private/secret.txt",
    "/%2e%2e/docroot-private/secret.txt",
    "/..%2fdocroot-private%2fsecret.txt",
    "/hello.txt%00",
    "/hello.txt%00.html",
    "/../secret.txt%00.txt",
    "/%252e%252e/secret.txt",
    "/%c0%ae%c0%ae/secret.txt",
]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_traversal_never_escapes_docroot(site, target):
    r = raw(site.port, f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert SECRET not in r.body, f"{target} served the secret: {r!r}"
    if "%00" in target:
        assert r.status in (400, 404), r
    else:
        assert r.status in (400, 403, 404), r


def test_traversal_in_absolute_form(site):
    r = raw(site.port, f"GET http://127.0.0.1:{site.port}/../secret.txt HTTP/1.1\r\nHost: x\r\n"
                       "Connection: close\r\n\r\n".encode())
    assert SECRET not in r.body
    assert r.status in (400, 403, 404), r


def test_mimetype_assign(site):
    assert get(site.port, "/file.weird").header("Content-Type") == "application/x-weird-e2e"
    assert get(site.port, "/style.css").header("Content-Type") == "text/css"
    assert get(site.port, "/data.bin").header("Content-Type") == "application/octet-stream"
    assert get(site.port, "/noext").header("Content-Type") == "application/octet-stream"


def test_query_string_ignored_for_static(site):
    r = get(site.port, "/hello.txt?x=1&y=%20")
    assert r.status == 200 and r.body == HELLO


def test_percent_encoded_path(site):
    r = get(site.port, "/hello%2etxt")
    assert r.status == 200 and r.body == HELLO

"""HTTP/1.1 connection handling: keep-alive, pipelining, limits, smuggling shapes, timeouts, graceful stop."""
import os
import shutil
import signal
import socket
import time

import pytest

from e2e_util import (CGI_TEST, HTTPConnection, Switchyard, get, q, raw, request, wait_until)

HELLO = b"Hello, Switchyard!\n"


def make_docroot(root):
    doc = root / "docroot"
    (doc / "cgi").mkdir(parents=True, exist_ok=True)
    (doc / "hello.txt").write_bytes(HELLO)
    for name in "abc":
        (doc / f"{name}.txt").write_bytes(f"file {name}\n".encode())
    for name in ("upload.py", "sleep.py"):
        shutil.copy2(CGI_TEST / name, doc / "cgi" / name)
        os.chmod(doc / "cgi" / name, 0o755)
    return doc


def config(doc, extra=""):
    return f"""
server.document-root = {q(doc)}
server.modules += ("mod_cgi")
server.max-request-field-size = 8192
server.max-request-size = 1024
server.max-read-idle = 2
server.max-keep-alive-idle = 2
mimetype.assign = (".txt" => "text/plain")
$HTTP["url"] =~ "^/cgi/" {{
    cgi.assign = (".py" => "/usr/bin/python3")
}}
{extra}
"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    root = tmp_path_factory.mktemp("http")
    doc = make_docroot(root)
    s = Switchyard(config(doc), root)
    s.doc = doc
    yield s
    s.kill()


def assert_closed_after(c, what):
    assert c.wait_closed(5), f"connection not closed after {what}; got {bytes(c.buf[:200])!r}"


# ---------------------------------------------------------------- connections

def test_keep_alive_two_requests(srv):
    with HTTPConnection(srv.port) as c:
        c.request("GET", "/hello.txt")
        r1 = c.read_response()
        assert r1.status == 200 and r1.body == HELLO
        assert (r1.header("Connection") or "").lower() != "close"
        c.request("GET", "/a.txt")
        r2 = c.read_response()
        assert r2.status == 200 and r2.body == b"file a\n"


def test_pipelining_in_order(srv):
    with HTTPConnection(srv.port) as c:
        c.send(b"".join(f"GET /{n}.txt HTTP/1.1\r\nHost: x\r\n\r\n".encode() for n in "abc"))
        bodies = [c.read_response().body for _ in range(3)]
        assert bodies == [b"file a\n", b"file b\n", b"file c\n"]


def test_pipelining_with_head_and_404(srv):
    with HTTPConnection(srv.port) as c:
        c.send(b"HEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET /b.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        r1 = c.read_response("HEAD")
        r2 = c.read_response()
        r3 = c.read_response()
        assert (r1.status, r2.status, r3.status) == (200, 404, 200)
        assert r3.body == b"file b\n"


def test_http10_closes_by_default(srv):
    with HTTPConnection(srv.port) as c:
        c.send(b"GET /hello.txt HTTP/1.0\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.body == HELLO
        assert r.version in ("HTTP/1.0", "HTTP/1.1")
        assert_closed_after(c, "an HTTP/1.0 response")


def test_http10_keep_alive(srv):
    with HTTPConnection(srv.port) as c:
        c.send(b"GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.body == HELLO
        assert (r.header("Connection") or "").lower() == "keep-alive"
        c.send(b"GET /a.txt HTTP/1.0\r\n\r\n")
        assert c.read_response().body == b"file a\n"
        assert_closed_after(c, "the second HTTP/1.0 response")


def test_connection_close(srv):
    with HTTPConnection(srv.port) as c:
        c.send(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.body == HELLO
        assert (r.header("Connection") or "").lower() == "close"
        assert_closed_after(c, "Connection: close")


def test_absolute_form_target(srv):
    r = raw(srv.port, f"GET http://127.0.0.1:{srv.port}/hello.txt HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n"
                      "Connection: close\r\n\r\n".encode())
    assert r.status == 200 and r.body == HELLO


@pytest.mark.lighttpd_differs("lighttpd rejects a Host header that differs from the absolute-form authority")
def test_absolute_form_target_overrides_host(srv):
    # RFC 9112 3.2.2: with absolute-form the Host header is ignored
    r = raw(srv.port, f"GET http://127.0.0.1:{srv.port}/hello.txt HTTP/1.1\r\nHost: other.invalid\r\n"
                      "Connection: close\r\n\r\n".encode())
    assert r.status == 200 and r.body == HELLO


def test_missing_host_http11_is_400(srv):
    with HTTPConnection(srv.port) as c:
        c.send(b"GET /hello.txt HTTP/1.1\r\n\r\n")
        assert c.read_response().status == 400
        assert_closed_after(c, "400")


@pytest.mark.lighttpd_differs("lighttpd serves POST on static files")
def test_expect_100_continue_static_post(srv):
    with HTTPConnection(srv.port) as c:
        c.send(b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n")
        r = c.read_response()
        if r.status == 100:
            c.send(b"0123456789")
            r = c.read_final_response()
        assert r.status == 405, r


@pytest.mark.needs_cgi
def test_expect_100_continue_cgi(srv):
    body = os.urandom(100000)
    with HTTPConnection(srv.port) as c:
        c.send(b"POST /cgi/upload.py HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
               b"Expect: 100-continue\r\n\r\n" % len(body))
        r = c.read_response()
        assert r.status == 100, f"expected 100 Continue before the body, got {r!r}"
        c.send(body)
        r = c.read_final_response()
        assert r.status == 200, r
        assert f"bytes={len(body)}" in r.text


# ---------------------------------------------------------------- limits

@pytest.mark.lighttpd_differs("lighttpd answers 431 for an over-long request line")
def test_414_huge_uri(srv):
    with HTTPConnection(srv.port) as c:
        c.send(b"GET /" + b"a" * 16384 + b" HTTP/1.1\r\nHost: x\r\n\r\n", ignore_reset=True)
        r = c.read_response()
        assert r.status == 414, r
        assert_closed_after(c, "414")


def test_431_header_block_too_large(srv):
    hdrs = "".join(f"X-Filler-{i}: {'v' * 500}\r\n" for i in range(20))  # ~10.5 KB > 8192
    with HTTPConnection(srv.port) as c:
        c.send(f"GET /hello.txt HTTP/1.1\r\nHost: x\r\n{hdrs}\r\n".encode(), ignore_reset=True)
        r = c.read_response()
        assert r.status == 431, r
        assert_closed_after(c, "431")


def test_header_block_under_limit_ok(srv):
    hdrs = [(f"X-Filler-{i}", "v" * 500) for i in range(10)]  # ~5 KB < 8192
    assert get(srv.port, "/hello.txt", hdrs).status == 200


@pytest.mark.needs_cgi
def test_413_content_length_over_max_request_size(srv):
    # server.max-request-size = 1024 (KiB): announce 2 MiB, send no body; the answer must not wait for it
    with HTTPConnection(srv.port) as c:
        c.send(b"POST /cgi/upload.py HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (2 << 20))
        r = c.read_response()
        assert r.status == 413, r


@pytest.mark.needs_cgi
def test_body_under_max_request_size_ok(srv):
    body = os.urandom(1000 * 1024)
    r = request(srv.port, "POST", "/cgi/upload.py", body=body)
    assert r.status == 200 and f"bytes={len(body)}" in r.text, r


@pytest.mark.needs_cgi
def test_411_post_without_length(srv):
    with HTTPConnection(srv.port) as c:
        c.send(b"POST /cgi/upload.py HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
        assert r.status == 411, r


def test_501_unknown_transfer_encoding(srv):
    with HTTPConnection(srv.port) as c:
        c.send(b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n")
        r = c.read_response()
        assert r.status == 501, r
        assert_closed_after(c, "501")


def test_505_http2_request_line(srv):
    with HTTPConnection(srv.port) as c:
        c.send(b"GET / HTTP/2.0\r\nHost: x\r\n\r\n")
        r = c.read_response()
        assert r.status == 505, r


SMUGGLING = {
    "cl+te": b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"0\r\n\r\n",
    "te+cl": b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
             b"0\r\n\r\n",
    "two-different-cl": b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"
                        b"hello!",
    "cl-list": b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\nhello!",
    "cl-not-a-number": b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello",
    "obs-fold": b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n  b\r\n\r\n",
    "space-before-colon": b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-Bad : v\r\n\r\n",
    "space-before-colon-te": b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n"
                             b"Content-Length: 5\r\n\r\nhello",
    "nul-in-value": b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-Nul: a\x00b\r\n\r\n",
    "two-hosts": b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.lighttpd_differs("lighttpd unfolds obs-fold"))
                                  if n == "obs-fold" else n for n in sorted(SMUGGLING)])
def test_smuggling_shapes_400_and_close(srv, name):
    with HTTPConnection(srv.port) as c:
        c.send(SMUGGLING[name], ignore_reset=True)
        r = c.read_response()
        assert r.status == 400, r
        assert_closed_after(c, f"400 for {name}")


@pytest.mark.needs_cgi
@pytest.mark.parametrize("chunked", [b"zz\r\nhello\r\n0\r\n\r\n", b"5\r\nhelloXX0\r\n\r\n",
                                     b"-5\r\nhello\r\n0\r\n\r\n", b"ffffffffffffffffff\r\nhello\r\n0\r\n\r\n"])
def test_bad_chunked_body_400_and_close(srv, chunked):
    with HTTPConnection(srv.port) as c:
        c.send(b"POST /cgi/upload.py HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked,
               ignore_reset=True)
        r = c.read_response()
        assert r.status == 400, r
        assert_closed_after(c, "a bad chunk")


# ---------------------------------------------------------------- timeouts

def test_slow_client_read_idle(srv):
    """server.max-read-idle = 2: half a header block, then silence -> 408 or close."""
    with HTTPConnection(srv.port) as c:
        c.send(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n")
        t0 = time.monotonic()
        assert c.wait_closed(10), "slow client was not dropped within 10 s"
        elapsed = time.monotonic() - t0
        assert elapsed >= 1.5, f"dropped after {elapsed:.2f}s, before max-read-idle"
        if c.buf:
            assert bytes(c.buf).startswith(b"HTTP/1.1 408"), bytes(c.buf[:200])


def test_keep_alive_idle(srv):
    """server.max-keep-alive-idle = 2: an idle keep-alive connection is closed."""
    with HTTPConnection(srv.port) as c:
        c.request("GET", "/hello.txt")
        assert c.read_response().status == 200
        t0 = time.monotonic()
        assert c.wait_closed(10), "idle keep-alive connection not closed within 10 s"
        assert time.monotonic() - t0 >= 1.5
        assert not c.buf, f"unexpected bytes on an idle connection: {bytes(c.buf[:200])!r}"


def test_slow_but_steady_client_is_served(srv):
    """Bytes trickling in faster than max-read-idle keep the request alive."""
    req = b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with HTTPConnection(srv.port) as c:
        for i in range(0, len(req), 10):
            c.send(req[i:i + 10])
            time.sleep(0.3)
        r = c.read_response()
        assert r.status == 200 and r.body == HELLO


# ---------------------------------------------------------------- signals

@pytest.mark.lighttpd_differs("lighttpd stops at once on SIGTERM (graceful is SIGUSR1)")
@pytest.mark.needs_cgi
def test_sigterm_graceful_in_flight_request(tmp_path):
    doc = make_docroot(tmp_path)
    s = Switchyard(config(doc), tmp_path)
    try:
        pidfile = tmp_path / "sleep.pid"
        c = HTTPConnection(s.port, timeout=20)
        c.request("GET", f"/cgi/sleep.py?secs=2&pidfile={pidfile}")
        assert wait_until(pidfile.exists, 10), "CGI did not start"
        s.send_signal(signal.SIGTERM)
        r = c.read_response()
        assert r.status == 200 and r.body == b"slept 2\n", r
        c.close()
        s.stop(timeout=10)
    finally:
        s.kill()


@pytest.mark.lighttpd_differs("lighttpd exits 1 on SIGTERM here")
def test_sigterm_with_idle_keepalive_connection(tmp_path):
    doc = make_docroot(tmp_path)
    s = Switchyard(config(doc).replace("server.max-keep-alive-idle = 2", "server.max-keep-alive-idle = 60"),
                   tmp_path)
    try:
        c = HTTPConnection(s.port)
        c.request("GET", "/hello.txt")
        assert c.read_response().status == 200
        t0 = time.monotonic()
        s.stop(timeout=10)
        assert time.monotonic() - t0 < 5, "an idle keep-alive connection delayed the graceful stop"
        assert c.wait_closed(5)
        c.close()
    finally:
        s.kill()


def test_sigint_exit_0(tmp_path):
    doc = make_docroot(tmp_path)
    s = Switchyard(config(doc), tmp_path)
    try:
        assert get(s.port, "/hello.txt").status == 200
        s.stop(sig=signal.SIGINT)
    finally:
        s.kill()


def test_stop_refuses_new_connections(tmp_path):
    doc = make_docroot(tmp_path)
    s = Switchyard(config(doc), tmp_path)
    port = s.port
    s.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()

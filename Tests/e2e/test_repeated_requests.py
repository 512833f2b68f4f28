"""Byte-identical requests (what a poller, a health check or a load generator sends over keep-alive)
are parsed once per event loop (HTTPRequestHeadMemo) and, when nothing but the request, the client
address and the listener decide the route, routed once (StaticRouteMemo). These tests repeat the
very same request bytes where something outside those bytes must change the answer - the client's
address, the listener, a file that appears, a reload - and check that every answer is the one the
configuration gives for that request, as a fresh parse and route would.
"""
import os
import signal
import socket
import time
from email.utils import parsedate_to_datetime

import pytest

from e2e_util import HTTPConnection, Switchyard, free_port, q, wait_until

SAME = b"GET /f.txt HTTP/1.1\r\nHost: repeat.test\r\nUser-Agent: poller/1\r\nAccept: */*\r\n\r\n"


def site(tmp_path):
    for name in ("a", "b", "c", "d"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "f.txt").write_text(f"root {name}\n")
    return tmp_path


def connect(port, source="127.0.0.1"):
    c = HTTPConnection(port)
    if source != "127.0.0.1":
        c.sock.close()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(10)
        sock.bind((source, 0))
        sock.connect(("127.0.0.1", port))
        c.sock = sock
    return c


def ask(c, data=SAME):
    c.send(data)
    return c.read_response()


def test_the_client_address_and_the_listener_are_part_of_the_route(tmp_path):
    site(tmp_path)
    second = free_port()
    s = Switchyard(f"""
server.document-root = {q(tmp_path / "a")}
server.event-loops = 1
$HTTP["remoteip"] == "127.0.0.2" {{ server.document-root = {q(tmp_path / "b")} }}
$SERVER["socket"] == "127.0.0.1:{second}" {{ server.document-root = {q(tmp_path / "c")} }}
""", tmp_path)
    one, two, other = connect(s.port), connect(s.port, "127.0.0.2"), connect(second)
    try:
        for i in range(30):
            # The same bytes, alternating between clients and listeners, kept-alive and fresh.
            assert ask(one).body == b"root a\n", i
            assert ask(two).body == b"root b\n", i
            assert ask(other).body == b"root c\n", i
            if i % 10 == 9:
                fresh = connect(s.port, "127.0.0.2")
                assert ask(fresh).body == b"root b\n", i
                fresh.close()
    finally:
        for c in (one, two, other):
            c.close()
        s.stop()


def test_http2_connections_share_a_route_only_with_their_own_address(tmp_path):
    """Each HTTP/2 connection builds its own head for a request, so the router's memo compares
    heads by their fields: two h2c connections from different client addresses, asking for the
    same thing with the same header block, alternately, must each get their address's root."""
    from h2_client import H2Client
    site(tmp_path)
    s = Switchyard(f"""
server.document-root = {q(tmp_path / "a")}
server.event-loops = 1
$HTTP["remoteip"] == "127.0.0.2" {{ server.document-root = {q(tmp_path / "b")} }}
""", tmp_path)
    one, two = H2Client(s.port), H2Client(s.port, source="127.0.0.2")
    try:
        for i in range(12):
            for c, want in ((one, b"root a\n"), (one, b"root a\n"), (two, b"root b\n"), (two, b"root b\n")):
                head, body = c.request("GET", "/f.txt")
                assert (head.get(":status"), body) == ("200", want), i
    finally:
        one.close()
        two.close()
        s.stop()


def test_a_file_or_a_script_that_appears_changes_the_answer_to_the_same_bytes(tmp_path):
    site(tmp_path)
    root = tmp_path / "a"
    s = Switchyard(f"""
server.document-root = {q(root)}
server.event-loops = 1
server.modules += ("mod_rewrite", "mod_cgi")
$HTTP["url"] =^ "/gen/" {{ url.rewrite-if-not-file = ("^/gen/(.*)$" => "/f.txt") }}
$HTTP["url"] =^ "/cgi/" {{ cgi.assign = (".sh" => "/bin/sh") }}
""", tmp_path)
    gen = b"GET /gen/page.txt HTTP/1.1\r\nHost: repeat.test\r\n\r\n"
    late = b"GET /cgi/late.sh/info HTTP/1.1\r\nHost: repeat.test\r\n\r\n"
    c = connect(s.port)
    try:
        # Each request repeated back to back (the loop remembers one head), before and after the change.
        for _ in range(3):
            assert ask(c, gen).body == b"root a\n"          # not a file: rewritten
        (root / "gen").mkdir()
        (root / "gen" / "page.txt").write_text("generated\n")
        for _ in range(3):
            assert ask(c, gen).body == b"generated\n"
        for _ in range(3):
            assert ask(c, late).status == 404                # no script on the path
        (root / "cgi").mkdir()
        (root / "cgi" / "late.sh").write_text('printf "Content-Type: text/plain\\r\\n\\r\\nlate $PATH_INFO\\n"\n')
        for _ in range(3):
            r = ask(c, late)
            assert (r.status, r.body) == (200, b"late /info\n"), r
    finally:
        c.close()
        s.stop()


def test_a_reload_reroutes_the_same_bytes(tmp_path):
    site(tmp_path)
    conf = "server.event-loops = 1\nserver.document-root = {}\n"
    s = Switchyard(conf.format(q(tmp_path / "a")), tmp_path)
    c = connect(s.port)
    try:
        for _ in range(3):
            assert ask(c).body == b"root a\n"
        before = s.output().count("reloaded (generation")
        s.conf_path.write_text(s.config_text.replace(q(tmp_path / "a"), q(tmp_path / "d")))
        s.send_signal(signal.SIGUSR1)
        assert wait_until(lambda: s.output().count("reloaded (generation") > before, 10), s.output()[-2000:]
        fresh = connect(s.port)
        for _ in range(3):
            assert ask(fresh).body == b"root d\n"
        fresh.close()
    finally:
        c.close()
        s.stop()


def test_pipelined_split_and_interleaved_repeats_each_get_their_answer(tmp_path):
    site(tmp_path)
    (tmp_path / "a" / "g.txt").write_text("other\n")
    s = Switchyard(f'server.document-root = {q(tmp_path / "a")}\nserver.event-loops = 1\n', tmp_path)
    other = b"GET /g.txt HTTP/1.1\r\nHost: repeat.test\r\n\r\n"
    head_only = SAME.replace(b"GET", b"HEAD", 1)
    c = connect(s.port)
    try:
        # Fifty pipelined copies in one write, another request in the middle, then a HEAD.
        batch = [SAME] * 25 + [other] + [SAME] * 24 + [head_only]
        c.send(b"".join(batch))
        for i, data in enumerate(batch):
            r = c.read_response("HEAD" if data is head_only else "GET")
            want = b"other\n" if data is other else (b"" if data is head_only else b"root a\n")
            assert (r.status, r.body) == (200, want), i
        # The remembered head split at every byte: a head that arrives in pieces is scanned, not matched.
        for cut in range(1, len(SAME)):
            c.send(SAME[:cut])
            c.send(SAME[cut:])
            assert c.read_response().body == b"root a\n", cut
        # Leading empty lines before the same bytes (RFC 9112 2.2) are skipped, the head still matches.
        c.send(b"\r\n\r\n" + SAME)
        assert c.read_response().body == b"root a\n"
    finally:
        c.close()
        s.stop()


def test_a_bodied_request_repeated_keeps_its_framing(tmp_path):
    site(tmp_path)
    cgi = tmp_path / "a" / "cat.sh"
    cgi.write_text('printf "Content-Type: text/plain\\r\\n\\r\\n"; cat\n')
    s = Switchyard(f"""
server.document-root = {q(tmp_path / "a")}
server.event-loops = 1
server.modules += ("mod_cgi")
cgi.assign = (".sh" => "/bin/sh")
""", tmp_path)
    post = b"POST /cat.sh HTTP/1.1\r\nHost: repeat.test\r\nContent-Length: 6\r\n\r\n"
    c = connect(s.port)
    try:
        for i in range(5):
            body = b"body %d" % i
            c.send(post + body)
            r = c.read_response()
            assert (r.status, r.body) == (200, body), i
        # The same head pipelined twice with its bodies in one write.
        c.send(post + b"first!" + post + b"second")
        assert c.read_response().body == b"first!"
        assert c.read_response().body == b"second"
    finally:
        c.close()
        s.stop()


def test_a_cached_files_whole_head_is_rebuilt_for_each_second_tag_and_connection(tmp_path):
    """A small cached file's 200 head is kept whole on its cache entry for the second it was built
    in (Worker.appendStaticHead): every answer must still carry the current Date, the current
    server.tag (a reload within the second), the Connection line its request asks for and the
    response headers of its scope, with the one head that is reused byte for byte."""
    root = tmp_path / "a"
    (root / "h").mkdir(parents=True)
    body = bytes((i * 7) % 251 for i in range(1024))
    (root / "f.bin").write_bytes(body)
    (root / "h" / "f.bin").write_bytes(body)
    head_conf = f"""
server.document-root = {q(root)}
server.event-loops = 1
server.modules += ("mod_setenv")
$HTTP["url"] =^ "/h/" {{ setenv.add-response-header = ("X-Scope" => "h") }}
"""
    s = Switchyard(head_conf + 'server.tag = "one"\n', tmp_path)
    time.sleep(2.2)   # StaticFileCache keeps the bytes of files settled for 2 s
    c = connect(s.port)
    get = b"GET /f.bin HTTP/1.1\r\nHost: cache.test\r\n\r\n"
    try:
        dates, heads = set(), {}
        deadline = time.time() + 2.5
        while time.time() < deadline:   # across at least two second boundaries
            before = int(time.time())
            r = ask(c, get)
            after = int(time.time())
            assert (r.status, r.body) == (200, body)
            assert r.headers_all("Content-Length") == ["1024"] and r.headers_all("Server") == ["one"]
            assert len(r.headers_all("Date")) == 1 and not r.has("Connection") and not r.has("X-Scope")
            sent = parsedate_to_datetime(r.header("Date")).timestamp()
            # The loop reads the coarse clock (time(2), as lighttpd does), which can be a tick behind
            # this client's clock_gettime across a second boundary: one second of slack, no more
            # (an answer kept past its second falls two and more behind within this loop).
            assert before - 1 <= sent <= after, (r.header("Date"), before, after)
            dates.add(r.header("Date"))
            heads.setdefault(r.header("Date"), set()).add(r.raw_head)
            time.sleep(0.05)
        assert len(dates) >= 2
        # Within one second the head is the same bytes; apart from its Date it never changes.
        assert all(len(h) == 1 for h in heads.values()), heads
        assert len({h.replace(d.encode(), b"DATE") for d, hs in heads.items() for h in hs}) == 1

        # HEAD: the same head, no body.
        c.send(get.replace(b"GET", b"HEAD", 1))
        r = c.read_response("HEAD")
        assert r.status == 200 and r.header("Content-Length") == "1024" and r.body == b""
        assert ask(c, get).body == body   # the connection is still in step

        # Another scope's response header; an HTTP/1.0 keep-alive; a close.
        r = ask(c, get.replace(b"/f.bin", b"/h/f.bin"))
        assert (r.body, r.headers_all("X-Scope")) == (body, ["h"])
        r = ask(c, b"GET /f.bin HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        assert (r.body, r.header("Connection", "").lower()) == (body, "keep-alive")
        r = ask(c, get.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        assert (r.body, r.header("Connection", "").lower()) == (body, "close")
        assert c.wait_closed()

        # A reload's new tag shows on the next answer, within the same second too.
        c = connect(s.port)
        assert ask(c, get).header("Server") == "one"
        before = s.output().count("reloaded (generation")
        s.conf_path.write_text(s.config_text.replace('server.tag = "one"', 'server.tag = "two"'))
        s.send_signal(signal.SIGUSR1)
        assert wait_until(lambda: s.output().count("reloaded (generation") > before, 10), s.output()[-2000:]
        fresh = connect(s.port)
        for _ in range(3):
            r = ask(fresh, get)
            assert (r.body, r.headers_all("Server")) == (body, ["two"])
        fresh.close()
    finally:
        c.close()
        s.stop()


def test_a_repeated_static_request_keeps_every_rule_that_changes_its_answer(tmp_path):
    """A repeated GET or HEAD of a cached file is answered by the connection from the router's
    kept route and the file's kept head (HTTP1Connection.answerRepeatedStaticRequest), without an
    exchange. Everything an exchange would do must still show: the access log line of every
    request, the keep-alive limit's Connection: close, 304 and 206 for conditional and range
    heads repeated just as often, mod_expire's fields, and the next second's file."""
    root = tmp_path / "a"
    (root / "exp").mkdir(parents=True)
    body = bytes((i * 13) % 251 for i in range(1500))
    (root / "f.bin").write_bytes(body)
    (root / "exp" / "f.bin").write_bytes(body)
    log = tmp_path / "access.log"
    s = Switchyard(f"""
server.document-root = {q(root)}
server.event-loops = 1
server.max-keep-alive-requests = 40
server.modules += ("mod_accesslog")
accesslog.filename = {q(log)}
""", tmp_path)
    plain = Switchyard(f"""
server.document-root = {q(root)}
server.event-loops = 1
server.modules += ("mod_expire")
$HTTP["url"] =^ "/exp/" {{ expire.url = ( "/exp/" => "access plus 1 hours" ) }}
""", tmp_path / "plain")
    time.sleep(2.2)   # StaticFileCache keeps the bytes of files settled for 2 s
    get = b"GET /f.bin HTTP/1.1\r\nHost: fast.test\r\n\r\n"
    try:
        # The access log has a line per request, the 40th answer closes.
        c = connect(s.port)
        for i in range(1, 41):
            r = ask(c, get)
            assert (r.status, r.body) == (200, body), i
            assert (r.header("Connection", "").lower() == "close") == (i == 40), i
        assert c.wait_closed()
        c.close()
        assert wait_until(lambda: log.read_text().count('"GET /f.bin HTTP/1.1" 200') == 40, 10), log.read_text()[-500:]

        c = connect(plain.port)
        etag = ask(c, get).header("ETag")
        conditional = get.replace(b"\r\n\r\n", b"\r\nIf-None-Match: " + etag.encode() + b"\r\n\r\n")
        ranged = get.replace(b"\r\n\r\n", b"\r\nRange: bytes=10-19\r\n\r\n")
        for round in range(3):
            # Each head asked ten times in a row: remembered and routed from the memo after the second.
            for i in range(10):
                r = ask(c, get)
                assert (r.status, r.body, r.header("ETag")) == (200, body, etag), (round, i)
            for i in range(10):
                r = ask(c, conditional)
                assert (r.status, r.body) == (304, b""), (round, i)
            for i in range(10):
                r = ask(c, ranged)
                assert (r.status, r.body, r.header("Content-Range")) == (206, body[10:20], "bytes 10-19/1500"), (round, i)
            for i in range(10):
                c.send(get.replace(b"GET", b"HEAD", 1))
                r = c.read_response("HEAD")
                assert (r.status, r.body, r.header("Content-Length")) == (200, b"", "1500"), (round, i)
            for i in range(10):
                assert ask(c, get.replace(b"GET", b"DELETE", 1)).status == 405, (round, i)
        # Pipelined copies in one write (a HEAD among them) leave in order, each whole.
        c.send(get * 30 + get.replace(b"GET", b"HEAD", 1) + get)
        for i in range(30):
            assert c.read_response().body == body, i
        assert c.read_response("HEAD").body == b""
        assert c.read_response().body == body
        # A change shows from the next second on, on the same connection, as the exchange's answer does.
        (root / "f.bin").write_bytes(body[::-1])
        time.sleep(1.1)
        assert ask(c, get).body == body[::-1]
        c.close()

        c = connect(plain.port)
        exp = get.replace(b"/f.bin", b"/exp/f.bin")
        for i in range(5):
            r = ask(c, exp)
            assert (r.body, r.has("Expires"), r.header("Cache-Control", "").startswith("max-age=")) == (body, True, True), i
        c.close()
    finally:
        s.stop()
        plain.stop()


def test_repeated_answers_of_every_size_are_whole(tmp_path):
    """The kept answer holds the file's bytes up to 8 KiB (one send from the cache entry); above,
    its head goes with the body queued behind it; above 64 KiB nothing is cached. Around each of
    these limits, repeated GETs (one by one and pipelined) and HEADs get the whole file or none."""
    root = tmp_path / "a"
    root.mkdir()
    sizes = [0, 1, 8191, 8192, 8193, 20000, 65536, 65537]
    for n in sizes:
        (root / f"{n}.bin").write_bytes(bytes((i * 29 + n) % 251 for i in range(n)))
    s = Switchyard(f'server.document-root = {q(root)}\nserver.event-loops = 1\n', tmp_path)
    time.sleep(2.2)   # settled: cached from now on
    c = connect(s.port)
    try:
        for n in sizes:
            want = (root / f"{n}.bin").read_bytes()
            get = b"GET /%d.bin HTTP/1.1\r\nHost: sizes.test\r\n\r\n" % n
            for i in range(6):
                r = ask(c, get)
                assert (r.status, r.header("Content-Length"), r.body) == (200, str(n), want), (n, i)
            c.send(get * 5 + get.replace(b"GET", b"HEAD", 1) + get)
            for i in range(5):
                assert c.read_response().body == want, (n, i)
            r = c.read_response("HEAD")
            assert (r.status, r.header("Content-Length")) == (200, str(n)), n
            assert c.read_response().body == want, n
    finally:
        c.close()
        s.stop()

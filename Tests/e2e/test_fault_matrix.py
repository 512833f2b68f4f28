"""The fault matrix (issue 9, item 11): every backend protocol against every way a backend or a client
can misbehave, on the real gateway binary with a real misbehaving backend (Fixtures/faults/).

Protocols: CGI, SCGI, uwsgi, FastCGI with one connection per request, pooled (KEEP_CONN) and
multiplexed (FCGI_MPXS_CONNS=1). One gateway per protocol for the whole module (fault_rig.Rig).

Each case names what the client must see (a status, or how the connection ends), the error-log line
naming the route, and that the gateway comes back to its baseline: descriptors, no child left, and
(one aggregated test per protocol, many repetitions) no memory growth.

| fault | expected (status or end of connection; error-log line) |
|-------|----------|
| backend refuses the connection | 503; "<backend>: ... Connection refused; disabled for 1 s" |
| accepts, reads, closes | 502; "backend ended before completing its response headers ...: 502" (FastCGI: "application closed the connection") |
| hangs before its headers | 504 after read-timeout; "no data from the backend for 2 s (read-timeout)"; the backend is told |
| sends garbage | 502; "malformed response header block" (FastCGI: "malformed record") |
| dies mid-body (Content-Length) | short body, connection closed; "backend sent 1000 of 100000 announced body bytes" (FastCGI: "backend failed during the response body: ... application closed the connection") |
| dies mid-body (chunked, FastCGI) | no terminating chunk, connection closed; "failed during the response body" |
| dies mid-WebSocket | 101, the frame sent before dying, then the connection closes |
| a grandchild holds the output | CGI: complete 200, "... process group ... lives on", grandchild killed. Sockets: without Content-Length read-timeout ends the response unterminated; with it the 200 is complete at once and the connection is closed after read-timeout ("still open ... after a complete response: closed"); a pooled/multiplexed FastCGI connection with an unanswered abort is not reused and is closed |
| client closes after its body / mid-response / mid-upgrade / upgraded | the backend is told: EOF, FCGI_ABORT_REQUEST or SIGTERM (CGI) |
| client never reads | closed after server.max-write-idle ("client did not read for 2 s"), backend told, RSS bounded |
| client sends a byte a second | a body trickling in is served (200); a head trickling in gets 408 after server.max-read-idle |
| spawn fails | CGI: ENOENT / EACCES -> 500 "spawn failed: ...", not executable -> 403; bin-path: start-up error naming it (exit 1); EMFILE: excess clients shed ("out of file descriptors"), no busy loop, a request needing a new descriptor gets 500 (CGI) / 503 (socket) with "Too many open files" (pooled/multiplexed FastCGI reuse their open connection: 200), then recovery |

Known defects found by this matrix (/work/notes/fault-findings.md) are listed in KNOWN and run as
xfail(strict=True), so that fixing one makes its case fail until it is removed from the list.
"""
import os
import re
import select
import socket
import subprocess
import time

import pytest

from e2e_util import ConnectionClosed, HTTPConnection, Switchyard, get, proc_state, q, wait_until
from fault_rig import (PROTOCOLS, READ_TIMEOUT, WRITE_IDLE, Rig, cpu_seconds, gateway_config, new_id, open_upgrade,
                       stable_fds)

pytestmark = pytest.mark.switchyard_only

SOCKETS = [p for p in PROTOCOLS if p != "cgi"]
FASTCGI = [p for p in PROTOCOLS if p.startswith("fastcgi")]
TOLD = {"eof", "abort", "term"}          # how a backend learns that its exchange was given up


@pytest.fixture(scope="module")
def rigs(tmp_path_factory):
    made = {}

    def rig(proto):
        if proto not in made:
            made[proto] = Rig(proto, tmp_path_factory.mktemp(proto.replace("-", "_")))
        return made[proto]

    yield rig
    for r in made.values():
        r.close()


@pytest.fixture
def case(rigs, request):
    """The rig of the test's protocol, warmed up, its descriptor baseline taken and its log marked.
    The test ends with finish(rig); a case that did not get there (failed, or a known defect marked
    xfail) leaves a gateway that may be damaged, so the rig gets a fresh one for the next case."""
    rig = rigs(request.node.callspec.params["proto"])
    rig.warm()
    rig.case_fds = rig.stable_fds()
    rig.mark_log()
    rig.failed = True
    yield rig
    if rig.failed:
        if not rig.server.alive():
            # Shown under the failed test: why the gateway died (a crash's message and stack).
            print(f"gateway died (exit {rig.server.proc.returncode}):\n{rig.server.output()[-6000:]}")
        rig.restart_gateway()


def finish(rig):
    """Back to baseline: descriptors, no child left, and it serves again."""
    rig.assert_back_to_baseline(rig.case_fds)
    rig.warm()
    rig.failed = False


# ---------------------------------------------------------------- backend faults

def refused(rig, rid):
    assert get(rig.port, rig.path("dead", "ok", rid)).status == 503
    # the first refusal disables the host for disable-time; requests meanwhile are refused unasked
    line = rig.wait_log("/dead/")
    assert "Connection refused" in line or "all disabled" in line, line


def closes(rig, rid):
    r = get(rig.port, rig.path("b", "close", rid))
    assert r.status == 502, r
    if rig.proto.startswith("fastcgi"):
        rig.wait_log(rig.label, "application closed the connection")
    else:
        rig.wait_log(rig.label, "backend ended before completing its response headers", "502")


def hangs(rig, rid):
    t0 = time.monotonic()
    r = get(rig.port, rig.path("b", "hang", rid), timeout=30)
    took = time.monotonic() - t0
    assert r.status == 504, r
    assert READ_TIMEOUT - 0.5 < took < READ_TIMEOUT + 8, f"504 after {took:.1f} s"
    rig.wait_log(rig.label, "(read-timeout)")
    assert rig.wait_event(rid, TOLD), f"backend not told: {rig.events(rid)}"


def garbage(rig, rid):
    r = get(rig.port, rig.path("b", "garbage", rid))
    assert r.status == 502, r
    assert b"not a header" not in r.body
    rig.wait_log(rig.label, "record" if rig.proto.startswith("fastcgi") else "malformed response header block")


def dies_mid_body(rig, rid, behaviour="midbody"):
    with HTTPConnection(rig.port, timeout=15) as c:
        c.request("GET", rig.path("b", behaviour, rid))
        with pytest.raises(ConnectionClosed):
            r = c.read_response()
            pytest.fail(f"complete response from a backend that died mid-body: {r!r}")
    if rig.proto.startswith("fastcgi"):          # no FCGI_END_REQUEST: the app died
        rig.wait_log(rig.label, "during the response body", "application closed the connection")
    else:                                       # EOF: the body is short of its Content-Length
        rig.wait_log(rig.label, "1000 of 100000 announced body bytes")


def dies_mid_websocket(rig, rid):
    with open_upgrade(rig, rig.path("b", "midws", rid)) as c:
        r = c.read_response()
        assert r.status == 101, r
        assert c.wait_closed(10), "connection still open after the backend died"
        assert bytes(c.buf) == b"\x81\x05hello", bytes(c.buf)


def grandchild(rig, rid):
    """No Content-Length: only the end of the output ends the body, and a grandchild holds it."""
    t0 = time.monotonic()
    with HTTPConnection(rig.port, timeout=15) as c:
        c.request("GET", rig.path("b", "grandchild", rid))
        if rig.proto == "cgi":
            # the CGI exited: its process group is stopped, the response ends
            r = c.read_response()
            assert r.status == 200 and r.body == b"from the backend\n", r
            assert time.monotonic() - t0 < READ_TIMEOUT + 3
            rig.wait_log(rig.label, "process group")
        else:
            # a socket's end cannot be told from a pause: read-timeout ends the response, unterminated
            with pytest.raises(ConnectionClosed):
                c.read_response()
            rig.wait_log(rig.label, "(read-timeout)")
    assert_grandchild_stopped(rig, rid, rig.proto == "cgi")


def grandchild_with_length(rig, rid):
    t0 = time.monotonic()
    r = get(rig.port, rig.path("b", "grandchild-cl", rid))
    assert r.status == 200 and r.body == b"from the backend\n", r
    assert time.monotonic() - t0 < READ_TIMEOUT, "the announced body was complete: no need to wait"
    if rig.proto != "cgi":               # the backend keeps its socket open: the gateway closes it
        rig.wait_log(rig.label, "still open", "after a complete response: closed")
    assert_grandchild_stopped(rig, rid, rig.proto == "cgi")


def assert_grandchild_stopped(rig, rid, by_gateway):
    """The CGI's grandchild is stopped with it. An external backend's grandchild is its own
    business, but the gateway must not keep the connection it holds open (checked while it lives)."""
    detail = rig.wait_event(rid, {"grandchild"}) and rig.event_detail(rid, "grandchild")
    assert detail, rig.events(rid)
    pid = int(detail)
    if by_gateway:
        assert wait_until(lambda: proc_state(pid) in (None, "Z"), 10), "the CGI's grandchild survived"
        return
    try:
        r = get(rig.port, rig.path("b", "ok"))          # a pooled connection must not be stuck either
        assert r.status == 200, r
        # the bound asked for: the route's read-timeout (plus slack), not the backend's goodwill
        rig.assert_back_to_baseline(rig.case_fds, timeout=READ_TIMEOUT + 4)
    finally:
        if proc_state(pid) not in (None, "Z"):
            os.kill(pid, 9)              # started by the fixture backend; the test cleans up


BACKEND_FAULTS = {
    "refused": (refused, SOCKETS),
    "accepts-then-closes": (closes, PROTOCOLS),
    "hangs-before-headers": (hangs, PROTOCOLS),
    "garbage": (garbage, PROTOCOLS),
    "dies-mid-body": (dies_mid_body, PROTOCOLS),
    "dies-mid-chunked-body": (lambda rig, rid: dies_mid_body(rig, rid, "midbody-chunked"), FASTCGI),
    "dies-mid-websocket": (dies_mid_websocket, PROTOCOLS),
    "grandchild-holds-output": (grandchild, PROTOCOLS),
    "grandchild-holds-output-with-length": (grandchild_with_length, PROTOCOLS),
}


KNOWN = {}                               # (proto, fault) -> reason of a known defect (xfail strict)


def matrix(faults):
    out = []
    for fault, protos in faults:
        for p in protos:
            reason = KNOWN.get((p, fault))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            out.append(pytest.param(p, fault, marks=marks, id=f"{p}-{fault}"))
    return out


@pytest.mark.parametrize("proto,fault", matrix((f, ps) for f, (_, ps) in BACKEND_FAULTS.items()))
def test_backend_fault(case, proto, fault):
    BACKEND_FAULTS[fault][0](case, new_id())
    finish(case)


# ---------------------------------------------------------------- client faults

def client_closes_after_body(rig, rid):
    c = HTTPConnection(rig.port, timeout=15)
    c.request("POST", rig.path("c", "hang", rid), body=b"x" * 65536)
    assert rig.wait_event(rid, {"body"}), rig.events(rid)
    c.close()
    assert rig.wait_event(rid, TOLD), f"backend not told that the client left: {rig.events(rid)}"


def client_closes_mid_response(rig, rid):
    c = HTTPConnection(rig.port, timeout=15)
    c.request("GET", rig.path("c", "big", rid))
    assert c.read_until(b"\r\n\r\n").startswith(b"HTTP/1.1 200")
    c.read_exact(100000)
    c.close()
    assert rig.wait_event(rid, TOLD | {"epipe"}), f"backend kept writing: {rig.events(rid)}"


def client_closes_mid_upgrade(rig, rid):
    c = open_upgrade(rig, rig.path("c", "hang", rid))
    assert rig.wait_event(rid, {"start"}), rig.events(rid)
    c.close()
    assert rig.wait_event(rid, TOLD), f"backend not told: {rig.events(rid)}"


def client_closes_upgraded(rig, rid):
    c = open_upgrade(rig, rig.path("c", "ws", rid))
    assert c.read_response().status == 101
    c.send(b"ping\n")
    assert c.read_exact(5) == b"ping\n"
    c.close()
    assert rig.wait_event(rid, TOLD), f"backend not told: {rig.events(rid)}"


def client_never_reads(rig, rid):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.connect(("127.0.0.1", rig.port))
    rss = rig.server.rss_kib()
    try:
        s.sendall(f"GET {rig.path('c', 'big', rid)} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        rig.wait_log("server.max-write-idle", timeout=WRITE_IDLE + 10)
        assert rig.wait_event(rid, TOLD | {"epipe"}), f"backend kept writing: {rig.events(rid)}"
        grown = rig.server.rss_kib() - rss
        assert grown < 16 * 1024, f"gateway RSS grew by {grown} KiB for one client that does not read"
    finally:
        s.close()


def client_sends_a_byte_a_second(rig, rid):
    with HTTPConnection(rig.port, timeout=15) as c:
        c.send(f"POST {rig.path('c', 'echo', rid)} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n".encode())
        c.send(b"a")
        for b in b"bc":
            time.sleep(1)                # pacing the client, not waiting for a result
            c.send(bytes([b]))
        r = c.read_response()
        assert r.status == 200 and r.body == b"abc", r


CLIENT_FAULTS = {
    "closes-after-body": client_closes_after_body,
    "closes-mid-response": client_closes_mid_response,
    "closes-mid-upgrade": client_closes_mid_upgrade,
    "closes-upgraded": client_closes_upgraded,
    "never-reads": client_never_reads,
    "byte-a-second": client_sends_a_byte_a_second,
}


@pytest.mark.parametrize("proto,fault", matrix((f, PROTOCOLS) for f in CLIENT_FAULTS))
def test_client_fault(case, proto, fault):
    CLIENT_FAULTS[fault](case, new_id())
    finish(case)


@pytest.mark.parametrize("proto", ["scgi"])
def test_request_head_a_byte_a_second_gets_408(case, proto):
    """Protocol-independent (the head never completes, so no route is chosen): once per module."""
    with HTTPConnection(case.port, timeout=15) as c:
        for b in f"GET {case.path('c', 'ok')} HTTP/1.1\r\nHost: x\r\n\r\n".encode():
            c.send(bytes([b]), ignore_reset=True)
            if select.select([c.sock], [], [], 1.0)[0]:
                break                    # the gateway answered (or closed)
        r = c.read_response()
        assert r.status == 408, r
    case.wait_log("request head not complete", "(server.max-read-idle)")
    finish(case)


# ---------------------------------------------------------------- spawn failures

SPAWN_FAILURES = {
    # name: (path, status, words of the log line)
    "interpreter-enoent": ("/spawn/missing.enoent", 500, ("spawn failed", "No such file")),
    "shebang-enoent": ("/spawn/shebang.cgi", 500, ("spawn failed", "No such file")),
    "interpreter-eacces": ("/spawn/script.eacces", 500, ("spawn failed", "Permission denied")),
    "script-not-executable": ("/spawn/noexec.cgi", 403, ("not executable",)),
}


@pytest.mark.parametrize("proto", ["cgi"])
@pytest.mark.parametrize("failure", SPAWN_FAILURES)
def test_cgi_spawn_failure(case, proto, failure):
    """lighttpd's answers: 500 for a CGI that cannot be executed, 403 for one that is not executable."""
    path, status, words = SPAWN_FAILURES[failure]
    r = get(case.port, path)
    assert r.status == status, r
    case.wait_log(f"cgi {case.root}{path}", *words)
    finish(case)


@pytest.mark.parametrize("proto", ["scgi", "uwsgi", "fastcgi"])
@pytest.mark.parametrize("failure", ["enoent", "eacces", "shebang-enoent"])
def test_bin_path_spawn_failure_is_a_startup_error(tmp_path, proto, failure):
    """A spawned backend that cannot be started stops the gateway at start-up (exit 1), naming the
    bin-path and the reason, instead of serving 503s forever."""
    prog = tmp_path / "app"
    if failure == "eacces":
        prog.write_text("#!/bin/sh\n")
        os.chmod(prog, 0o644)
    elif failure == "shebang-enoent":
        prog.write_text("#!/nonexistent/interpreter\n")
        os.chmod(prog, 0o755)
    module, table = ("mod_fastcgi", "fastcgi.server") if proto == "fastcgi" else ("mod_scgi", "scgi.server")
    server = Switchyard(f"""
server.document-root = {q(tmp_path)}
server.modules += ({q(module)})
{'scgi.protocol = "uwsgi"' if proto == "uwsgi" else ""}
{table} = ("/b/" => (( "socket" => {q(tmp_path / "app.sock")}, "bin-path" => {q(prog)}, "check-local" => "disable" )))
""", tmp_path, start=False)
    p = subprocess.run(server.command(), cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert "listening on" not in p.stderr
    if failure == "shebang-enoent":
        # An executable file whose interpreter is missing passes the configuration check and fails
        # at the spawn itself.
        assert f'bin-path "{prog}"' in p.stderr and "No such file or directory" in p.stderr, p.stderr
        return
    # The configuration check (also run by -t) names file:line, the bin-path and why.
    assert re.search(r"switchyard\.conf:\d+:\d+: ", p.stderr), p.stderr
    assert f'"bin-path" "{prog}"' in p.stderr, p.stderr
    assert ("does not exist" if failure == "enoent" else "is not an executable file") in p.stderr, p.stderr


EMFILE_STATUS = {
    "cgi": 500,            # no pipe for the CGI: "spawn failed: ... Too many open files"
    "scgi": 503, "uwsgi": 503, "fastcgi": 503,      # no socket for the backend connection
    "fastcgi-pool": 200, "fastcgi-mux": 200,        # the connection already open is used: no new fd
}


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_out_of_descriptors(rigs, tmp_path, proto):
    """Under a hard limit of 64 descriptors, 100 idle clients exhaust them: the excess is shed (logged,
    no busy loop), a request that needs a new descriptor for its backend fails with a clear status and
    log line, and everything works again once the clients are gone."""
    rig = rigs(proto)
    server = Switchyard(gateway_config(proto, rig.root, rig.sock, idle=30), tmp_path, start=False, name="emfile")
    base = server.command()
    server.command = lambda: ["prlimit", "--nofile=64:64", "--"] + base
    server.start()
    clients = []
    try:
        assert get(server.port, rig.path("b", "ok")).status == 200
        fds = stable_fds(server)
        first = HTTPConnection(server.port, timeout=15)
        clients.append(first)
        assert wait_until(lambda: server.fd_count() > fds, 5), "first client not accepted"
        for _ in range(100):
            try:
                clients.append(socket.create_connection(("127.0.0.1", server.port), timeout=2))
            except OSError:
                break
        assert server.wait_for_log("out of file descriptors", 10), server.log_text()[-2000:]
        before = cpu_seconds(server.pid)
        time.sleep(1.5)                  # a measurement window, not a wait for a result
        spent = cpu_seconds(server.pid) - before
        assert spent < 0.4, f"gateway used {spent:.2f} s of CPU in 1.5 s while out of descriptors (busy loop?)"
        first.request("GET", rig.path("b", "ok", new_id()), close=True)
        r = first.read_response()
        assert r.status == EMFILE_STATUS[proto], r
        if r.status != 200:
            assert server.wait_for_log("Too many open files", 5), server.log_text()[-2000:]
        for c in clients:
            c.close()
        clients.clear()
        assert wait_until(lambda: get(server.port, rig.path("b", "ok")).status == 200, 15), \
            server.log_text()[-2000:]
        assert wait_until(lambda: server.fd_count() <= fds, 10), (fds, server.fd_count())
        assert wait_until(lambda: not server.children(), 10), server.children()
    finally:
        for c in clients:
            c.close()
        server.kill()


# ---------------------------------------------------------------- memory over many faults

REPEATED = ["refused", "accepts-then-closes", "garbage", "dies-mid-body", "dies-mid-websocket"]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("proto", PROTOCOLS)
def test_repeated_faults_return_to_baseline(case, proto):
    """Each quick fault many times over: RSS must not grow (a leaked exchange holds buffers),
    descriptors and children come back.

    RSS is read after every round and compared as the lowest of the first three against the lowest
    of the last three: the allocator alone swings a debug gateway's RSS by about 2 MiB between
    rounds (a large response buffer taken and given back), which a single before/after pair
    mistook for a leak; a real leak only ever raises the floor, and raises it round after round."""
    faults = [BACKEND_FAULTS[f][0] for f in REPEATED if proto in BACKEND_FAULTS[f][1]]
    faults += [client_closes_after_body, client_closes_mid_response]
    reps = 9 if proto == "cgi" else 15

    def one_round():
        for fault in faults:
            case.mark_log()
            fault(case, new_id())

    for _ in range(2):
        one_round()                      # warm-up: allocator arenas, caches
    case.case_fds = case.stable_fds()
    floors = []
    for _ in range(reps):
        one_round()
        floors.append(case.server.rss_kib())
    grown = min(floors[-3:]) - min(floors[:3])
    # One step is the allocator taking a new region while a buffer was in flight (seen once in CI:
    # +1.8 MiB in one round of fifteen, flat before and after); a leak raises the floor round after
    # round, so the largest single step is left out of the growth.
    largest_step = max(max(0, b - a) for a, b in zip(floors, floors[1:]))
    leak_window = (reps - 3) * len(faults)
    assert grown - largest_step < 1536, \
        f"RSS floor rose by {grown} KiB (largest single step {largest_step}) over {leak_window} faulted exchanges (per round: {floors})"
    finish(case)

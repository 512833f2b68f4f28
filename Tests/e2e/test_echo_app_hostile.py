"""switchyard-echo-app and the bridges against hostile lengths, and the gateway while a spawned app restarts.

Every length that comes off the wire is an attacker's number: the SCGI netstring length, CONTENT_LENGTH,
FastCGI name-value pair lengths, WebSocket frame lengths. Each must be refused with a log line (and a
status where there is still someone to answer), never trap the process. Checked through the gateway
(the spawned echo app must keep its pid) and directly on the app's and the bridges' own sockets.

Restart backoff: while the supervisor waits to restart a spawned app that died, its route answers 503
at once (the listening socket stays open for the successor, so without that a request would sit in the
backlog for the whole backoff), and requests already queued for the dead process are not handed to its
successor (a request that crashed the app would crash it again).
"""
import os
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

import wsframes
from e2e_util import REPO, HTTPConnection, Switchyard, get, stop_with_apps, wait_until
from test_echo_app import BIN_DIR, ECHO_APP, echo_config, echo_processes, need_echo_app

pytestmark = pytest.mark.switchyard_only

INT64_MAX = "9223372036854775807"


def start_gateway(root):
    need_echo_app()
    with pytest.MonkeyPatch.context() as mp:
        if os.environ.get("SWITCHYARD_BIN_DIR") and not os.environ.get("SWITCHYARD_BIN"):
            mp.setenv("SWITCHYARD_BIN", str(BIN_DIR / "switchyard"))
        s = Switchyard(echo_config(root), root)
    assert wait_until(lambda: len(echo_processes(s)) == 2, 10), s.children()
    return s


def stop_gateway(s):
    """Graceful stop (the gateway TERMs its backends, which live in process groups of their own),
    then SIGKILL by pid whatever echo app is left."""
    stop_with_apps(s, echo_processes(s))


@pytest.fixture
def gateway(tmp_path):
    s = start_gateway(tmp_path)
    yield s
    stop_gateway(s)


def app_pid(s, proto):
    """The echo app serving `proto` ("scgi" or "fastcgi"), found by its command line."""
    for pid in echo_processes(s):
        try:
            if proto.encode() in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"):
                return pid
        except OSError:
            pass
    return None


PREFIX = {"scgi": "/scgi", "fastcgi": "/fcgi"}


# ---------------------------------------------------------------- through the gateway

@pytest.mark.parametrize("proto,length,status", [
    ("fastcgi", INT64_MAX, 413),            # used to trap on overflow (greeting + length) and kill the app
    ("fastcgi", str((1 << 40) + 1), 413),
    ("scgi", INT64_MAX, 400),               # 19 digits: the SCGI decoder refuses it
    ("scgi", str((1 << 40) + 1), 413),
])
def test_huge_content_length_refused_app_survives(gateway, proto, length, status):
    before = app_pid(gateway, proto)
    assert before, gateway.children()
    with HTTPConnection(gateway.port, timeout=10) as c:
        c.send(f"POST {PREFIX[proto]}/x HTTP/1.1\r\nHost: a\r\nContent-Length: {length}\r\n\r\nabc".encode())
        r = c.read_response()
    assert r.status == status, f"{r}\n{gateway.log_text()[-3000:]}"
    assert str(length)[:18].encode() in r.body, r.body
    time.sleep(0.3)
    assert app_pid(gateway, proto) == before, f"echo app restarted:\n{gateway.log_text()[-3000:]}"
    assert "refused" in gateway.log_text() or "malformed SCGI request" in gateway.log_text(), gateway.log_text()[-3000:]
    r = get(gateway.port, f"{PREFIX[proto]}/after")
    assert r.status == 200 and r.body == f"echo-app ok GET {PREFIX[proto]}/after\n".encode(), r


def kill_and_wait_reaped(s, proto):
    pid = app_pid(s, proto)
    assert pid, s.children()
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: pid not in [p for p, _ in s.children()], 5), "killed app not reaped"
    return pid


def wait_restarted(s, proto, old):
    assert wait_until(lambda: app_pid(s, proto) not in (None, old), 10), f"not restarted:\n{s.log_text()[-2000:]}"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("proto", ["scgi", "fastcgi"])
def test_restart_backoff_answers_503_at_once(gateway, proto):
    # Two quick deaths double the backoff twice: the third restart waits 2 s.
    for _ in range(2):
        wait_restarted(gateway, proto, kill_and_wait_reaped(gateway, proto))
    old = kill_and_wait_reaped(gateway, proto)
    # the supervisor has seen the death (its log line comes after it marks the host down)
    assert gateway.wait_for_log("restarting in 2.0 s", 2), gateway.log_text()[-3000:]
    t0 = time.monotonic()
    r = get(gateway.port, f"{PREFIX[proto]}/during-backoff", timeout=10)
    elapsed = time.monotonic() - t0
    assert r.status == 503 and elapsed < 1.0, \
        f"{r.status} after {elapsed:.2f} s during a 2 s restart backoff\n{gateway.log_text()[-3000:]}"
    # the 503 was logged with the reason
    assert wait_until(lambda: "exited (killed by signal 9), restarting in 2.0 s" in gateway.log_text(), 2), \
        gateway.log_text()[-3000:]
    wait_restarted(gateway, proto, old)
    assert wait_until(lambda: get(gateway.port, f"{PREFIX[proto]}/after").status == 200, 5)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("proto", ["scgi", "fastcgi"])
def test_requests_queued_for_a_dead_app_are_not_replayed(gateway, proto):
    for _ in range(2):
        wait_restarted(gateway, proto, kill_and_wait_reaped(gateway, proto))
    pid = app_pid(gateway, proto)
    os.kill(pid, signal.SIGSTOP)   # alive but not accepting: the next requests wait in its listen backlog
    results = []

    def client(i):
        try:
            t = time.monotonic()
            r = get(gateway.port, f"{PREFIX[proto]}/queued{i}", timeout=15)
            results.append((r.status, time.monotonic() - t))
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            results.append((repr(e), 0))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    assert not results, f"answered by a stopped app? {results}"
    t_kill = time.monotonic()
    os.kill(pid, signal.SIGKILL)   # the 3rd death within 30 s: restart in 2 s
    for t in threads:
        t.join(15)
    waited = time.monotonic() - t_kill
    assert len(results) == 3 and all(isinstance(st, int) and st >= 500 for st, _ in results), \
        f"queued requests: {results}\n{gateway.log_text()[-3000:]}"
    assert waited < 1.5, f"queued requests waited {waited:.2f} s (the restart backoff is 2 s): {results}"
    assert gateway.wait_for_log("connection(s) queued for the exited process", 2), gateway.log_text()[-3000:]
    wait_restarted(gateway, proto, pid)
    assert wait_until(lambda: get(gateway.port, f"{PREFIX[proto]}/after").status == 200, 5)


@pytest.mark.parametrize("path,length_bytes,code", [
    ("/scgi/ws", b"\x7f\xff\xff\xff\xff\xff\xff\xff", 1009),   # 2^63-1: over the 16 MiB frame limit
    ("/fcgi/ws", b"\x7f\xff\xff\xff\xff\xff\xff\xff", 1009),
    ("/scgi/ws", b"\xff\xff\xff\xff\xff\xff\xff\xff", 1002),   # most significant bit set: not a length
    ("/fcgi/ws", b"\xff\xff\xff\xff\xff\xff\xff\xff", 1002),
])
def test_websocket_frame_length_refused_app_survives(gateway, path, length_bytes, code):
    proto = "scgi" if path.startswith("/scgi") else "fastcgi"
    before = app_pid(gateway, proto)
    key = wsframes.new_key()
    with HTTPConnection(gateway.port) as c:
        c.send(f"GET {path} HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        assert c.read_response().status == 101
        c.send(b"\x82\xff" + length_bytes + b"mask" + b"x" * 64)
        assert c.wait_closed(10), "no close after a hostile frame length"
        parsed = wsframes.parse_frame(c.buf)
        assert parsed, bytes(c.buf)
        f, _ = parsed
        assert f.opcode == 8 and f.payload[:2] == struct.pack("!H", code), f
    assert app_pid(gateway, proto) == before, gateway.log_text()[-3000:]


# ---------------------------------------------------------------- directly on the app's and the bridges' sockets

def scgi_netstring(pairs):
    block = b"".join(k + b"\0" + v + b"\0" for k, v in pairs)
    return str(len(block)).encode() + b":" + block + b","


SCGI_HOSTILE = {
    "netstring-length": b"9" * 40 + b":",
    "content-length-int64-max": scgi_netstring([(b"CONTENT_LENGTH", INT64_MAX.encode()), (b"SCGI", b"1")]),
    "content-length-negative": scgi_netstring([(b"CONTENT_LENGTH", b"-1"), (b"SCGI", b"1")]),
}


def start_direct(tmp_path, argv, sock):
    p = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=open(tmp_path / "stderr.txt", "wb"), start_new_session=True)
    if not wait_until(sock.exists, 10):
        p.kill()
        pytest.fail(f"{argv[0]} did not create {sock}")
    return p


def exchange(sock, data, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(str(sock))
    out = bytearray()
    try:
        s.sendall(data)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        s.close()
    return bytes(out)


@pytest.mark.parametrize("program", ["switchyard-echo-app", "scgi-cgi"])
@pytest.mark.parametrize("case", sorted(SCGI_HOSTILE))
def test_scgi_hostile_lengths_answered_400(tmp_path, program, case):
    binary = BIN_DIR / program
    need_echo_app()
    assert binary.is_file(), f"{binary} missing: swift build"
    sock = tmp_path / "s.sock"
    argv = [binary, "--protocol", "scgi", "--socket", sock] if program.endswith("app") else [binary, "--socket", sock]
    p = start_direct(tmp_path, argv, sock)
    try:
        out = exchange(sock, SCGI_HOSTILE[case])
        assert out.startswith(b"Status: 400"), f"{out[:300]!r}\n{(tmp_path / 'stderr.txt').read_text()}"
        assert b"malformed SCGI request" in (tmp_path / "stderr.txt").read_bytes()
        assert p.poll() is None, "process died"
        # and it still serves
        out = exchange(sock, scgi_netstring([(b"CONTENT_LENGTH", b"0"), (b"SCGI", b"1"), (b"REQUEST_METHOD", b"GET"),
                                             (b"REQUEST_URI", b"/ok"), (b"SCRIPT_FILENAME", b"/nonexistent")]))
        assert out.startswith(b"Status: "), out[:300]
    finally:
        p.kill()
        p.wait(5)


def fcgi_record(rtype, rid, content=b""):
    pad = (-len(content)) % 8
    return struct.pack("!BBHHBx", 1, rtype, rid, len(content), pad) + content + b"\0" * pad


@pytest.mark.parametrize("program", ["switchyard-echo-app", "fcgi-cgi"])
def test_fastcgi_hostile_pair_length_dropped(tmp_path, program):
    """A name-value pair that declares 2^31-1 bytes: the connection is dropped with a log line."""
    binary = BIN_DIR / program
    need_echo_app()
    assert binary.is_file(), f"{binary} missing: swift build"
    sock = tmp_path / "f.sock"
    argv = [binary, "--protocol", "fastcgi", "--socket", sock] if program.endswith("app") else [binary, "--socket", sock]
    p = start_direct(tmp_path, argv, sock)
    try:
        begin = fcgi_record(1, 1, struct.pack("!HB5x", 1, 0))
        pair = struct.pack("!II", 0xFFFFFFFF, 0x80000001) + b"AB"
        out = exchange(sock, begin + fcgi_record(4, 1, pair) + fcgi_record(4, 1) + fcgi_record(5, 1))
        assert out == b"", out[:300]
        assert wait_until(lambda: (tmp_path / "stderr.txt").read_bytes(), 5), "no log line"
        assert p.poll() is None, "process died"
        params = b"".join(bytes([len(k), len(v)]) + k + v for k, v in
                          [(b"REQUEST_METHOD", b"GET"), (b"REQUEST_URI", b"/ok"), (b"SCRIPT_FILENAME", b"/nonexistent")])
        out = exchange(sock, begin + fcgi_record(4, 1, params) + fcgi_record(4, 1) + fcgi_record(5, 1))
        assert b"Status: " in out, out[:300]
    finally:
        p.kill()
        p.wait(5)

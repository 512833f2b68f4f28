"""A request body of unknown length to an SCGI or uwsgi route (issue 13, point 2): HTTP/1.1 chunked
and HTTP/2 without content-length are collected (64 KiB in memory, then an unnamed temporary file in
`server.upload-dirs`) and sent with the real CONTENT_LENGTH, never answered 411. Checked against a
real backend (spool_backend.py over unix sockets, both protocols) by size and SHA-256; beyond
`server.max-request-size` 413; a client gone mid-body, a backend nobody listens on, a slow backend:
no file left, descriptors back, peak memory well below the body size.
"""
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import h2.exceptions
import pytest

from e2e_util import Switchyard, q, require, wait_until
from h2_client import H2Client

pytestmark = pytest.mark.switchyard_only

CURL = shutil.which("curl")
BACKEND = Path(__file__).with_name("spool_backend.py")
MIB = 1 << 20


def early_answer(c, path, body):
    """Sends `body` on a new stream without content-length and returns the response head that
    comes before the upload is complete (the stream is then reset with NO_ERROR)."""
    sid = c.open("PUT", path)
    c.send(sid, body, end_stream=True)
    try:
        c.wait(lambda: sid in c.ended)
    except h2.exceptions.StreamClosedError:
        pass   # h2_client went on pumping the rest of the body into the stream the answer closed
    return c.headers.get(sid, {}), c.resets.get(sid)


class Rig:
    def __init__(self, root: Path):
        self.root = root
        self.uploads = root / "uploads"
        self.uploads.mkdir()
        (root / "doc").mkdir()
        self.backends = []
        self.counts = {}
        for proto in ("scgi", "uwsgi"):
            sock, count = root / f"{proto}.sock", root / f"{proto}.count"
            count.write_text("")
            p = subprocess.Popen([sys.executable, str(BACKEND), proto, str(sock), str(count)], stdin=subprocess.DEVNULL,
                                 start_new_session=True)
            self.backends.append(p)
            self.counts[proto] = count
            assert wait_until(sock.exists, 10), f"{proto} backend did not listen"
        dead = root / "dead.sock"
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(str(dead))
        s.close()
        self.srv = Switchyard(f"""
server.document-root = {q(root / "doc")}
server.modules += ("mod_scgi")
server.event-loops = 1
server.upload-dirs = ({q(self.uploads)})
scgi.server = ("/sc/" => (( "socket" => {q(root / "scgi.sock")}, "check-local" => "disable" )),
               "/dead/" => (( "socket" => {q(dead)}, "check-local" => "disable" )))
$HTTP["url"] =~ "^/uw/" {{
    scgi.protocol = "uwsgi"
    scgi.server = ("/uw/" => (( "socket" => {q(root / "uwsgi.sock")}, "check-local" => "disable" )))
}}
$HTTP["url"] =~ "/small/" {{
    server.max-request-size = 1024
}}
""", root)

    def curl(self, path, body, http2):
        require(CURL is not None, "curl not installed (make deps)")
        mode = "--http2-prior-knowledge" if http2 else "--http1.1"
        r = subprocess.run([CURL, "-sS", "--max-time", "30", mode, "-T", "-", "-w", "\n%{http_code} %{http_version}",
                            f"http://127.0.0.1:{self.srv.port}{path}"], input=body, capture_output=True, timeout=40)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        text, _, status = r.stdout.decode().rpartition("\n")
        return status, dict(line.split("=", 1) for line in text.splitlines() if "=" in line)

    def fds(self):
        return self.srv.fd_count()

    def spool_fds(self):
        """Descriptors of the gateway that point into the upload directory (unnamed files show as
        `<dir>/#<inode> (deleted)`)."""
        d = f"/proc/{self.srv.pid}/fd"
        out = []
        for name in os.listdir(d):
            try:
                target = os.readlink(f"{d}/{name}")
            except OSError:
                continue
            if target.startswith(str(self.uploads)):
                out.append(target)
        return out

    def peak_rss_kib(self):
        for line in Path(f"/proc/{self.srv.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return 0

    def close(self):
        self.srv.kill()
        for p in self.backends:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    r = Rig(tmp_path_factory.mktemp("spool"))
    yield r
    r.close()


@pytest.mark.parametrize("http2", [False, True], ids=["http1-chunked", "h2-no-length"])
@pytest.mark.parametrize("prefix", ["/sc", "/uw"])
def test_unknown_length_body_reaches_backend_with_its_length(rig, prefix, http2):
    proto = "scgi" if prefix == "/sc" else "uwsgi"
    for size in (0, 1000, 3 * MIB + 5):       # empty, in memory, spilled to the upload directory
        body = os.urandom(size)
        status, kv = rig.curl(f"{prefix}/up", body, http2)
        assert status == ("200 2" if http2 else "200 1.1"), (status, kv, rig.srv.log_text()[-1500:])
        assert kv["proto"] == proto and kv["content_length"] == str(size), kv
        assert kv["transfer_encoding"] == "", kv
        assert kv["bytes"] == str(size) and kv["sha256"] == hashlib.sha256(body).hexdigest(), kv
    assert not os.listdir(rig.uploads) and not rig.spool_fds()


def test_body_over_max_request_size_is_413(rig):
    before = len(rig.counts["scgi"].read_text().splitlines())
    # HTTP/1.1: one chunk just over the 1 MiB limit and no end: the 413 comes once the limit is passed.
    with socket.create_connection(("127.0.0.1", rig.srv.port), timeout=10) as s:
        s.sendall(b"PUT /sc/small/x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n" % (MIB + 10)
                  + os.urandom(MIB + 10))
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413 "), reply[:200]
    # HTTP/2: a stream without content-length (the answer comes before the client sent it all).
    c = H2Client(rig.srv.port)
    try:
        headers, _ = early_answer(c, "/uw/small/x", os.urandom(2 * MIB))
        assert headers.get(":status") == "413", headers
    finally:
        c.close()
    c = H2Client(rig.srv.port)
    try:
        headers, body = c.request("PUT", "/uw/small/y", body=os.urandom(MIB - 100))
        assert headers.get(":status") == "200" and f"bytes={MIB - 100}\n".encode() in body, (headers, body)
    finally:
        c.close()
    assert len(rig.counts["scgi"].read_text().splitlines()) == before   # the oversized one never reached it
    assert wait_until(lambda: not rig.spool_fds(), 5) and not os.listdir(rig.uploads)


def test_vanished_client_and_refusing_backend_leave_nothing(rig):
    rig.curl("/sc/warm", b"x", False)
    time.sleep(0.2)
    fds0 = rig.fds()
    before = len(rig.counts["scgi"].read_text().splitlines())
    # A client that sends 1 MiB (on disk by then) and goes away, over HTTP/1.1 and over HTTP/2.
    with socket.create_connection(("127.0.0.1", rig.srv.port), timeout=10) as s:
        s.sendall(b"POST /sc/cut HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n100000\r\n" + os.urandom(MIB))
        assert wait_until(lambda: len(rig.spool_fds()) == 1, 5), rig.spool_fds()
        c = H2Client(rig.srv.port)
        sid = c.open("POST", "/uw/cut")
        c.send(sid, os.urandom(MIB))

        def pumped_to_disk():
            try:
                c.step(0.1)            # takes the window updates, sends more
            except TimeoutError:
                pass
            return len(rig.spool_fds()) == 2
        assert wait_until(pumped_to_disk, 5), rig.spool_fds()
        c.close()
    assert wait_until(lambda: not rig.spool_fds() and rig.fds() <= fds0, 5), (rig.spool_fds(), rig.fds(), fds0)
    assert len(rig.counts["scgi"].read_text().splitlines()) == before   # never sent on
    # A backend nobody listens on: 503 once the body is complete, the spool closed.
    status, _ = rig.curl("/dead/x", os.urandom(2 * MIB), True)
    assert status == "503 2", status
    assert wait_until(lambda: not rig.spool_fds() and rig.fds() <= fds0, 5), (rig.spool_fds(), rig.fds(), fds0)
    assert not os.listdir(rig.uploads)


def test_slow_backend_gets_the_body_with_bounded_memory(rig):
    """Three 8 MiB bodies at once to a backend that reads slowly: they are read back from disk as
    the backend takes them, so the gateway's peak RSS grows by far less than one body."""
    rig.curl("/sc/warm", b"x", True)
    peak0 = rig.peak_rss_kib()
    bodies = [os.urandom(8 * MIB) for _ in range(3)]
    procs = [subprocess.Popen([CURL, "-sS", "--max-time", "60", "--http2-prior-knowledge" if i % 2 else "--http1.1",
                               "-T", "-", f"http://127.0.0.1:{rig.srv.port}/sc/slow/{i}"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(3)]
    outs = [p.communicate(b, timeout=90) for p, b in zip(procs, bodies)]
    for (out, err), body in zip(outs, bodies):
        assert f"sha256={hashlib.sha256(body).hexdigest()}".encode() in out, (out, err)
    grown = rig.peak_rss_kib() - peak0
    print(f"spooled 3 x 8 MiB to a slow backend: peak RSS +{grown} KiB")
    assert grown < 6 * 1024, grown   # in memory, the bodies alone would be 24 MiB
    assert wait_until(lambda: not rig.spool_fds(), 5) and not os.listdir(rig.uploads)


def test_unusable_upload_dir_is_500_not_a_crash(rig):
    """No directory takes the temporary file: 500 once the body outgrows memory; a small body
    still goes through from memory."""
    srv = Switchyard(f"""
server.document-root = {q(rig.root / "doc")}
server.modules += ("mod_scgi")
server.upload-dirs = ({q(rig.root / "no-such-dir")})
scgi.server = ("/sc/" => (( "socket" => {q(rig.root / "scgi.sock")}, "check-local" => "disable" )))
""", rig.root, name="nodir")
    try:
        r = subprocess.run([CURL, "-sS", "--max-time", "20", "--http1.1", "-T", "-", "-o", "/dev/null", "-w", "%{http_code}",
                            f"http://127.0.0.1:{srv.port}/sc/big"], input=os.urandom(MIB), capture_output=True, timeout=30)
        assert r.stdout == b"500", (r.stdout, r.stderr)
        # Over HTTP/2 the 500 ends the stream with RST_STREAM(NO_ERROR) before the upload is
        # complete (RFC 9113 8.1), which curl 7.88 reports as an error: the h2 client reads it.
        c = H2Client(srv.port)
        try:
            headers, reset = early_answer(c, "/sc/big", os.urandom(MIB))
            assert headers.get(":status") == "500" and reset in (None, 0), (headers, reset)
        finally:
            c.close()
        r = subprocess.run([CURL, "-sS", "--max-time", "20", "--http2-prior-knowledge", "-T", "-",
                            f"http://127.0.0.1:{srv.port}/sc/small"], input=b"y" * 1000, capture_output=True, timeout=30)
        assert b"bytes=1000\n" in r.stdout, r
        assert srv.alive()
    finally:
        srv.kill()

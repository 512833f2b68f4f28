"""Operations: logs (format, SIGHUP reopen), pid file, running out of file descriptors, several
event loops."""
import os
import re
import signal
import socket
import time
from pathlib import Path

import pytest

from e2e_util import Switchyard, get, q, require, switchyard_bin, wait_until


def _docroot(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "index.html").write_text("hello\n")
    return root


def _cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_access_log_combined_format_and_error_log_format(switchyard, tmp_path):
    root = _docroot(tmp_path)
    access = tmp_path / "access.log"
    errors = tmp_path / "error.log"
    server = switchyard(f"""
server.document-root = {q(root)}
server.errorlog = {q(errors)}
accesslog.filename = {q(access)}
""")
    r = get(server.port, "/index.html", headers=[("Referer", "http://ref.example/"), ("User-Agent", "e2e-agent/1.0")])
    assert r.status == 200
    assert get(server.port, "/missing").status == 404
    assert wait_until(lambda: access.exists() and access.read_text().count("\n") >= 2, timeout=5)
    # Each event loop flushes its own lines: find them by content, not by position.
    lines = access.read_text().splitlines()
    index_line = next(l for l in lines if "/index.html" in l)
    missing_line = next(l for l in lines if "/missing" in l)
    combined = re.compile(
        r'^127\.0\.0\.1 (\S+) - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] '
        r'"GET /index\.html HTTP/1\.1" 200 (\d+) "http://ref\.example/" "e2e-agent/1\.0" (\d+)$')
    m = combined.match(index_line)
    assert m, index_line
    assert int(m.group(2)) > 6            # bytes sent: head + body
    assert ' "GET /missing HTTP/1.1" 404 ' in missing_line
    text = errors.read_text()
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(info\) server: started", text, re.M), text


def test_upgraded_websocket_logged_once_with_its_fields(switchyard, tmp_path):
    """An upgraded exchange writes its access-log line at the switch, with the Referer and
    User-Agent of its request, and once only: after the line the exchange keeps just its request
    line (the fields are most of an idle WebSocket's heap), so a second line at the close would
    lose them. Through the native FastCGI echo app, where the exchange stays in user space."""
    from test_echo_app import ECHO_APP, need_echo_app
    from wsframes import build_frame, new_key
    need_echo_app()
    root = _docroot(tmp_path)
    access = tmp_path / "access.log"
    server = switchyard(f"""
server.document-root = {q(root)}
server.modules += ("mod_fastcgi")
accesslog.filename = {q(access)}
fastcgi.server = ("/f/" => (( "socket" => {q(tmp_path / "echo.sock")}, "bin-path" => {q(f"{ECHO_APP} --protocol fastcgi")},
                             "check-local" => "disable", "upgrade" => 1 )))
""")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(f"GET /f/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {new_key()}\r\nSec-WebSocket-Version: 13\r\n"
                  f"Referer: http://ref.example/ws\r\nUser-Agent: ws-agent/2\r\n\r\n".encode())
        got = b""
        while b"\r\n\r\n" not in got:
            got += s.recv(4096)
        assert got.startswith(b"HTTP/1.1 101"), got
        s.sendall(build_frame(1, b"ping me"))
        time.sleep(0.2)
        s.sendall(build_frame(8, b"\x03\xe8"))
        while s.recv(4096):
            pass
    assert wait_until(lambda: access.exists() and "/f/ws" in access.read_text(), timeout=5)
    time.sleep(0.5)
    lines = [l for l in access.read_text().splitlines() if "/f/ws" in l]
    assert len(lines) == 1, lines
    assert ' "GET /f/ws HTTP/1.1" 101 ' in lines[0] and '"http://ref.example/ws" "ws-agent/2"' in lines[0], lines


def test_sighup_reopens_logs(switchyard, tmp_path):
    root = _docroot(tmp_path)
    access = tmp_path / "access.log"
    errors = tmp_path / "error.log"
    server = switchyard(f"""
server.document-root = {q(root)}
server.errorlog = {q(errors)}
accesslog.filename = {q(access)}
""")
    assert get(server.port, "/index.html").status == 200
    assert wait_until(lambda: access.exists() and access.stat().st_size > 0, timeout=5)
    os.rename(access, tmp_path / "access.log.1")
    os.rename(errors, tmp_path / "error.log.1")
    server.send_signal(signal.SIGHUP)
    assert wait_until(lambda: errors.exists() and "log files reopened" in errors.read_text(), timeout=5)
    assert get(server.port, "/index.html?after-rotate").status == 200
    assert wait_until(lambda: access.exists() and "after-rotate" in access.read_text(), timeout=5)
    assert "after-rotate" not in (tmp_path / "access.log.1").read_text()


def test_pid_file_written_and_removed(switchyard, tmp_path):
    root = _docroot(tmp_path)
    pidfile = tmp_path / "switchyard.pid"
    server = switchyard(f"""
server.document-root = {q(root)}
server.pid-file = {q(pidfile)}
""")
    assert int(pidfile.read_text().strip()) == server.pid
    server.stop()
    assert not pidfile.exists()


def test_out_of_file_descriptors_sheds_without_spinning(tmp_path):
    """With a hard limit of 64 descriptors, 100 idle clients exhaust them: the gateway refuses the
    excess (spare-descriptor trick) instead of busy-looping on accept, and serves again afterwards."""
    root = _docroot(tmp_path)
    server = Switchyard(f"""
server.document-root = {q(root)}
server.event-loops = 1
server.max-read-idle = 30
""", tmp_path, start=False)
    base = server.command()
    server.command = lambda: ["prlimit", "--nofile=64:64", "--"] + base
    server.start()
    try:
        clients = []
        for _ in range(100):
            try:
                clients.append(socket.create_connection(("127.0.0.1", server.port), timeout=2))
            except OSError:
                break
        time.sleep(0.5)
        before = _cpu_seconds(server.pid)
        time.sleep(2.0)
        spent = _cpu_seconds(server.pid) - before
        assert spent < 0.5, f"gateway used {spent:.2f} s of CPU in 2 s while out of descriptors (busy loop?)"
        assert server.wait_for_log("out of file descriptors", timeout=5), server.log_text()[-2000:]
        for c in clients:
            c.close()
        assert wait_until(lambda: get(server.port, "/index.html").status == 200, timeout=10)
    finally:
        server.kill()


def test_several_event_loops_share_the_port(switchyard, tmp_path):
    root = _docroot(tmp_path)
    server = switchyard(f"""
server.document-root = {q(root)}
server.event-loops = 3
""")
    assert server.wait_for_log("3 event loop(s)")
    conns = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(30)]
    for c in conns:
        c.sendall(b"GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    for c in conns:
        data = b""
        while True:
            chunk = c.recv(4096)
            if not chunk:
                break
            data += chunk
        assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"hello\n")
        c.close()
    # Each loop's thread carries its name (`top -H`, `ps -L`, a profiler's per-thread view).
    names = sorted(Path(f"/proc/{server.pid}/task/{tid}/comm").read_text().strip()
                   for tid in os.listdir(f"/proc/{server.pid}/task"))
    assert [n for n in names if n.startswith("worker-")] == ["worker-0", "worker-1", "worker-2"], names


class _Pinned(Switchyard):
    """A Switchyard started under `taskset -c CPUS` (its affinity mask, as systemd's CPUAffinity= or a cpuset would set it)."""

    def __init__(self, cpus, *a, **kw):
        self.cpus = cpus
        super().__init__(*a, **kw)

    def command(self):
        return ["taskset", "-c", self.cpus, *super().command()]


def _threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def test_default_event_loops_follow_the_affinity_mask(tmp_path):
    """server.event-loops defaults to the CPUs the process may run on, not every online CPU:
    pinned to one CPU it runs one loop thread fewer than pinned to two."""
    require(len(os.sched_getaffinity(0)) >= 2, "needs two usable CPUs to tell the mask from the online count")
    cpus = sorted(os.sched_getaffinity(0))
    counts = {}
    for label, mask in (("one", str(cpus[0])), ("two", f"{cpus[0]},{cpus[1]}")):
        s = _Pinned(mask, 'server.document-root = "."\n', tmp_path / label)
        try:
            assert get(s.port, "/").status in (200, 403, 404)
            counts[label] = _threads(s.pid)
        finally:
            s.stop()
    assert counts["two"] == counts["one"] + 1, counts

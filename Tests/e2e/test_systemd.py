"""systemd integration without libsystemd: socket activation (`LISTEN_FDS`/`LISTEN_PID`, driven by
Debian's real `systemd-socket-activate`) and `Type=notify` readiness (`sd_notify` datagrams to
`$NOTIFY_SOCKET`, received here on a real unix datagram socket)."""
import os
import signal
import socket
import time

import pytest

from e2e_util import ConnectionClosed, Switchyard, free_port, get, q, require, wait_until

ACTIVATE = "/usr/bin/systemd-socket-activate"


class _Activated(Switchyard):
    """Switchyard exec'd by systemd-socket-activate, which listens on `listen` and passes the socket."""

    def __init__(self, listen, *a, **kw):
        self.listen = listen
        super().__init__(*a, **kw)

    def command(self):
        return [ACTIVATE, "-l", self.listen, *super().command()]


def start_activated(s):
    """Starts systemd-socket-activate and waits until it listens (it execs the server on the first connection)."""
    s.start_without_wait()
    assert wait_until(lambda: "Listening on" in s.output() or s.proc.poll() is not None), s.output()
    assert s.proc.poll() is None, s.output()


def need_activate():
    require(os.access(ACTIVATE, os.X_OK), f"{ACTIVATE} not found (Debian package systemd; make deps)")


def test_socket_activation_serves_the_passed_socket(tmp_path):
    """The configured address is already bound by the service manager: Switchyard must use the
    passed descriptor (binding it again would fail with EADDRINUSE), on every event loop."""
    need_activate()
    (tmp_path / "hello.txt").write_text("activated\n")
    port = free_port()
    s = _Activated(f"127.0.0.1:{port}", f"""
server.document-root = {q(tmp_path)}
server.port = {port}
server.event-loops = 2
""", tmp_path, start=False)
    start_activated(s)
    try:
        # systemd-socket-activate execs the server on the first connection.
        for _ in range(20):
            r = get(port, "/hello.txt")
            assert r.status == 200 and r.body == b"activated\n", r
        assert s.proc.poll() is None, s.output()
        assert "Address already in use" not in s.output()
    finally:
        s.stop()


def test_socket_activation_serves_an_unconfigured_socket_too(tmp_path):
    need_activate()
    (tmp_path / "hello.txt").write_text("extra\n")
    passed = free_port()
    s = _Activated(f"127.0.0.1:{passed}", f"""
server.document-root = {q(tmp_path)}
server.port = 0
""", tmp_path, start=False)
    start_activated(s)
    try:
        r = get(passed, "/hello.txt")
        assert r.status == 200 and r.body == b"extra\n", r
        wait_until(lambda: "does not name" in s.output())
    finally:
        s.stop()


def test_stale_listen_variables_of_another_process_are_ignored(tmp_path):
    """LISTEN_PID naming another process (a parent's leftovers) must not make fd 3 a listener."""
    (tmp_path / "x.txt").write_text("x")
    s = Switchyard(f'server.document-root = {q(tmp_path)}\n', tmp_path,
                   env={"LISTEN_PID": str(os.getpid()), "LISTEN_FDS": "1"})
    try:
        assert get(s.port, "/x.txt").status == 200
        assert "systemd" not in s.output()
    finally:
        s.stop()


@pytest.mark.parametrize("abstract", [False, True])
def test_sd_notify_ready_and_stopping(tmp_path, abstract):
    (tmp_path / "x.txt").write_text("x")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if abstract:
        name = f"@switchyard-notify-{os.getpid()}-{time.monotonic_ns()}"
        sock.bind("\0" + name[1:])
    else:
        name = str(tmp_path / "notify.sock")
        sock.bind(name)
    sock.settimeout(10)
    try:
        s = Switchyard(f'server.document-root = {q(tmp_path)}\n', tmp_path, env={"NOTIFY_SOCKET": name})
        ready = sock.recv(4096).decode()
        assert "READY=1" in ready.split("\n"), ready
        assert f"MAINPID={s.pid}" in ready, ready
        assert f"127.0.0.1:{s.port}" in ready, ready
        assert get(s.port, "/x.txt").status == 200      # READY came after the listeners were up
        s.proc.send_signal(signal.SIGTERM)
        assert sock.recv(4096).decode() == "STOPPING=1"
        s.proc.wait(15)
    finally:
        sock.close()


def test_socket_activation_can_be_disabled(tmp_path):
    need_activate()
    port = free_port()
    s = _Activated(f"127.0.0.1:{port}", f"""
server.document-root = {q(tmp_path)}
server.port = {port}
server.systemd-socket-activation = "disable"
""", tmp_path, start=False)
    start_activated(s)
    try:
        try:
            get(port, "/")      # makes systemd-socket-activate exec the server, which cannot bind
        except (OSError, ConnectionClosed):
            pass
        wait_until(lambda: s.proc.poll() is not None, timeout=15)
        assert "systemd passed 1 socket(s) but server.systemd-socket-activation" in s.output(), s.output()
    finally:
        if s.proc.poll() is None:
            s.stop()


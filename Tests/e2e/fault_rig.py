"""One gateway per backend protocol in front of Fixtures/faults/fault_backend.py, for the fault matrix
(test_fault_matrix.py).

Routes of every rig (the backend picks its misbehaviour from the last path segment):
  /b/...     the backend, with a 2 s read-timeout (backend faults)
  /c/...     the same backend without read-timeout (client faults: nothing times out on its own)
  /dead/...  a unix socket nobody listens on (SCGI/uwsgi/FastCGI only)
  /spawn/... CGIs that cannot be executed (CGI rig only)
The server-wide idle limits are short (server.max-read-idle 3 s, max-write-idle 2 s) so that the
client faults end quickly.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from e2e_util import REPO, HTTPConnection, Switchyard, get, q, wait_until

FAULT_BACKEND = REPO / "Fixtures" / "faults" / "fault_backend.py"
PROTOCOLS = ["cgi", "scgi", "uwsgi", "fastcgi", "fastcgi-pool", "fastcgi-mux"]
READ_TIMEOUT = 2
IDLE = 3            # server.max-read-idle
WRITE_IDLE = 2      # server.max-write-idle

# FastCGI host options per mode: one connection per request, KEEP_CONN pooling, multiplexing.
FASTCGI_MODE = {
    "fastcgi": '"multiplex" => "disable"',
    "fastcgi-pool": '"connection-pool" => "enable", "multiplex" => "disable"',
    "fastcgi-mux": '"multiplex" => "enable"',
}


def backend_mode(proto):
    return {"fastcgi-pool": "fastcgi"}.get(proto, proto)


def gateway_config(proto, root, sock, *, idle=IDLE):
    head = f"""
server.document-root = {q(root)}
server.event-loops = 1
server.max-read-idle = {idle}
server.max-write-idle = {WRITE_IDLE}
"""
    if proto == "cgi":
        assign = '(".py" => "/usr/bin/python3")'
        return head + f"""
server.modules += ("mod_cgi")
$HTTP["url"] =~ "^/b/" {{
    cgi.assign = {assign}
    cgi.upgrade = "enable"
    cgi.limits = ("read-timeout" => {READ_TIMEOUT})
}}
$HTTP["url"] =~ "^/c/" {{
    cgi.assign = {assign}
    cgi.upgrade = "enable"
}}
$HTTP["url"] =~ "^/spawn/" {{
    cgi.assign = (".enoent" => "/nonexistent/interpreter", ".eacces" => {q(root / "spawn" / "interp-not-executable")},
                  ".cgi" => "")
}}
"""
    module, table = ("mod_fastcgi", "fastcgi.server") if proto.startswith("fastcgi") else ("mod_scgi", "scgi.server")
    extra = FASTCGI_MODE.get(proto, "")
    extra = ", " + extra if extra else ""
    common = f'"check-local" => "disable", "upgrade" => 1, "disable-time" => 1{extra}'
    return head + f"""
server.modules += ({q(module)})
{'scgi.protocol = "uwsgi"' if proto == "uwsgi" else ""}
{table} = (
    "/b/" => (( "socket" => {q(sock)}, "read-timeout" => {READ_TIMEOUT}, {common} )),
    "/c/" => (( "socket" => {q(sock)}, {common} )),
    "/dead/" => (( "socket" => {q(root / "dead.sock")}, {common} )),
)
"""


def make_spawn_failures(root: Path):
    """CGIs that cannot run: a missing interpreter, a script whose #! names a missing one, an
    interpreter without the x bit, a script without the x bit run directly."""
    d = root / "spawn"
    d.mkdir()
    for name, text, mode in (("missing.enoent", "print('never')\n", 0o644),
                             ("shebang.cgi", "#!/nonexistent/interpreter\n", 0o755),
                             ("script.eacces", "print('never')\n", 0o644),
                             ("interp-not-executable", "#!/bin/sh\n", 0o644),
                             ("noexec.cgi", "#!/bin/sh\necho\n", 0o644)):
        (d / name).write_text(text)
        os.chmod(d / name, mode)


def dead_socket(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.close()


class Rig:
    """A started gateway (and, for the socket protocols, the fault backend it talks to)."""

    def __init__(self, proto, root: Path):
        self.proto = proto
        self.root = root
        self.backend = None
        self.sock = root / "fault.sock"
        self.events_path = root / "b" / "events.log"
        (root / "b").mkdir()
        if proto == "cgi":
            shutil.copy2(FAULT_BACKEND, root / "b" / "fault.py")
            os.chmod(root / "b" / "fault.py", 0o755)
            os.symlink(root / "b", root / "c")
            make_spawn_failures(root)
        else:
            dead_socket(root / "dead.sock")
            log = open(root / "backend.out", "wb")
            self.backend = subprocess.Popen([sys.executable, str(FAULT_BACKEND), backend_mode(proto), str(self.sock),
                                             str(self.events_path)], stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
            log.close()
            if not wait_until(self.sock.exists, 10):
                self.close()
                pytest.fail(f"fault backend did not listen on {self.sock}")
        self.generation = 0
        self.server = Switchyard(gateway_config(proto, root, self.sock), root, name=proto)
        self.log_mark = 0
        self.case_fds = 0
        self.failed = False

    def restart_gateway(self):
        """A fresh gateway on the same backend, after a case that may have left damage behind."""
        self.server.kill()
        self.generation += 1
        self.server = Switchyard(gateway_config(self.proto, self.root, self.sock), self.root,
                                 name=f"{self.proto}-{self.generation}")
        self.log_mark = 0

    # ---- addressing

    def path(self, route, behaviour, rid=""):
        script = "/fault.py" if self.proto == "cgi" else ""
        return f"/{route}{script}/{behaviour}" + (f"?id={rid}" if rid else "")

    @property
    def port(self):
        return self.server.port

    @property
    def label(self):
        """How the error log names the /b/ route."""
        if self.proto == "cgi":
            return f"cgi {self.root / 'b' / 'fault.py'}"
        return {"scgi": "scgi", "uwsgi": "uwsgi"}.get(self.proto, "fastcgi") + " /b/"

    # ---- backend events

    def events(self, rid):
        try:
            lines = self.events_path.read_text().splitlines()
        except OSError:
            return []
        return [line.split(" ", 2)[1:] for line in lines if line.startswith(rid + " ")]

    def wait_event(self, rid, names, timeout=10.0):
        """The first of `names` the backend recorded for request rid, or None."""
        def seen():
            return next((e[0] for e in self.events(rid) if e[0] in names), None)
        return wait_until(seen, timeout, 0.01)

    def event_detail(self, rid, name):
        return next((e[1] if len(e) > 1 else "" for e in self.events(rid) if e[0] == name), None)

    # ---- log

    def mark_log(self):
        self.log_mark = len(self.server.log_text())

    def new_log(self):
        return self.server.log_text()[self.log_mark:]

    def wait_log(self, *needles, timeout=10.0):
        """Waits for a new log line containing every needle; returns it (or fails with the new log)."""
        def line():
            return next((ln for ln in self.new_log().splitlines() if all(n in ln for n in needles)), None)
        found = wait_until(line, timeout, 0.01)
        assert found, f"no log line with {needles} in:\n{self.new_log()[-3000:]}"
        return found

    # ---- baseline

    def warm(self):
        for route in ("b", "c"):
            r = get(self.port, self.path(route, "ok"), timeout=15)
            assert r.status == 200 and r.body == b"ok\n", r

    def stable_fds(self):
        return stable_fds(self.server)

    def assert_back_to_baseline(self, fds, timeout=12.0):
        s = self.server
        assert s.alive(), f"gateway died:\n{s.output()[-4000:]}"
        assert wait_until(lambda: s.fd_count() <= fds, timeout), \
            f"gateway fds {s.fd_count()} > baseline {fds}: {sorted(os.listdir(f'/proc/{s.pid}/fd'), key=int)}\n" \
            f"{self.new_log()[-2000:]}"
        assert wait_until(lambda: not s.children(), timeout), f"children left: {s.children()}"

    def close(self):
        if getattr(self, "server", None):
            self.server.kill()
        if self.backend is not None:
            try:
                os.killpg(self.backend.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.backend.wait(5)


def stable_fds(server):
    """The gateway's descriptor count once it stops moving (a closed client may linger)."""
    last = [server.fd_count()]

    def steady():
        time.sleep(0.05)
        n = server.fd_count()
        same = n == last[0]
        last[0] = n
        return same
    wait_until(steady, 5)
    return last[0]


def new_id():
    return uuid.uuid4().hex[:12]


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ws_upgrade_request(path, port):
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()


def open_upgrade(rig, path):
    """Sends a WebSocket upgrade request; returns the connection (response not read)."""
    c = HTTPConnection(rig.port, timeout=15)
    c.send(ws_upgrade_request(path, rig.port))
    return c

"""Helpers for the Switchyard end-to-end tests: server process control and raw HTTP.

Switchyard(config_text, tmp_path) writes the config (adding
`server.bind = "127.0.0.1"` and `server.port = 0` unless the text sets them),
starts the binary (env SWITCHYARD_BIN, default <repo>/.build/debug/switchyard)
in its own process group, waits for `switchyard: listening on http://H:P/` on
stderr and exposes .port/.url.  stop() sends SIGTERM and expects exit code 0;
kill() (always called at teardown) SIGKILLs the whole process group.

Reference mode (to check the tests themselves): SWITCHYARD_E2E_REFERENCE=lighttpd
runs `lighttpd -D -f` on the same config instead, with a free port chosen here.
Tests marked `switchyard_only` are skipped in that mode.
"""
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SEEDS = Path(os.environ.get("SWITCHYARD_SEEDS") or REPO.parent / "shared" / "seeds")  # env: to check the missing-seeds path
CGI_TEST = REPO / "Fixtures" / "cgi-test"
CGI_BIN = REPO / "cgi-bin"
from e2e_require import IN_CI, require, require_executable, require_module  # noqa: F401 - re-exported
REFERENCE = os.environ.get("SWITCHYARD_E2E_REFERENCE", "")
LISTEN_RE = re.compile(r"listening on https?://(\[[^\]]*\]|[^:/\s]+):(\d+)/")


def switchyard_bin() -> Path:
    return Path(os.environ.get("SWITCHYARD_BIN") or REPO / ".build" / "debug" / "switchyard")


def require_binary():
    if REFERENCE:
        return
    require_executable(switchyard_bin(), "run `swift build` or set SWITCHYARD_BIN")


def require_seeds() -> Path:
    require(SEEDS.is_dir(), f"seed fixtures not found at {SEEDS}")
    return SEEDS


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def q(s) -> str:
    """Quote a value as a config string literal."""
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


_ALL = []


class Switchyard:
    def __init__(self, config_text, tmp_path, *, env=None, args=(), name="switchyard",
                 start=True, timeout=10.0):
        require_binary()
        self.dir = Path(tmp_path)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf_path = self.dir / f"{name}.conf"
        self.extra_env = dict(env or {})
        self.args = list(args)
        self.proc = None
        self.ports = []
        self._lines = {"stdout": [], "stderr": []}
        self._lock = threading.Lock()
        self._listening = threading.Event()
        self._threads = []
        self._stopped = False
        head = []
        if not re.search(r"^\s*server\.bind\s*=", config_text, re.M):
            head.append('server.bind = "127.0.0.1"')
        if not re.search(r"^\s*server\.port\s*=", config_text, re.M):
            self._ref_port = free_port() if REFERENCE else 0
            head.append(f"server.port = {self._ref_port}")
        else:
            m = re.search(r"^\s*server\.port\s*=\s*(\d+)", config_text, re.M)
            self._ref_port = int(m.group(1)) if m else 0
        self.config_text = "\n".join(head) + "\n" + config_text + "\n"
        self.conf_path.write_text(self.config_text)
        _ALL.append(self)
        if start:
            self.start(timeout)

    # ---- process control ----

    def command(self):
        if REFERENCE == "lighttpd":
            return ["lighttpd", "-D", "-f", str(self.conf_path)]
        return [str(switchyard_bin()), "-f", str(self.conf_path), *self.args]

    def start_without_wait(self):
        """Starts the process and its output readers; returns at once (for a server that only
        starts listening later, e.g. exec'd by systemd-socket-activate on the first connection)."""
        env = dict(os.environ)
        env.update(self.extra_env)
        self.proc = subprocess.Popen(self.command(), cwd=self.dir, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        self.pid = self.proc.pid
        for stream, key in ((self.proc.stdout, "stdout"), (self.proc.stderr, "stderr")):
            t = threading.Thread(target=self._reader, args=(stream, key), daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def start(self, timeout=10.0):
        self.start_without_wait()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if REFERENCE:
                try:
                    socket.create_connection(("127.0.0.1", self._ref_port), timeout=0.5).close()
                    self.ports = [self._ref_port]
                    self._listening.set()
                except OSError:
                    pass
            if self._listening.wait(0.05):
                return self
            if self.proc.poll() is not None:
                time.sleep(0.1)  # let the reader threads catch the last output
                self.kill()
                pytest.fail(f"switchyard exited with {self.proc.returncode} before listening\n"
                            f"config:\n{self.config_text}\noutput:\n{self.output()}")
        self.kill()
        pytest.fail(f"switchyard did not print 'listening on' within {timeout}s\n"
                    f"config:\n{self.config_text}\noutput:\n{self.output()}")

    def _reader(self, stream, key):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace")
            with self._lock:
                self._lines[key].append(line)
            m = LISTEN_RE.search(line)
            if m:
                self.ports.append(int(m.group(2)))
                self._listening.set()
        stream.close()

    @property
    def port(self) -> int:
        return self.ports[0]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=10.0, sig=signal.SIGTERM, expect_code=0):
        """Graceful stop: signal the server only (not its CGI children), wait, check the exit code."""
        if self.alive():
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"switchyard did not exit within {timeout}s after {sig!r}\noutput:\n{self.output()}")
        self._join()
        self._stopped = True
        if expect_code is not None:
            assert code == expect_code, f"exit code {code}, expected {expect_code}\noutput:\n{self.output()}"
        return code

    def kill(self):
        """SIGKILL the server's whole process group (server and any CGI left in it), and every
        descendant in another group (spawned bin-path backends run in their own process groups)."""
        if self.proc is None:
            return
        family = []
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGSTOP)  # no new spawns while we look
                family = descendant_pids(self.proc.pid)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for pid in family:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self._join()

    def _join(self):
        for t in self._threads:
            t.join(2)

    # ---- output ----

    def output(self) -> str:
        with self._lock:
            return "".join(self._lines["stderr"]) + "".join(self._lines["stdout"])

    def log_text(self) -> str:
        """Error log: captured stderr, plus server.errorlog's file if the config names one."""
        text = self.output()
        m = re.search(r'^\s*server\.errorlog\s*=\s*"([^"]+)"', self.config_text, re.M)
        if m:
            p = Path(m.group(1))
            if not p.is_absolute():
                p = self.dir / p
            if p.exists():
                text += p.read_text("utf-8", "replace")
        return text

    def wait_for_log(self, needle, timeout=5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log_text():
                return True
            time.sleep(0.05)
        return needle in self.log_text()

    # ---- /proc helpers ----

    def children(self):
        """[(pid, state)] of the server's direct children."""
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == self.pid:
                out.append((int(d), fields[0]))
        return out

    def fd_count(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0


def kill_all():
    for s in _ALL:
        s.kill()
    _ALL.clear()


def descendant_pids(pid):
    """Live descendants of pid (children, grandchildren, ...), found through /proc/*/stat."""
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            parent[int(d)] = int(stat.rsplit(")", 1)[1].split()[1])
    out, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out += kids
        frontier += kids
    return out


def proc_state(pid):
    """State letter of a process, or None when it no longer exists."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def wait_until(pred, timeout=10.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


# ---------------------------------------------------------------- raw HTTP

class Response:
    def __init__(self, version, status, reason, headers, body=b"", trailers=(), raw_head=b""):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers          # [(name, value)] in order
        self.body = body
        self.trailers = list(trailers)
        self.raw_head = raw_head

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def headers_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def has(self, name):
        return self.header(name) is not None

    @property
    def chunked(self):
        te = self.header("transfer-encoding", "")
        return te.lower().split(",")[-1].strip() == "chunked"

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return f"<Response {self.status} {self.reason!r} {self.headers!r} body={self.body[:200]!r}>"


class ConnectionClosed(Exception):
    pass


class HTTPConnection:
    """One client connection with a read buffer, for keep-alive/pipelining and odd requests."""

    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        self.port = port
        self.host = host
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.buf = bytearray()

    def settimeout(self, t):
        self.sock.settimeout(t)

    def send(self, data: bytes, ignore_reset=False):
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            if not ignore_reset:
                raise

    def request(self, method, target, headers=(), body=b"", version="HTTP/1.1", host=True, close=False):
        self.send(build_request(method, target, headers, body, version,
                                host=f"127.0.0.1:{self.port}" if host is True else host, close=close))

    def _fill(self):
        try:
            chunk = self.sock.recv(1 << 20)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise ConnectionClosed(f"connection closed; unparsed bytes: {bytes(self.buf[:300])!r}")
        self.buf += chunk

    def read_until(self, delim: bytes, limit=1 << 24) -> bytes:
        while True:
            i = self.buf.find(delim)
            if i >= 0:
                out = bytes(self.buf[:i + len(delim)])
                del self.buf[:i + len(delim)]
                return out
            if len(self.buf) > limit:
                raise AssertionError(f"no {delim!r} within {limit} bytes")
            self._fill()

    def read_exact(self, n) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_to_eof(self) -> bytes:
        try:
            while True:
                self._fill()
        except ConnectionClosed:
            pass
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def read_response(self, method="GET") -> Response:
        """Read one response (a 1xx interim response is returned as such)."""
        head = self.read_until(b"\r\n\r\n")
        lines = head[:-4].split(b"\r\n")
        m = re.match(rb"(HTTP/\d\.\d) (\d{3})(?: (.*))?$", lines[0])
        assert m, f"bad status line {lines[0]!r}"
        version, status, reason = m.group(1).decode(), int(m.group(2)), (m.group(3) or b"").decode("latin-1")
        headers = []
        for line in lines[1:]:
            k, sep, v = line.partition(b":")
            assert sep, f"bad response header line {line!r}"
            headers.append((k.decode("latin-1"), v.strip().decode("latin-1")))
        r = Response(version, status, reason, headers, raw_head=head)
        if method == "HEAD" or 100 <= status < 200 or status in (204, 304):
            return r
        if r.chunked:
            body = bytearray()
            while True:
                size_line = self.read_until(b"\r\n")
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    break
                body += self.read_exact(size)
                assert self.read_exact(2) == b"\r\n", "chunk not followed by CRLF"
            while True:
                t = self.read_until(b"\r\n")
                if t == b"\r\n":
                    break
                r.trailers.append(t[:-2].decode("latin-1"))
            r.body = bytes(body)
        elif r.header("content-length") is not None:
            r.body = self.read_exact(int(r.header("content-length")))
        else:
            r.body = self.read_to_eof()
        return r

    def read_final_response(self, method="GET") -> Response:
        while True:
            r = self.read_response(method)
            if r.status >= 200 or r.status == 101:
                return r

    def wait_closed(self, timeout=5.0) -> bool:
        """True if the server closes (EOF or reset) within timeout; data received meanwhile stays in buf."""
        self.sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def build_request(method, target, headers=(), body=b"", version="HTTP/1.1", host=None, close=False) -> bytes:
    hdrs = list(headers.items()) if isinstance(headers, dict) else list(headers)
    names = {k.lower() for k, _ in hdrs}
    if host and "host" not in names:
        hdrs.insert(0, ("Host", host))
    if body and "content-length" not in names and "transfer-encoding" not in names:
        hdrs.append(("Content-Length", str(len(body))))
    if close and "connection" not in names:
        hdrs.append(("Connection", "close"))
    head = f"{method} {target} {version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs) + "\r\n"
    return head.encode("latin-1") + body


def request(port, method, target, headers=(), body=b"", version="HTTP/1.1", timeout=10.0, host=True) -> Response:
    """One request with Connection: close; returns the final response."""
    with HTTPConnection(port, timeout=timeout) as c:
        c.request(method, target, headers, body, version, host=host, close=True)
        return c.read_final_response(method)


def get(port, target, headers=(), **kw) -> Response:
    return request(port, "GET", target, headers, **kw)


def raw(port, data: bytes, method="GET", timeout=10.0) -> Response:
    """Send raw bytes, return the first final response."""
    with HTTPConnection(port, timeout=timeout) as c:
        c.send(data, ignore_reset=True)
        return c.read_final_response(method)


def chunk_encode(data: bytes, sizes=(1, 7, 100, 4096, 65536, 1 << 20)) -> bytes:
    out = bytearray()
    i = 0
    k = 0
    while i < len(data):
        n = sizes[k % len(sizes)]
        k += 1
        part = data[i:i + n]
        i += n
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    out += b"0\r\n\r\n"
    return bytes(out)


def pattern(n: int) -> bytes:
    """The download.py/flood.py pattern: 16-byte lines "%015d\\n" % line, truncated to n."""
    lines = n // 16 + 1
    return b"".join(b"%015d\n" % k for k in range(lines))[:n]


def copy_tree(files, dest: Path):
    """Copy fixture files into dest keeping their modes. files: {relative_dest: source_path}."""
    import shutil
    for rel, src in files.items():
        d = dest / rel
        d.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, d)


def ws_handshake(port, path, timeout=10):
    """A raw WebSocket upgrade through the gateway: the socket and any bytes after the 101 head."""
    import wsframes
    c = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    key = wsframes.new_key()
    c.sendall((f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = c.recv(4096)
        assert chunk, f"closed during handshake: {head!r}"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return c, head.split(b"\r\n\r\n", 1)[1]


def stop_with_apps(s, apps):
    """Stops a gateway gracefully (it TERMs the backends it spawned, which run in process groups of
    their own that its SIGKILL would orphan), then SIGKILLs any of `apps` (pids) still there."""
    s.stop(expect_code=None)
    if not wait_until(lambda: all(proc_state(pid) in (None, "Z") for pid in apps), 10):
        for pid in apps:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    s.kill()

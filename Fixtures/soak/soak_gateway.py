"""The gateway under soak: its document root and generated configuration, the process itself, and
what /proc says about it and its descendants. Every backend path of the gateway sits behind its own
URL prefix of one gateway, so a leak anywhere shows up in one set of samples.
"""
import os
import shutil
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"listening on http://([0-9.]+):(\d+)/")


@dataclass
class SoakPath:
    """One backend path: its WebSocket and plain URLs, what a GET must answer, and how to recognise
    the gateway's long-lived child serving it (None: mod_cgi, a process per request)."""
    name: str
    ws_url: str
    get_url: str
    get_status: int
    get_body: bytes
    backend_marker: str = None
    weight: int = 1          # share of the held connections
    fd_cost: int = 6         # gateway descriptors per held WebSocket (measured, see held_counts)
    rate_factor: float = 1.0  # share of the churn rate (the Python CGI costs a python3 start per cycle)


def soak_paths():
    """The weights keep 5 000 held WebSockets within a 20 000-descriptor gateway: a held WebSocket
    costs the gateway 5 descriptors on mod_cgi (client, three pipes, pidfd), 6 on SCGI/uwsgi
    (client, backend socket, two splice pipes) and 1 on FastCGI (client; the backend connection is
    shared), so FastCGI paths hold the most (about 3.2 descriptors per held WebSocket overall)."""
    return [
        SoakPath("cgi-c", "/cgi/echo", "/cgi/hello", 200, b"hello world\n", weight=8, fd_cost=5),
        SoakPath("cgi-py", "/cgi/ws_echo.py", "/cgi/ws_echo.py", 400, b"WebSocket echo endpoint", weight=2,
                 fd_cost=5, rate_factor=0.25),
        SoakPath("scgi-cgi", "/scgi-cgi/echo", "/scgi-cgi/hello", 200, b"hello world\n", "scgi-cgi", weight=8),
        SoakPath("fcgi-cgi", "/fcgi-cgi/echo", "/fcgi-cgi/hello", 200, b"hello world\n", "fcgi-cgi", weight=24,
                 fd_cost=1),
        SoakPath("scgi-app", "/scgi-app/ws", "/scgi-app/plain", 200, b"echo-app ok GET /scgi-app/plain",
                 "--protocol scgi", weight=10),
        SoakPath("fcgi-app", "/fcgi-app/ws", "/fcgi-app/plain", 200, b"echo-app ok GET /fcgi-app/plain",
                 "--protocol fastcgi", weight=36, fd_cost=1),
        SoakPath("uwsgi", "/uwsgi/ws", "/uwsgi/plain", 200, b"uwsgi-echo ok GET /uwsgi/plain", "uwsgi_echo.py",
                 weight=12),
    ]


def q(s) -> str:
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def binaries(build_dir: Path) -> dict:
    """Every program the soak needs, or SystemExit naming the missing one and how to build it."""
    need = {
        "switchyard": (build_dir / "switchyard", "make release"),
        "echo-app": (build_dir / "switchyard-echo-app", "make release"),
        "scgi-cgi": (build_dir / "scgi-cgi", "make release"),
        "fcgi-cgi": (build_dir / "fcgi-cgi", "make release"),
        "ws-echo-fast": (REPO / "cgi-bin" / "ws-echo-fast", "make c-progs"),
        "hello-cgi": (REPO / "Fixtures" / "bin" / "hello-cgi", "make c-progs"),
        "ws_echo.py": (REPO / "cgi-bin" / "ws_echo.py", "git checkout"),
        "uwsgi_echo.py": (REPO / "Fixtures" / "soak" / "uwsgi_echo.py", "git checkout"),
    }
    for name, (path, how) in need.items():
        if not os.access(path, os.X_OK):
            raise SystemExit(f"soak: {path} missing or not executable ({how})")
    return {name: path for name, (path, _) in need.items()}


def prepare(tmp: Path, bins: dict) -> str:
    """Document root (copies of the programs: a CGI script must resolve inside the document root)
    and the configuration text."""
    www = tmp / "www"
    for prefix in ("cgi", "scgi-cgi", "fcgi-cgi"):
        (www / prefix).mkdir(parents=True)
        shutil.copy2(bins["ws-echo-fast"], www / prefix / "echo")
        shutil.copy2(bins["hello-cgi"], www / prefix / "hello")
    shutil.copy2(bins["ws_echo.py"], www / "cgi" / "ws_echo.py")
    bridge = " --max-children 16384"   # the default 256 would refuse the held connections

    def host(sock, bin_path):
        return (f'(( "socket" => {q(tmp / sock)}, "bin-path" => {q(bin_path)}, '
                f'"check-local" => "disable", "upgrade" => 1 ))')

    return f"""
server.document-root = {q(www)}
server.bind = "127.0.0.1"
server.port = 0
server.errorlog = {q(tmp / "error.log")}
server.modules = ("mod_cgi", "mod_scgi", "mod_fastcgi")
$HTTP["url"] =^ "/cgi/" {{
    cgi.assign = ("" => "")
    cgi.upgrade = "enable"
}}
scgi.server = (
    "/scgi-cgi/" => {host("scgi-cgi.sock", str(bins["scgi-cgi"]) + bridge)},
    "/scgi-app/" => {host("scgi-app.sock", f"{bins['echo-app']} --protocol scgi")}
)
fastcgi.server = (
    "/fcgi-cgi/" => {host("fcgi-cgi.sock", str(bins["fcgi-cgi"]) + bridge)},
    "/fcgi-app/" => {host("fcgi-app.sock", f"{bins['echo-app']} --protocol fastcgi")}
)
$HTTP["url"] =^ "/uwsgi/" {{
    scgi.protocol = "uwsgi"
    scgi.server = ( "/uwsgi/" => {host("uwsgi.sock", f"{sys.executable} {bins['uwsgi_echo.py']}")} )
}}
"""


class Gateway:
    """A started `switchyard -f CONFIG`: its address, its stderr (kept in a file), its exit."""

    def __init__(self, binary: Path, config_text: str, tmp: Path, start_timeout=30):
        self.tmp = tmp
        conf = tmp / "switchyard.conf"
        conf.write_text(config_text)
        self.stderr_path = tmp / "switchyard.stderr"
        self.proc = subprocess.Popen([str(binary), "-f", str(conf)], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        self.pid = self.proc.pid
        self.host, self.port = None, None
        found = threading.Event()
        threading.Thread(target=self._pump, args=(found,), daemon=True).start()
        if not found.wait(start_timeout) or self.port is None:
            self.kill_all()
            raise SystemExit(f"soak: gateway did not report its address within {start_timeout} s:\n"
                             + self.output()[-2000:])

    def _pump(self, found):
        """Copies stderr to a file (so a chatty gateway never blocks) and spots the listening line."""
        with open(self.stderr_path, "wb") as out:
            for line in self.proc.stderr:
                out.write(line)
                out.flush()
                m = LISTENING.search(line.decode("utf-8", "replace"))
                if m and self.port is None:
                    self.host, self.port = m.group(1), int(m.group(2))
                    found.set()
        found.set()

    def output(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout=60):
        """SIGTERM (the gateway stops its backends), wait; then SIGKILL whatever is left, by pid.
        Returns (exit code or None if it had to be killed, pids that outlived the gateway)."""
        before = descendants(self.pid)
        code = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        deadline = time.monotonic() + 10
        left = [p for p in before if alive(p)]
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = [p for p in left if alive(p)]
        for p in left:
            kill_pid(p)
        return code, left

    def kill_all(self):
        """Emergency cleanup (Ctrl-C, driver failure): SIGKILL the gateway and every descendant."""
        for p in descendants(self.pid) if self.proc.poll() is None else []:
            kill_pid(p)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def alive(pid) -> bool:
    state = proc_stat(pid)
    return state is not None and state[0] != "Z"


def kill_pid(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def proc_stat(pid):
    """(state, ppid) from /proc/PID/stat, or None when gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[1])


def process_table():
    """{pid: (state, ppid)} of every process."""
    table = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(int(d))
            if st:
                table[int(d)] = st
    return table


def descendants(pid, table=None):
    table = table if table is not None else process_table()
    children = {}
    for p, (_, pp) in table.items():
        children.setdefault(pp, []).append(p)
    out, frontier = [], [pid]
    while frontier:
        for c in children.get(frontier.pop(), []):
            out.append(c)
            frontier.append(c)
    return out


def proc_status(pid) -> dict:
    """VmRSS (KiB), Threads and open descriptors of one process; {} when it is gone."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                out["rss_kib"] = int(line.split()[1])
            elif line.startswith("Threads:"):
                out["threads"] = int(line.split()[1])
        out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, ValueError):
        return {}
    return out


def fd_targets(pid) -> dict:
    """{fd: what it is} ("socket:[inode]", "pipe:[inode]", "anon_inode:[pidfd]", a path)."""
    out = {}
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return out
    for name in names:
        try:
            out[int(name)] = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            pass
    return out


def leftover_fds(before: dict, after: dict) -> list:
    """Descriptors open at the end that were not open (as the same object) at the baseline."""
    return [f"{fd} -> {t}" for fd, t in sorted(after.items()) if before.get(fd) != t]


def cmdline(pid) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


@dataclass
class ProcessSnapshot:
    """What /proc says at one instant: the gateway, its descendants per path, the long-lived backends."""
    gateway: dict
    descendants: int = 0
    zombies: int = 0
    per_path_children: dict = field(default_factory=dict)   # path -> live descendants (not the backend itself)
    per_path_zombies: dict = field(default_factory=dict)    # path -> zombies in its subtree
    backends: dict = field(default_factory=dict)            # path -> {"pid", "rss_kib", "fds", "threads"}


def snapshot(gateway_pid) -> ProcessSnapshot:
    """Attributes every process under the gateway to a path (all paths: the gateway runs them all,
    whichever the soak drives)."""
    table = process_table()
    snap = ProcessSnapshot(gateway=proc_status(gateway_pid))
    snap.per_path_children = {p.name: 0 for p in soak_paths()}
    snap.per_path_zombies = {p.name: 0 for p in soak_paths()}
    by_marker = [(p.backend_marker, p.name) for p in soak_paths() if p.backend_marker]
    children = {}
    for p, (_, pp) in table.items():
        children.setdefault(pp, []).append(p)
    for top in children.get(gateway_pid, []):
        line = cmdline(top)
        owner = next((name for marker, name in by_marker if marker in line), None)
        subtree = [top] + descendants(top, table)
        for p in subtree:
            if table.get(p, ("?",))[0] == "Z":
                snap.zombies += 1
            else:
                snap.descendants += 1
        live = [p for p in subtree if table.get(p, ("?",))[0] != "Z"]
        if owner:
            snap.backends[owner] = dict(pid=top, **proc_status(top))
            snap.per_path_children[owner] += len(live) - 1
        else:   # a mod_cgi process: the Python echo or a C program (a zombie's cmdline is empty)
            owner = "cgi-py" if "ws_echo.py" in line else "cgi-c"
            snap.per_path_children[owner] += len(live)
        snap.per_path_zombies[owner] += len(subtree) - len(live)
    return snap

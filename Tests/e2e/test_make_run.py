"""`make run` on a fresh machine: from a clean clone (no C fixtures built, nothing `make test`
installed), it builds only what the demo needs — the gateway and the C echo CGI — never the
libfcgi fixture, and the demo answers.

The Swift build itself is the one CI already did (a wrapper stands in for `swift` and copies the
built programs), so the test checks the Makefile's logic in seconds; the C compiler is real but
refuses `-lfcgi`, as on a machine without libfcgi-dev.
"""
import os
import re
import shutil
import signal
import subprocess
import time

from e2e_util import REPO, free_port, get, require, require_binary, require_module, switchyard_bin

FAKE_SWIFT = """#!/bin/sh
# Stands in for the toolchain: `make run` may only ask for a release build of the gateway.
echo "swift $*" >> "$RUN_LOG"
[ "$*" = "build -c release" ] || { echo "unexpected: swift $*" >&2; exit 3; }
mkdir -p .build/release
for p in switchyard scgi-cgi fcgi-cgi switchyard-echo-app; do cp "$PREBUILT/$p" .build/release/; done
"""

NO_LIBFCGI_CC = """#!/bin/sh
# A machine without libfcgi-dev: linking against it fails.
echo "cc $*" >> "$RUN_LOG"
for a in "$@"; do [ "$a" = "-lfcgi" ] && { echo "cc: cannot find -lfcgi" >&2; exit 1; }; done
exec cc "$@"
"""


def clean_copy(dest):
    """What a clean clone of this working tree holds: the files git tracks or would track (so an
    uncommitted change is tested too), none of the build products or ignored files."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True, timeout=60).stdout.split(b"\0")
    for raw in filter(None, listed):
        rel = raw.decode()
        src, dst = REPO / rel, dest / rel
        if not os.path.lexists(src):
            continue                      # deleted in the working tree
        dst.parent.mkdir(parents=True, exist_ok=True)
        if os.path.islink(src):
            os.symlink(os.readlink(src), dst)
        else:
            shutil.copy2(src, dst)
    return dest


def test_make_run_from_a_clean_clone(tmp_path):
    require_binary()
    require(shutil.which("git") is not None and shutil.which("make") is not None and shutil.which("cc") is not None,
            "git, make and cc are needed (make deps)")
    clone = clean_copy(tmp_path / "clone")
    assert not (clone / "Fixtures" / "bin").exists() and not (clone / "cgi-bin" / "ws-echo-fast").exists()
    # The demo lists ../shared/seeds as a script directory, next to the clone as next to the repository.
    if (REPO.parent / "shared").is_dir():
        (tmp_path / "shared").symlink_to(REPO.parent / "shared")
    port, tls_port = free_port(), free_port()
    conf = clone / "Fixtures" / "demo" / "switchyard.conf"
    text = re.sub(r"(?m)^server\.port\s*=.*$", f"server.port = {port}", conf.read_text())
    text, n = re.subn(r'127\.0\.0\.1:8443"', f'127.0.0.1:{tls_port}"', text)
    assert n == 1, "the demo's TLS socket block changed shape"
    conf.write_text(text)
    assert not (clone / ".demo-tls").exists()
    tools = tmp_path / "tools"
    tools.mkdir()
    for name, text in (("swift", FAKE_SWIFT), ("cc", NO_LIBFCGI_CC)):
        (tools / name).write_text(text)
        (tools / name).chmod(0o755)
    log = tmp_path / "run.log"
    env = dict(os.environ, RUN_LOG=str(log), PREBUILT=str(switchyard_bin().parent))
    env.pop("SWITCHYARD_ROOT", None)
    proc = subprocess.Popen(["make", "--no-print-directory", "run", f"SWIFT={tools / 'swift'}", f"CC={tools / 'cc'}"],
                            cwd=clone, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        out = b""
        deadline = time.monotonic() + 60
        while b"listening on" not in out and time.monotonic() < deadline and proc.poll() is None:
            out += os.read(proc.stdout.fileno(), 4096)
        assert b"listening on" in out, out.decode(errors="replace") + log.read_text(errors="replace")
        assert b"http://127.0.0.1:8080/" in out or b"Switchyard demo: http://" in out, out
        # Of what `make deps` installs, make run checks (and as root installs) only the headers the
        # Swift build links against.
        assert b"deps: all present" in out or b"deps: installing Debian packages" in out, out
        assert b"autobahn" not in out.lower(), out   # test tools are make test's, not make run's
        built = log.read_text()
        assert "-lfcgi" not in built and "fcgi" not in built, built
        assert (clone / "cgi-bin" / "ws-echo-fast").is_file(), built
        assert not (clone / "Fixtures" / "bin").exists(), "make run built test fixtures"
        r = get(port, "/")
        assert r.status == 200 and b"<html" in r.body.lower(), r
        # The TLS port, with the certificate make run made on this first run (a local CA and
        # localhost) and printed how to trust (curl --cacert, certutil for Chromium's NSS db).
        ca = clone / ".demo-tls" / "ca.pem"
        assert ca.is_file() and (clone / ".demo-tls" / "server.key").stat().st_mode & 0o077 == 0
        assert f"curl --cacert {ca}".encode() in out and b"certutil -d sql:" in out, out
        https = subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert", str(ca),
                                f"https://localhost:{tls_port}/hello.txt"], capture_output=True, timeout=20)
        assert https.returncode == 0 and https.stdout == (clone / "Fixtures/demo/htdocs/hello.txt").read_bytes(), https
        ignored = subprocess.run(["git", "check-ignore", "-q", ".demo-tls/ca.key"], cwd=REPO, timeout=10)
        assert ignored.returncode == 0, "the demo's keys must be git-ignored"
        # The C echo CGI that make run built answers a WebSocket through the gateway, directly and
        # through the bridges; the echo app over SCGI and FastCGI.
        require_module("websockets")
        from websockets.sync.client import connect
        for path in ("/ws/fast", "/scgi-app/echo", "/fcgi-app/echo", "/scgi-bridge/fast", "/fcgi-bridge/fast",
                     "/tunnel/echo"):
            with connect(f"ws://127.0.0.1:{port}{path}", open_timeout=10, close_timeout=5, proxy=None,
                         ping_interval=None) as ws:
                ws.send(f"fresh machine {path}")
                assert ws.recv(timeout=10) == f"fresh machine {path}"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

"""`make run` on a fresh machine: from a clean clone (no C fixtures built, nothing `make test`
installed), it builds only what the demo needs — the gateway and the C echo CGI — never the
libfcgi fixture, and the demo answers.

The Swift build itself is the one CI already did (a wrapper stands in for `swift` and copies the
built gateway), so the test checks the Makefile's logic in seconds; the C compiler is real but
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
[ "$*" = "build -c release --product switchyard" ] || { echo "unexpected: swift $*" >&2; exit 3; }
mkdir -p .build/release && cp "$PREBUILT" .build/release/switchyard
"""

NO_LIBFCGI_CC = """#!/bin/sh
# A machine without libfcgi-dev: linking against it fails.
echo "cc $*" >> "$RUN_LOG"
for a in "$@"; do [ "$a" = "-lfcgi" ] && { echo "cc: cannot find -lfcgi" >&2; exit 1; }; done
exec cc "$@"
"""


def test_make_run_from_a_clean_clone(tmp_path):
    require_binary()
    require(shutil.which("git") is not None and shutil.which("make") is not None and shutil.which("cc") is not None,
            "git, make and cc are needed (make deps)")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(clone)], check=True, timeout=120)
    assert not (clone / "Fixtures" / "bin").exists() and not (clone / "cgi-bin" / "ws-echo-fast").exists()
    # The demo lists ../shared/seeds as a script directory, next to the clone as next to the repository.
    if (REPO.parent / "shared").is_dir():
        (tmp_path / "shared").symlink_to(REPO.parent / "shared")
    port = free_port()
    conf = clone / "Fixtures" / "demo" / "switchyard.conf"
    conf.write_text(re.sub(r"(?m)^server\.port\s*=.*$", f"server.port = {port}", conf.read_text()))
    tools = tmp_path / "tools"
    tools.mkdir()
    for name, text in (("swift", FAKE_SWIFT), ("cc", NO_LIBFCGI_CC)):
        (tools / name).write_text(text)
        (tools / name).chmod(0o755)
    log = tmp_path / "run.log"
    env = dict(os.environ, RUN_LOG=str(log), PREBUILT=str(switchyard_bin()))
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
        built = log.read_text()
        assert "-lfcgi" not in built and "fcgi" not in built, built
        assert (clone / "cgi-bin" / "ws-echo-fast").is_file(), built
        assert not (clone / "Fixtures" / "bin").exists(), "make run built test fixtures"
        r = get(port, "/")
        assert r.status == 200 and b"<html" in r.body.lower(), r
        # The C echo CGI that make run built answers a WebSocket through the gateway.
        require_module("websockets")
        from websockets.sync.client import connect
        with connect(f"ws://127.0.0.1:{port}/ws/fast", open_timeout=10, close_timeout=5, proxy=None,
                     ping_interval=None) as ws:
            ws.send("fresh machine")
            assert ws.recv(timeout=10) == "fresh machine"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

"""switchyard-bench against a real Switchyard: every mode runs, every echoed byte is checked.

A Switchyard with a mod_cgi upgrade route to the C echo (cgi-bin/ws-echo-fast) and one to the
corrupting echo (Fixtures/bin/corrupt-echo, flips a byte of every Nth message): each mode runs for
one second with --json and must report traffic, no errors and no mismatches; the corrupting echo
must be caught (mismatches > 0, non-zero exit); an unreachable URL and a refused upgrade must fail
with a clear message.

Binaries: SWITCHYARD_BIN_DIR (switchyard and switchyard-bench), else <repo>/.build/debug/.
"""
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from e2e_util import CGI_BIN, REPO, Switchyard, free_port, q, require_executable

pytestmark = pytest.mark.switchyard_only

BIN_DIR = Path(os.environ.get("SWITCHYARD_BIN_DIR") or REPO / ".build" / "debug")
BENCH = BIN_DIR / "switchyard-bench"
ECHO = CGI_BIN / "ws-echo-fast"
CORRUPT = REPO / "Fixtures" / "bin" / "corrupt-echo"


def need(*paths):
    for p in paths:
        require_executable(p)


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    need(BENCH, ECHO, CORRUPT)
    root = tmp_path_factory.mktemp("bench")
    doc = root / "www"
    for d in ("ws", "noupgrade"):
        (doc / d).mkdir(parents=True)
        shutil.copy2(ECHO, doc / d / "echo")
    shutil.copy2(CORRUPT, doc / "ws" / "corrupt")
    with pytest.MonkeyPatch.context() as mp:
        if os.environ.get("SWITCHYARD_BIN_DIR") and not os.environ.get("SWITCHYARD_BIN"):
            mp.setenv("SWITCHYARD_BIN", str(BIN_DIR / "switchyard"))
        s = Switchyard(f"""
server.document-root = {q(doc)}
server.modules += ("mod_cgi", "mod_accesslog")
accesslog.filename = {q(root / "access.log")}
$HTTP["url"] =^ "/ws/" {{
    cgi.assign = ("" => "")
    cgi.upgrade = "enable"
}}
$HTTP["url"] =^ "/noupgrade/" {{
    cgi.assign = ("" => "")
}}
""", root)
    s.access_log = root / "access.log"
    yield s
    s.stop(expect_code=None)
    s.kill()


def bench(*args, timeout=60):
    p = subprocess.run([str(BENCH), *map(str, args)], capture_output=True, text=True, timeout=timeout)
    return p


def bench_json(*args):
    p = bench(*args, "--json", "--no-progress")
    lines = [line for line in p.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON on stdout (exit {p.returncode})\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    return p, json.loads(lines[-1])


@pytest.mark.parametrize("mode,extra", [
    ("pingpong", ["-c", "4", "-s", "64"]),
    ("pipeline", ["-c", "2", "-p", "8", "-s", "1k", "-b"]),
    ("upgrades", ["-c", "4"]),
    ("hold", ["-c", "20", "-i", "0.2"]),
])
def test_every_mode_runs_clean(srv, mode, extra):
    url = f"ws://127.0.0.1:{srv.port}/ws/echo"
    p, r = bench_json(mode, *extra, "-d", "1", "-w", "0.2", "--server-pid", srv.pid, url)
    detail = f"{r}\nstderr:\n{p.stderr}"
    assert p.returncode == 0, detail
    assert r["mode"] == mode
    assert r["errors"] == 0, detail
    assert r["mismatches"] == 0, detail
    assert r["connections_failed"] == 0, detail
    if mode == "upgrades":
        assert r["upgrades_per_sec"] > 0, detail
        assert r["upgrades"] > 0, detail
    else:
        assert r["messages_per_sec"] > 0, detail
    if mode == "hold":
        assert r["connections_ok"] >= 20, detail
        assert r["open_at_end"] == 20, detail
        assert "server_rss_kib_per_connection" in r, detail
    assert r["p50_us"] > 0 and r["p50_us"] <= r["max_us"], detail
    assert 0 <= r["client_cpu_share"] <= 1, detail
    # --server-pid: the gateway's CPU and memory are reported.
    assert r["server_pid"] == srv.pid
    assert r["server_rss_kib_before"] > 0 and r["server_rss_kib_end"] > 0, detail
    assert r["server_cpu_seconds"] >= 0, detail


def test_table_output(srv):
    p = bench("pingpong", "-d", "0.5", "-w", "0", "--no-progress", f"ws://127.0.0.1:{srv.port}/ws/echo")
    assert p.returncode == 0, p.stderr
    for word in ("latency (µs)", "p50", "mismatches", "client CPU"):
        assert word in p.stdout, p.stdout


def test_corrupting_echo_is_caught(srv):
    url = f"ws://127.0.0.1:{srv.port}/ws/corrupt?every=5"
    p, r = bench_json("pingpong", "-c", "2", "-d", "1", "-w", "0", url)
    assert r["mismatches"] > 0, f"{r}\nstderr:\n{p.stderr}"
    assert p.returncode != 0, r
    assert "mismatch" in p.stderr.lower() or "differ" in p.stderr.lower(), p.stderr


def test_unreachable_url_fails_clearly():
    port = free_port()
    p = bench("pingpong", "-d", "1", "--timeout", "2", f"ws://127.0.0.1:{port}/ws/echo", timeout=30)
    assert p.returncode != 0
    assert p.returncode == 2, (p.returncode, p.stderr)
    msg = p.stderr.lower()
    assert f"127.0.0.1:{port}" in p.stderr and ("refused" in msg or "connect" in msg), p.stderr
    assert not p.stdout.strip(), p.stdout


def test_refused_upgrade_prints_the_status_line(srv):
    # Without cgi.upgrade the gateway removes Upgrade; the echo CGI answers 400.
    p = bench("upgrades", "-d", "1", f"ws://127.0.0.1:{srv.port}/noupgrade/echo", timeout=30)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "upgrade refused" in p.stderr, p.stderr
    assert "HTTP/1.1 400" in p.stderr, p.stderr


def test_not_a_websocket_url():
    p = bench("pingpong", "http://127.0.0.1:1/", timeout=30)
    assert p.returncode == 2
    assert "not a ws:// or wss:// URL" in p.stderr, p.stderr
    p = bench("handshakes", "ws://127.0.0.1:1/", timeout=30)
    assert p.returncode == 2 and "not an http:// or https:// URL" in p.stderr, p.stderr


def test_usage_error_exit_code():
    p = bench("pingpong", "--connections", "0", "ws://127.0.0.1:1/", timeout=30)
    assert p.returncode == 2
    assert "expected a positive integer" in p.stderr, p.stderr


def test_source_addresses_round_robin(srv):
    """--source-addresses: connection i binds address i % n before connecting (the preflight is
    connection 0); the gateway's access log shows which address each upgrade came from."""
    start = srv.access_log.stat().st_size if srv.access_log.exists() else 0
    url = f"ws://127.0.0.1:{srv.port}/ws/echo"
    p, r = bench_json("hold", "-c", "6", "-i", "0.2", "-d", "0.5", "-w", "0",
                      "--source-addresses", "127.0.0.2-4", url)
    detail = f"{r}\nstderr:\n{p.stderr}"
    assert p.returncode == 0 and r["errors"] == 0 and r["open_at_end"] == 6, detail
    counts = {}
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with open(srv.access_log, "rb") as f:
            f.seek(start)
            lines = f.read().decode(errors="replace").splitlines()
        counts = {}
        for line in lines:
            host = line.split(" ", 1)[0]
            if "/ws/echo" in line and host.startswith("127.0.0."):
                counts[host] = counts.get(host, 0) + 1
        if sum(counts.values()) >= 7:
            break
        time.sleep(0.1)
    assert counts == {"127.0.0.2": 3, "127.0.0.3": 2, "127.0.0.4": 2}, f"{counts}\n{detail}"


def test_source_address_that_is_not_local_fails_clearly(srv):
    url = f"ws://127.0.0.1:{srv.port}/ws/echo"
    p = bench("hold", "-c", "1", "-d", "0.2", "--source-addresses", "192.0.2.1", url, timeout=30)
    assert p.returncode == 2, p.stderr
    assert "bind" in p.stderr and "192.0.2.1" in p.stderr, p.stderr
    p = bench("hold", "-c", "1", "--source-addresses", "::1", url, timeout=30)
    assert p.returncode == 2 and "address family" in p.stderr, p.stderr

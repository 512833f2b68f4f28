"""The churn soak's own machinery (Fixtures/soak; `make soak` itself is not part of `make test`):
the verdict rules on synthetic samples (a steady leak fails, a one-off burst of load does not,
descriptors piling up for a while do not, a rising floor does), and a few seconds of the real
driver against the gateway on three paths, checking its outputs and that it leaves no process.
"""
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from e2e_util import REPO, descendant_pids

SOAK = REPO / "Fixtures" / "soak"
sys.path.insert(0, str(SOAK))

from soak_report import Analysis, LIMITS  # noqa: E402

pytestmark = pytest.mark.switchyard_only


def samples(rss, fds=None, interval=10):
    """A baseline sample, then one churn sample per value."""
    out = [{"t": 0.0, "phase": "baseline", "rss": rss[0], "fds": (fds or [30])[0]}]
    for i, v in enumerate(rss):
        out.append({"t": 5.0 + i * interval, "phase": "churn", "rss": v, "fds": fds[i] if fds else 30})
    return out


def rss_ok(series, cycles_per_second=100):
    a = Analysis(samples(series), (len(series) - 1) * 10)
    return a.check_rss("rss", "RSS", cycles_per_second)


def test_rss_rule_fails_a_steady_leak():
    # 3 KiB per cycle at 100 cycles/s: +3000 KiB per 10 s sample
    ok, text = rss_ok([20000 + 3000 * i for i in range(13)])
    assert not ok, text
    assert "B/cycle" in text


def test_rss_rule_fails_a_slow_leak_in_a_long_run():
    # 100 B/cycle is under the per-cycle limit, but 30 minutes of it is far more than 8 MiB
    series = [20000 + 100 * 100 * 10 // 1024 * i for i in range(181)]
    ok, text = rss_ok(series)
    assert not ok, text


def test_rss_rule_ignores_a_one_off_burst_and_noise():
    flat = [20000, 20004, 19996, 20000, 20008, 20000, 20004, 20000, 20000, 20004, 20000, 20000, 20000]
    assert rss_ok(flat)[0]
    burst = flat[:10] + [25000, 25400, 25400]   # cycles piled up once: the high-water mark rose
    ok, text = rss_ok(burst)
    assert ok, text


def test_rss_rule_fails_a_large_step_rise():
    step = [20000] * 8 + [20000 + LIMITS["rss_rise_kib"] + 4096] * 5
    ok, text = rss_ok(step)
    assert not ok, text


def test_floor_rule_on_descriptors():
    rss = [20000] * 12
    busy = [2200, 2210, 2190, 2800, 2900, 2200, 2190, 2205, 2195, 2200, 2750, 2200]   # load, no leak
    a = Analysis(samples(rss, busy), 110)
    assert a.check_floor("fds", "fds", LIMITS["fds_growth"])[0]
    leak = [2200 + 20 * i for i in range(12)]
    a = Analysis(samples(rss, leak), 110)
    ok, text = a.check_floor("fds", "fds", LIMITS["fds_growth"])
    assert not ok, text


@pytest.mark.timeout(180)
def test_soak_driver_smoke(tmp_path):
    """A few seconds of the driver on mod_cgi, native SCGI and uwsgi: outputs complete, every
    echo checked and counted, nothing left running."""
    build = Path(os.environ.get("SWITCHYARD_BIN") or REPO / ".build" / "debug" / "switchyard").parent
    needed = [build / "switchyard", build / "switchyard-echo-app", build / "scgi-cgi", build / "fcgi-cgi",
              REPO / "cgi-bin" / "ws-echo-fast", REPO / "Fixtures" / "bin" / "hello-cgi"]
    missing = [str(p) for p in needed if not os.access(p, os.X_OK)]
    if missing:
        msg = f"missing {missing} (swift build; make c-progs)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    out = tmp_path / "out"
    env = dict(os.environ, SOAK_BUILD_DIR=str(build), SOAK_SECONDS="6", SOAK_INTERVAL="2", SOAK_HELD="12",
               SOAK_RATE="3", SOAK_PATHS="cgi-c,scgi-app,uwsgi", SOAK_OUT=str(out))
    proc = subprocess.Popen([sys.executable, str(SOAK / "soak.py")], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        text, _ = proc.communicate(timeout=150)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert descendant_pids(proc.pid) == []
    assert proc.returncode in (0, 1), text
    verdict = (out / "verdict.txt").read_text()
    lines = verdict.splitlines()
    assert lines[-1] in ("SOAK PASS", "SOAK FAIL"), verdict
    assert any(line.split(" ", 2)[1] == "gateway:" for line in lines[1:]), verdict
    for name in ("cgi-c", "scgi-app", "uwsgi"):
        line = next(line for line in lines if line.split(" ", 2)[1:2] == [name + ":"])
        assert " 0 failed" in line and re.search(r"held ([1-9]\d*)/\1 to the end", line), line
    assert (proc.returncode == 0) == (lines[-1] == "SOAK PASS")
    header = (out / "raw" / "samples.csv").read_text().splitlines()[0]
    assert "gw_rss_kib" in header and "uwsgi_backend_fds" in header
    root = ET.parse(out / "soak.svg").getroot()
    assert root.tag.endswith("svg") and len(root.findall(".//{http://www.w3.org/2000/svg}path")) >= 8

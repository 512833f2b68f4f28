"""Helpers of test_autobahn.py: the Autobahn|Testsuite fuzzing client (the Python 3 port that
Fixtures/tools/autobahn_install.sh builds, run by Fixtures/tools/autobahn_client.py), the case
selection, and a conformant echo server (Python `websockets`, permessage-deflate on)."""
import json
import os
import subprocess
import threading
from pathlib import Path

from e2e_require import require, require_module

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("AUTOBAHN_HOME", ROOT / ".build" / "autobahn"))
CLIENT = ROOT / "Fixtures" / "tools" / "autobahn_client.py"
RAW_ECHO = ROOT / "Fixtures" / "wstunnel" / "raw_echo.py"

# The outcomes Autobahn counts as passing (its reports colour them green / blue).
PASSING = {"OK", "NON-STRICT", "INFORMATIONAL"}

# Sections 1-7 and 10 in full; from 9 (limits/performance) and 12/13 (permessage-deflate) the
# small cases only, so the whole file stays near two minutes on two cores:
#   9.1.1/9.2.1 one 64 KiB message; 9.7.2-3/9.8.2-3 1000 round trips of 16 and 64 bytes.
#   Left out: 9.1.2-9.6.x (256 KiB - 16 MiB messages, 4 MiB in 64-byte frames, 1 MiB written in
#   small chops: minutes each here), 9.7.4+/9.8.4+ (the same round trips with bigger payloads),
#   9.7.1/9.8.1 (empty messages, which a tunnel cannot echo: 60 s timeouts; 1.1.1, 1.2.1 and
#   6.1.x cover empty messages).
#   12.1.1-2 / 12.2.1-2: 1000 compressed round trips of 16/64-byte text / binary payloads;
#   13.1.1-13.7.1: 1000 round trips of 16 bytes under each of the seven parameter sets
#   (no_context_takeover, max_window_bits 9/15, a list of offers).  12.x.3+ and 13.x.2+ differ
#   only in payload size and take up to minutes each.
FULL_SECTIONS = ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "10.*"]
TEXT_LIMITS = ["9.1.1", "9.7.2", "9.7.3", "12.1.1", "12.1.2"] + [f"13.{i}.1" for i in range(1, 8)]
BINARY_CASES = ["1.2.*", "9.2.1", "9.8.2", "9.8.3", "12.2.1", "12.2.2"]


def autobahn_python() -> Path:
    python = VENV / "bin" / "python"
    require(python.is_file() and (VENV / ".stamp").is_file(),
            f"Autobahn|Testsuite venv not found at {VENV} (Fixtures/tools/autobahn_install.sh, part of make deps)")
    return python


def run_fuzzing(servers, cases, workdir: Path, exclude=(), timeout=240):
    """Runs the cases against every (agent, url) in `servers`; returns
    {agent: {case id: (behavior, behaviorClose, remoteCloseCode)}} from the suite's index.json."""
    python = autobahn_python()
    outdir = workdir / "reports"
    spec = {"outdir": str(outdir), "cases": list(cases), "exclude-cases": list(exclude),
            "exclude-agent-cases": {},
            "servers": [{"agent": agent, "url": url} for agent, url in servers]}
    spec_path = workdir / "fuzzingclient.json"
    spec_path.write_text(json.dumps(spec, indent=1))
    with open(workdir / "fuzzingclient.log", "wb") as log:
        proc = subprocess.Popen([str(python), str(CLIENT), str(spec_path)], cwd=workdir, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"fuzzing client still running after {timeout} s; log: {workdir / 'fuzzingclient.log'}")
        finally:
            if proc.poll() is None:  # our timeout, the test's time limit (SIGALRM) or ^C
                proc.kill()
                proc.wait()
    log_text = (workdir / "fuzzingclient.log").read_text(errors="replace")
    assert rc == 0 and "Traceback" not in log_text, f"fuzzing client failed (exit {rc}):\n{log_text[-4000:]}"
    index = json.loads((outdir / "index.json").read_text())
    return {agent: {case: (r["behavior"], r["behaviorClose"], r["remoteCloseCode"]) for case, r in results.items()}
            for agent, results in index.items()}


def case_key(case_id):
    return [int(part) for part in case_id.split(".")]


def allows_non_strict(workdir: Path, agent: str, case_id: str) -> bool:
    """True for the cases where the suite itself accepts NON-STRICT next to OK: a valid message
    followed by a protocol violation, where failing at once without echoing the message first is
    allowed. Which of the two a peer does depends on how the bytes arrived (one read or several)."""
    path = workdir / "reports" / f"{agent}_case_{case_id.replace('.', '_')}.json"
    return "NON-STRICT" in json.loads(path.read_text())["expected"]


def case_detail(workdir: Path, agent: str, case_id: str) -> str:
    """The suite's own account of one case (its result lines), for assertion messages."""
    name = f"{agent}_case_{case_id.replace('.', '_')}.json"
    path = workdir / "reports" / name
    if not path.is_file():
        return "(no case report)"
    r = json.loads(path.read_text())
    return f"{r['description'][:120]} | {r['result']} | {r['resultClose']}"


class ConformantEcho:
    """A `websockets` echo server (sync API, permessage-deflate on, no size limit): every message
    back as it came, text or binary. The reference for the proxied runs."""

    def __init__(self):
        require_module("websockets", "the conformant echo server of the Autobahn runs")
        from websockets.sync.server import serve

        def echo(ws):
            try:
                for message in ws:
                    ws.send(message)
            except Exception:  # noqa: BLE001 - a fuzzed peer ends connections every way there is
                pass

        self.server = serve(echo, "127.0.0.1", 0, max_size=None, compression="deflate")
        self.port = self.server.socket.getsockname()[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()

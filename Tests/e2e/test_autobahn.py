"""RFC 6455 / RFC 7692 conformance with the real Autobahn|Testsuite fuzzing client (issue 11).

The suite's case modules (autobahntestsuite 25.10.1, Python 2 code) run on Python 3 through the
port Fixtures/tools/autobahn_install.sh builds (see Fixtures/tools/autobahn_py3.py). Cases: see
autobahn_util.py (sections 1-7 and 10 in full, the small cases of 9, 12 and 13).

(a) mod_wstunnel is the RFC 6455 endpoint itself, a raw byte echo behind it (Fixtures/wstunnel/
    raw_echo.py, spawned via bin-path). A tunnel carries message payloads as a byte stream, so its
    echo has the route's frame type: text cases run against `frame-type = "text"`, binary ones
    against `"binary"`, both with permessage-deflate enabled. Every case must pass (OK, NON-STRICT
    or INFORMATIONAL) except those in TUNNEL_DIFFERS, which must fail exactly as recorded there.
(b) mod_proxy (`proxy.header = ("upgrade" => "enable")`) in front of a conformant echo server
    (`websockets`): every case must end exactly as it does against that server directly - a
    transparent relay adds and removes nothing. One allowance: in the cases where the suite itself
    accepts NON-STRICT next to OK (a valid message, then a violation; failing at once without
    echoing the message is allowed), which of the two the server picks depends on whether the
    bytes arrived in one read or several, and a TCP relay may coalesce the client's octet-wise
    chops (seen: 3.4 OK direct, NON-STRICT proxied). There both must be OK or NON-STRICT and the
    closing (behaviour and close code) must still be identical.
"""
import pytest

from autobahn_util import (BINARY_CASES, FULL_SECTIONS, PASSING, RAW_ECHO, TEXT_LIMITS, ConformantEcho,
                           allows_non_strict, autobahn_python, case_detail, case_key, run_fuzzing)
from e2e_util import q

# Cases the tunnel cannot pass by design, with the outcome they must keep: an empty message has
# no payload bytes, so nothing reaches the backend and no echo comes back (the suite then times out
# and closes; in 1.x with "going away", which the tunnel echoes, hence WRONG CODE).
TUNNEL_DIFFERS = {
    "1.1.1": (("FAILED", "WRONG CODE"), "empty text message: no bytes for the backend, no echo"),
    "6.1.1": (("FAILED", "OK"), "empty text message: no bytes for the backend, no echo"),
    "6.1.2": (("FAILED", "OK"), "text message of empty fragments: no bytes for the backend, no echo"),
    "1.2.1": (("FAILED", "WRONG CODE"), "empty binary message: no bytes for the backend, no echo"),
}


def tunnel_conf(tmp_path, frame_type):
    return f'''server.modules += ("mod_wstunnel")
server.document-root = {q(tmp_path)}
wstunnel.server = ( "/ws/" => ( ( "socket" => {q(tmp_path / "echo.sock")}, "bin-path" => {q(RAW_ECHO)},
                                  "max-procs" => 1 ) ) )
wstunnel.frame-type = "{frame_type}"
wstunnel.permessage-deflate = "enable"
'''


def check_tunnel_results(results, workdir, agent):
    assert results, "no case ran"
    bad = []
    for case in sorted(results, key=case_key):
        behavior, behavior_close, close_code = results[case]
        if case in TUNNEL_DIFFERS:
            expected, why = TUNNEL_DIFFERS[case]
            if (behavior, behavior_close) != expected:
                bad.append(f"{case}: expected {expected} ({why}), got {(behavior, behavior_close, close_code)}")
        elif behavior not in PASSING or behavior_close not in PASSING:
            bad.append(f"{case}: {behavior} / {behavior_close} (close code {close_code}): "
                       f"{case_detail(workdir, agent, case)}")
    assert not bad, f"{len(bad)} of {len(results)} cases not as expected:\n" + "\n".join(bad)


@pytest.mark.switchyard_only  # the recorded outcomes and permessage-deflate are Switchyard's
@pytest.mark.timeout(300)
@pytest.mark.parametrize("frame_type", ["text", "binary"])
def test_autobahn_against_the_tunnel(switchyard, tmp_path, frame_type):
    autobahn_python()
    srv = switchyard(tunnel_conf(tmp_path, frame_type))
    if frame_type == "text":
        cases, exclude = FULL_SECTIONS + TEXT_LIMITS, ["1.2.*"]
    else:
        cases, exclude = BINARY_CASES, []
    agent = f"switchyard-wstunnel-{frame_type}"
    results = run_fuzzing([(agent, f"ws://127.0.0.1:{srv.port}/ws/")], cases, tmp_path, exclude=exclude)[agent]
    check_tunnel_results(results, tmp_path, agent)
    assert len(results) > (200 if frame_type == "text" else 10), sorted(results, key=case_key)


@pytest.mark.timeout(400)
def test_autobahn_through_the_proxy_matches_direct(switchyard, tmp_path):
    autobahn_python()
    echo = ConformantEcho()
    try:
        srv = switchyard(f'''server.modules = ( "mod_proxy" )
server.document-root = {q(tmp_path)}
proxy.server = ( "/ws/" => (( "host" => "127.0.0.1", "port" => {echo.port} )) )
proxy.header = ( "upgrade" => "enable" )
''')
        servers = [("direct", f"ws://127.0.0.1:{echo.port}/ws/"), ("proxied", f"ws://127.0.0.1:{srv.port}/ws/")]
        results = run_fuzzing(servers, FULL_SECTIONS + TEXT_LIMITS + BINARY_CASES, tmp_path, timeout=360)
    finally:
        echo.close()
    direct, proxied = results["direct"], results["proxied"]
    assert len(direct) > 230 and set(direct) == set(proxied), (len(direct), set(direct) ^ set(proxied))
    def same(case):
        if direct[case] == proxied[case]:
            return True
        return (allows_non_strict(tmp_path, "direct", case) and direct[case][1:] == proxied[case][1:]
                and {direct[case][0], proxied[case][0]} <= {"OK", "NON-STRICT"})

    differ = [f"{case}: direct {direct[case]}, proxied {proxied[case]} | {case_detail(tmp_path, 'proxied', case)}"
              for case in sorted(direct, key=case_key) if not same(case)]
    assert not differ, f"{len(differ)} cases differ through the proxy:\n" + "\n".join(differ)
    # The reference itself must be meaningful: a conformant server passes nearly everything.
    failing = [c for c, r in direct.items() if r[0] not in PASSING or r[1] not in PASSING]
    assert len(failing) <= 5, f"the reference echo server fails {sorted(failing, key=case_key)}"

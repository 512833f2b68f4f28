"""TLS certificates reloaded on SIGHUP (issue 12, point 3) and the kernel-TLS fallback (point 4).

SIGHUP: the files `ssl.pemfile`/`ssl.privkey` name are read again; new handshakes get the new
certificate (told apart by its serial number), a WebSocket opened before keeps echoing, and a
broken replacement (garbage, a key that does not match, a missing file) is refused with a log
line while the loaded certificate stays in use. A key readable by others is a warning.

Fallback: this kernel has no `tls` ULP, so TLS responses are user-space copies where plain
sockets use sendfile; a large static file and Range requests come back intact over https.
"""
import os
import shutil
import signal
import socket
import ssl
import subprocess
from pathlib import Path

from e2e_util import q, wait_until
from test_tls import OPENSSL, TLSServer, certs, run_openssl, tls_config, wss_connect  # noqa: F401 (fixture)

import pytest


def issue(certs_dir: Path, name: str, out: str, cn: str):
    """A fresh key and certificate for `cn` from the test CA (a new serial each time)."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    (certs_dir / f"{out}.ext").write_text(f"subjectAltName=DNS:{cn}\n")
    run_openssl(["req", *ec, "-keyout", f"{out}.key", "-out", f"{out}.csr", "-subj", f"/CN={cn}"], certs_dir)
    run_openssl(["x509", "-req", "-in", f"{out}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{out}.crt", "-days", "2", "-extfile", f"{out}.ext"], certs_dir)
    os.chmod(certs_dir / f"{out}.key", 0o600)


def file_serial(path: Path) -> str:
    r = subprocess.run([OPENSSL, "x509", "-noout", "-serial", "-in", str(path)], capture_output=True, check=True)
    return r.stdout.decode().strip()


def served_serial(server, name="a.test") -> str:
    """The serial of the certificate a new handshake gets (verified against the test CA)."""
    ctx = ssl.create_default_context(cafile=str(server.certs / "ca.pem"))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=name) as tls:
            der = tls.getpeercert(binary_form=True)
    r = subprocess.run([OPENSSL, "x509", "-inform", "DER", "-noout", "-serial"], input=der,
                       capture_output=True, check=True)
    return r.stdout.decode().strip()


@pytest.fixture
def live(certs, tmp_path):
    """A copy of the test certificates the server reads (replaced by the test), plus the CA key."""
    d = tmp_path / "live"
    d.mkdir()
    for f in ("ca.pem", "ca.key", "a.test.crt", "a.test.key", "b.test.crt", "b.test.key"):
        shutil.copy2(certs / f, d / f)
    return d


def start(switchyard, live, tmp_path):
    doc = tmp_path / "doc"
    (doc / "ws").mkdir(parents=True)
    (doc / "index.html").write_text("hello over tls\n")
    from e2e_util import CGI_BIN
    shutil.copy(CGI_BIN / "ws_echo.py", doc / "ws" / "ws_echo.py")
    (doc / "ws" / "ws_echo.py").chmod(0o755)
    return TLSServer(switchyard(tls_config(doc, live)), live, doc)


def hup_and_wait(server, needle, count_before):
    server.srv.send_signal(signal.SIGHUP)
    assert wait_until(lambda: server.srv.output().count(needle) > count_before, timeout=5), server.srv.output()


def test_sighup_reloads_certificates_and_keeps_open_connections(switchyard, live, tmp_path):
    s = start(switchyard, live, tmp_path)
    old = file_serial(live / "a.test.crt")
    assert served_serial(s) == old
    ok, refused = "SIGHUP: certificates reloaded", "SIGHUP: certificates not reloaded"
    with wss_connect(s, "/ws/ws_echo.py") as ws:
        ws.send("before the reload")
        assert ws.recv(timeout=10) == "before the reload"
        # A renewal: new key and certificate in place, then SIGHUP.
        issue(live, "live", "next", "a.test")
        new = file_serial(live / "next.crt")
        assert new != old
        os.replace(live / "next.key", live / "a.test.key")
        os.replace(live / "next.crt", live / "a.test.crt")
        hup_and_wait(s, ok, 0)
        assert "SIGHUP: log files reopened" in s.srv.output()   # the log reopen still happens
        assert served_serial(s) == new
        assert served_serial(s, "b.test") == file_serial(live / "b.test.crt")   # SNI names reloaded too
        # The connection opened under the old certificate keeps working.
        for msg in ("after the reload", "x" * 70_000):
            ws.send(msg)
            assert ws.recv(timeout=10) == msg
        assert s.curl("/index.html") == b"hello over tls\n"

        # Broken replacements are refused, each with a line naming the file; the loaded one stays.
        good_key = (live / "a.test.key").read_bytes()
        good_crt = (live / "a.test.crt").read_bytes()
        breakages = [
            ("garbage certificate", lambda: (live / "a.test.crt").write_bytes(os.urandom(600)), "a.test.crt"),
            ("key of another certificate", lambda: shutil.copy(live / "b.test.key", live / "a.test.key"), "does not match"),
            ("missing key", lambda: (live / "a.test.key").unlink(), "a.test.key"),
        ]
        for what, breakage, mentioned in breakages:
            breakage()
            before = s.srv.output().count(refused)
            hup_and_wait(s, refused, before)
            line = [l for l in s.srv.output().splitlines() if refused in l][-1]
            assert mentioned in line, (what, line)
            assert served_serial(s) == new, what
            ws.send(what)
            assert ws.recv(timeout=10) == what
            (live / "a.test.key").write_bytes(good_key)
            (live / "a.test.crt").write_bytes(good_crt)
            os.chmod(live / "a.test.key", 0o600)

    # A key readable by others is loaded with a warning.
    issue(live, "live", "third", "a.test")
    os.replace(live / "third.crt", live / "a.test.crt")
    os.replace(live / "third.key", live / "a.test.key")
    os.chmod(live / "a.test.key", 0o644)
    hup_and_wait(s, ok, s.srv.output().count(ok))
    assert "a.test.key is readable by group or others" in s.srv.output(), s.srv.output()
    assert served_serial(s) == file_serial(live / "a.test.crt")
    assert s.srv.alive()


@pytest.mark.parametrize("ktls", ["default", "forced", "off"])
def test_kernel_tls_status_and_user_space_fallback_serves_files(switchyard, live, tmp_path, ktls):
    """kTLS as the kernel allows: asked for by default where the kernel has the tls ULP, forced
    with Options KTLS (OpenSSL must fall back quietly when the kernel cannot), off with -KTLS; in
    every case large files and ranges come back intact over https."""
    option = {"default": "", "forced": "KTLS", "off": "-KTLS"}[ktls]
    extra = f'ssl.openssl.ssl-conf-cmd = ("Options" => "{option}")' if option else ""
    doc = tmp_path / "doc"
    doc.mkdir()
    s = TLSServer(switchyard(tls_config(doc, live, extra)), live, doc)
    ulps = Path("/proc/sys/net/ipv4/tcp_available_ulp").read_text().split()
    available = "tls" in ulps
    expected = "kernel TLS is available" if available else "kernel TLS is not available"
    assert s.srv.wait_for_log("tls: kernel TLS"), s.srv.output()
    requested = ktls == "forced" or (ktls == "default" and available)
    if requested:
        use = "kTLS is on for" if available else "kTLS was asked for, OpenSSL falls back"
    else:
        use = "kTLS is off" if available else "Switchyard encrypts in user space"
    assert expected in s.srv.output() and use in s.srv.output(), s.srv.output()
    # Files that plain sockets send with sendfile(2): copied through user space over TLS, intact.
    # (HTTP/1.1: the kTLS sendfile path; over h2, files are read in pieces, test_http2.py.)
    body = os.urandom(9 * 1024 * 1024 + 123)
    (s.doc / "large.bin").write_bytes(body)
    assert s.curl("/large.bin", "a.test", "--http1.1") == body
    assert s.curl("/large.bin", "a.test", "--http1.1", "-r", "1000-2999999") == body[1000:3000000]
    assert s.curl("/large.bin", "a.test", "--http1.1", "-r", "-70000") == body[-70000:]
    assert s.curl("/large.bin", "a.test", "--http1.1", "-r", "5000000-") == body[5000000:]
    head, _, part = s.curl("/large.bin", "a.test", "--http1.1", "-r", "100-199", "-i").partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 206") and b"Content-Range: bytes 100-199/%d" % len(body) in head, head
    assert part == body[100:200]


def test_sigusr1_reload_takes_new_certificate_files_and_refuses_a_tls_listener_change(switchyard, live, tmp_path):
    """A live reload (SIGUSR1) reads the configuration again: certificate files it now names
    are used for new handshakes (an open wss keeps its session); turning TLS off on a listener is
    refused (listeners change only at a restart) and the running TLS keeps serving."""
    s = start(switchyard, live, tmp_path)
    issue(live, "live", "renamed", "a.test")
    conf = Path(s.srv.conf_path)
    with wss_connect(s, "/ws/ws_echo.py") as ws:
        ws.send("before")
        assert ws.recv(timeout=10) == "before"
        conf.write_text(s.srv.config_text.replace("a.test.crt", "renamed.crt").replace("a.test.key", "renamed.key"))
        s.srv.send_signal(signal.SIGUSR1)
        assert wait_until(lambda: "reloaded (generation 1)" in s.srv.output(), timeout=5), s.srv.output()
        assert served_serial(s) == file_serial(live / "renamed.crt")
        ws.send("after")
        assert ws.recv(timeout=10) == "after"
    conf.write_text(s.srv.config_text.replace('ssl.engine = "enable"', 'ssl.engine = "disable"'))
    s.srv.send_signal(signal.SIGUSR1)
    assert wait_until(lambda: "ssl.engine changed" in s.srv.output(), timeout=5), s.srv.output()
    assert served_serial(s) == file_serial(live / "renamed.crt")

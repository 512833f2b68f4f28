"""Headless Chromium over https:// and wss:// (issue 12): the demo (`Fixtures/demo/switchyard.conf`, its
TLS listener on an ephemeral port instead of 8443) with the certificate `make run` makes
(`Fixtures/tools/demo-cert.sh`: a local CA and a localhost certificate). The CA is trusted the way a
user would: added to an NSS database (`certutil`, Debian libnss3-tools) under the browser's $HOME —
never --ignore-certificate-errors. The page loads as a secure context and its panels echo over wss
through CGI (Python and C), SCGI and FastCGI (the echo app and the bridges) and mod_wstunnel. The page
comes over HTTP/2 (ALPN h2) and Chromium opens its WebSockets as RFC 8441 streams on that connection.

The control: the same browser without the CA in its database gets the certificate error page.
"""
import os
import re
import shutil
import subprocess
import time

import pytest

from e2e_util import require
from test_browser import browser, demo_config, make_demo_cert, texts, wait_for  # noqa: F401 (fixture)

CERTUTIL = shutil.which("certutil")
PANELS = {
    "echo": "CGI (Python) over wss ✓",
    "fast": "CGI (C) over wss ✓",
    "scgi-app": "SCGI over wss ✓",
    "fcgi-app": "FastCGI over wss ✓",
    "scgi-bridge": "scgi-cgi over wss ✓",
    "fcgi-bridge": "fcgi-cgi over wss ✓",
    "tunnel": "the tunnel over wss ✓",
}


def nss_home(home, ca=None):
    """A $HOME whose ~/.pki/nssdb is a fresh NSS database, trusting `ca` for servers if given."""
    require(CERTUTIL is not None, "certutil not installed (Debian: apt-get install libnss3-tools; make deps)")
    db = home / ".pki" / "nssdb"
    db.mkdir(parents=True)
    subprocess.run([CERTUTIL, "-N", "-d", f"sql:{db}", "--empty-password"], check=True, capture_output=True, timeout=30)
    if ca is not None:
        subprocess.run([CERTUTIL, "-A", "-d", f"sql:{db}", "-t", "C,,", "-n", "Switchyard demo CA", "-i", str(ca)],
                       check=True, capture_output=True, timeout=30)
        listed = subprocess.run([CERTUTIL, "-L", "-d", f"sql:{db}"], check=True, capture_output=True, text=True).stdout
        assert "Switchyard demo CA" in listed, listed
    return dict(os.environ, HOME=str(home))


def established_client_ports(port):
    """The peer ports of server-side ESTABLISHED TCP sockets on a local port (/proc/net/tcp, state 01)."""
    peers = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                peers.add(int(fields[2].rsplit(":", 1)[1], 16))
    return peers


def access_lines(log, paths, timeout=10):
    """The access-log lines of `paths` (the log is flushed once a second; wait for all of them)."""
    deadline = time.monotonic() + timeout
    while True:
        text = log.read_text() if log.exists() else ""
        found = {p: [l for l in text.splitlines() if f" {p} " in l] for p in paths}
        if all(found.values()) or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


@pytest.mark.needs_cgi
@pytest.mark.timeout(150)
def test_demo_over_https_and_wss_with_an_nss_trusted_ca(switchyard, browser, tmp_path):
    from e2e_util import CGI_BIN
    fast = CGI_BIN / "ws-echo-fast"
    if not (fast.is_file() and os.access(fast, os.X_OK)):
        pytest.fail(f"{fast} missing: the demo's C panels need it (`make build` or `make c-progs`)")
    tls_dir = make_demo_cert(tmp_path / "demo-tls")
    srv = switchyard(demo_config(tmp_path / "access.log", tls_dir))
    assert srv.wait_for_log("listening on https://"), srv.output()
    port = int(re.search(r"listening on https://127\.0\.0\.1:(\d+)/", srv.output()).group(1))
    url = f"https://localhost:{port}/"

    driver = browser(env=nss_home(tmp_path / "home", tls_dir / "ca.pem"))
    driver.get(url)
    assert driver.title == "Switchyard demo", (driver.title, driver.page_source[:500])
    assert driver.execute_script("return location.protocol + ' ' + window.isSecureContext") == "https: true"

    # The connections the page load left (Chromium may keep a spare one it opened while the first
    # handshake was slow): the WebSockets below must not add any.
    assert driver.execute_script("return performance.getEntriesByType('navigation')[0].nextHopProtocol") == "h2"
    page_connections = established_client_ports(port)
    assert page_connections, "no established connection after the page load"

    from selenium.webdriver.common.by import By
    paths = {}
    for name, message in PANELS.items():
        panel = driver.find_element(By.CSS_SELECTOR, f'section.panel[data-name="{name}"]')
        paths[name] = panel.get_attribute("data-path")
        panel.find_element(By.CSS_SELECTOR, "button.connect").click()
        wait_for(driver, lambda d: d.find_element(By.ID, f"status-{name}").text == "open",
                 f"panel {name}: wss open", srv)
        box = panel.find_element(By.CSS_SELECTOR, "input.message")
        box.clear()
        box.send_keys(message)
        panel.find_element(By.CSS_SELECTOR, "button.send").click()
        wait_for(driver, lambda d: message in texts(d, f"#log-{name} li.echo"), f"panel {name}: echo over wss", srv)
    # HTTP/2 (issue 13): the page came over h2 (ALPN), and every WebSocket is an RFC 8441 stream on
    # the page's connection: with all panels open, no connection was added to those of the page load,
    # and the access log has each panel's request as HTTP/2.0 (an HTTP/1.1 Upgrade logs HTTP/1.1).
    assert established_client_ports(port) <= page_connections, (page_connections, established_client_ports(port))
    for name, lines in access_lines(tmp_path / "access.log", paths.values()).items():
        assert lines and all(" HTTP/2.0\" 200 " in l for l in lines), (name, lines)
    # Every socket the page opened is wss:// to the TLS port.
    assert driver.execute_script("return location.host") == f"localhost:{port}"
    for name in PANELS:
        assert driver.find_element(By.ID, f"status-{name}").text == "open", name

    # Control: a browser whose NSS database lacks the CA refuses the certificate.
    untrusting = browser(env=nss_home(tmp_path / "home-untrusting"))
    try:
        untrusting.get(url)
    except Exception:  # noqa: BLE001 - some builds raise on the interstitial instead of loading it
        pass
    assert untrusting.title != "Switchyard demo", "the certificate was accepted without the CA: the test proves nothing"
    assert "ERR_CERT" in untrusting.page_source or "Privacy" in untrusting.title, untrusting.page_source[:500]

"""Real-browser tests: headless Chromium (selenium + Debian `chromium`/`chromium-driver`) against Switchyard.

* test_seed_page_ws_echo_on_port_80: the lighttpd wiki's seed page `ws_echo.html` (used in place, via a
  symlink) builds `ws://<hostname>/ws/ws_echo.py` with no port, so this test binds 127.0.0.1:80 (root, or
  CAP_NET_BIND_SERVICE-equivalent; skipped otherwise, failed when CI=true) and serves the project's
  RFC 6455 echo `cgi-bin/ws_echo.py` as `/ws/ws_echo.py`.
* test_demo_page_panels: `Fixtures/demo/htdocs/index.html` under the demo config (`Fixtures/demo/switchyard.conf`
  with absolute paths and port 0): the Python and C echo panels round-trip text; the seed panel opens (the
  handshake works) and is then failed by Chromium because the seed echo masks its frames (RFC 6455 5.1).
  A screenshot goes to /tmp/switchyard-demo.png.

Nothing leaves loopback: Chromium runs with --no-proxy-server and background networking disabled, and
selenium is given the driver and browser paths (Selenium Manager is not consulted).
"""
import os
import re
import socket
from pathlib import Path

import pytest

from e2e_util import CGI_BIN, REFERENCE, REPO, free_port, get, q, require, switchyard_bin, wait_until

CHROMIUM = os.environ.get("SWITCHYARD_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SWITCHYARD_E2E_CHROMEDRIVER", "/usr/bin/chromedriver")
SCREENSHOT = Path(os.environ.get("SWITCHYARD_E2E_SCREENSHOT", "/tmp/switchyard-demo.png"))
DEMO = REPO / "Fixtures" / "demo"
WAIT = 10.0  # seconds for any single browser-side condition


def _unavailable(msg):
    require(False, msg)


# ---------------------------------------------------------------- browser

@pytest.fixture
def browser(tmp_path):
    """Factory: browser() -> a headless Chromium WebDriver; every driver is quit at teardown."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError as e:
        _unavailable(f"selenium not installed ({e}); `pip install selenium`")
    for exe in (CHROMIUM, CHROMEDRIVER):
        if not os.access(exe, os.X_OK):
            _unavailable(f"{exe} not found (Debian: apt-get install chromium chromium-driver)")
    drivers = []

    def start(env=None):
        """env: the browser's environment (e.g. HOME for an NSS database); default: this process's."""
        profile = tmp_path / f"chromium-profile-{len(drivers)}"
        profile.mkdir()
        opts = Options()
        opts.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                    "--no-proxy-server", "--no-first-run", "--no-default-browser-check",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-extensions", "--disable-gpu", "--window-size=1280,900"):
            opts.add_argument(arg)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = Service(CHROMEDRIVER, log_output=str(tmp_path / f"chromedriver-{len(drivers)}.log"), env=env)
        driver = webdriver.Chrome(service=service, options=opts)
        drivers.append(driver)
        driver.set_page_load_timeout(20)
        driver.set_script_timeout(WAIT)
        return driver

    yield start
    for d in drivers:
        try:
            d.quit()
        except Exception:  # noqa: BLE001 - teardown must reach every driver
            pass


def console(driver) -> str:
    """The page's console messages so far (for failure messages)."""
    try:
        return "\n".join(f"  {e.get('level')}: {e.get('message')}" for e in driver.get_log("browser")) or "  (empty)"
    except Exception as e:  # noqa: BLE001
        return f"  (unavailable: {e})"


def wait_for(driver, pred, what, server=None, timeout=WAIT):
    """WebDriverWait for pred(driver); on timeout fail with the browser console and the server log."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: pred(d))
    except TimeoutException:
        extra = f"\nserver log:\n{server.log_text()}" if server is not None else ""
        pytest.fail(f"timed out after {timeout}s waiting for {what}\nbrowser console:\n{console(driver)}{extra}")


def texts(driver, css) -> list:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).map(function (e) { return e.textContent; });",
        css)


def access_log_has(path: Path, method_target: str, status: int, timeout=5.0) -> bool:
    """True once the access log has `"<method_target> HTTP/1.1" <status> ` (flushed about once a second)."""
    needle = re.compile(re.escape(f'"{method_target} HTTP/1.1" {status} '))

    def found():
        return path.exists() and needle.search(path.read_text("utf-8", "replace")) is not None
    return wait_until(found, timeout)


def read_text(path: Path) -> str:
    return path.read_text("utf-8", "replace") if path.exists() else "(no file)"


# ---------------------------------------------------------------- (a) seed page on port 80

def require_port_80():
    try:
        unprivileged = int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())
    except (OSError, ValueError):
        unprivileged = 1024
    if os.geteuid() != 0 and unprivileged > 80:
        _unavailable("the seed page ws_echo.html connects to port 80 (no port in its URL); "
                     "binding 127.0.0.1:80 needs root")
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", 80))
    except OSError as e:
        pytest.fail(f"127.0.0.1:80 is not free ({e}); the seed page ws_echo.html only connects to port 80 - "
                    f"stop whatever listens there (ss -ltnp 'sport = :80')")
    finally:
        s.close()


# Mixed scripts and non-ASCII: the project's echo handles UTF-8 (the seed's ws_echo.py would double-encode).
# BMP only (ChromeDriver's send_keys cannot type astral characters); no '<'/'&' (the page uses innerHTML).
SEED_PAGE_MESSAGES = ["hello from Chromium", "héllo wörld ☃ — ünïcödé", "日本語のテキスト ✓ Привет"]


@pytest.mark.needs_cgi
@pytest.mark.timeout(90)
def test_seed_page_ws_echo_on_port_80(switchyard, browser, seeds, tmp_path):
    require_port_80()
    doc = tmp_path / "docroot"
    (doc / "ws").mkdir(parents=True)
    (doc / "ws_echo.html").symlink_to(seeds / "ws_echo.html")
    (doc / "ws" / "ws_echo.py").symlink_to(CGI_BIN / "ws_echo.py")
    access = tmp_path / "access.log"
    srv = switchyard(f"""
server.bind = "127.0.0.1"
server.port = 80
server.document-root = {q(doc)}
server.modules += ("mod_cgi", "mod_accesslog")
accesslog.filename = {q(access)}
mimetype.assign = (".html" => "text/html; charset=utf-8")
cgi.script-directories = ({q(CGI_BIN)})
$HTTP["url"] =^ "/ws/" {{
    cgi.assign = ("" => "")
    cgi.upgrade = "enable"
}}
""")
    assert srv.port == 80
    driver = browser()
    driver.get("http://127.0.0.1/ws_echo.html")
    assert driver.title == "websocket echo client", driver.page_source[:500]
    wait_for(driver, lambda d: d.execute_script("return typeof s === 'undefined' ? -1 : s.readyState") == 1,
             "the page's WebSocket `s` to open (readyState 1)", srv)

    from selenium.webdriver.common.by import By
    box = driver.find_element(By.ID, "message")
    send = driver.find_element(By.CSS_SELECTOR, "#form button[type=submit]")
    for msg in SEED_PAGE_MESSAGES:
        box.clear()
        box.send_keys(msg)
        assert box.get_attribute("value") == msg, "send_keys did not type the message verbatim"
        send.click()
        wait_for(driver, lambda d: msg in texts(d, "#output p"), f"echo <p>{msg}</p> in #output", srv)
        assert box.get_attribute("value") == "", "the page clears the input after sending"
    assert texts(driver, "#output p") == SEED_PAGE_MESSAGES, "each message echoed once, in order"
    assert driver.execute_script("return s.readyState") == 1, f"socket no longer open\n{console(driver)}"
    driver.execute_script("s.close(1000);")
    wait_for(driver, lambda d: d.execute_script("return s.readyState") == 3, "the socket to close (readyState 3)", srv)

    # server side: the CGI's upgrade went out as a 101 (Switchyard logs it at the switch and flushes about
    # once a second; lighttpd, in reference mode, only when the connection ends - hence the close above)
    assert access_log_has(access, "GET /ws/ws_echo.py", 101), f"no 101 in the access log:\n{read_text(access)}"
    assert access_log_has(access, "GET /ws_echo.html", 200), read_text(access)


# ---------------------------------------------------------------- (b) the demo page

def demo_config(access: Path, tls_dir: Path = None) -> str:
    """Fixtures/demo/switchyard.conf with an absolute var.root, ephemeral ports, an access log, and the
    TLS listener's certificate made by Fixtures/tools/demo-cert.sh in `tls_dir` (default: beside `access`)."""
    text = (DEMO / "switchyard.conf").read_text()
    tls_dir = tls_dir or make_demo_cert(access.parent / "demo-tls")
    text, n_tls = re.subn(r"^var\.tls\s*=.*$", lambda m: f"var.tls = {q(tls_dir)}", text, flags=re.M)
    tls_port = free_port() if REFERENCE else 0
    text, n_sock = re.subn(r'^\$SERVER\["socket"\] == "127\.0\.0\.1:8443"', f'$SERVER["socket"] == "127.0.0.1:{tls_port}"',
                           text, flags=re.M)
    text, n_root = re.subn(r"^var\.root\s*=\s*env\.SWITCHYARD_ROOT\s*$", lambda m: f"var.root = {q(REPO)}",
                           text, flags=re.M)
    port = free_port() if REFERENCE else 0
    text, n_port = re.subn(r"^server\.port\s*=\s*\d+\s*$", f"server.port = {port}", text, flags=re.M)
    # The SCGI/FastCGI programs: the build under test, sockets in this test's directory.
    text, n_bin = re.subn(r"^var\.bin\s*=.*$", lambda m: f"var.bin = {q(switchyard_bin().parent)}", text, flags=re.M)
    text, n_run = re.subn(r"^var\.run\s*=.*$", lambda m: f"var.run = {q(access.parent)}", text, flags=re.M)
    assert n_root == 1 and n_port == 1 and n_bin == 1 and n_run == 1 and n_tls == 1 and n_sock == 1, \
        "Fixtures/demo/switchyard.conf changed shape (var.root / server.port / var.bin / var.run / var.tls / :8443)"
    return text + f'\nserver.modules += ("mod_accesslog")\naccesslog.filename = {q(access)}\n'


def make_demo_cert(directory: Path) -> Path:
    """The demo's local CA and localhost certificate, made by the script `make run` uses."""
    import subprocess
    r = subprocess.run([str(REPO / "Fixtures" / "tools" / "demo-cert.sh"), str(directory), "8443"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and (directory / "server.crt").is_file(), r.stdout + r.stderr
    return directory


@pytest.mark.needs_cgi
@pytest.mark.timeout(120)
def test_demo_page_panels(switchyard, browser, seeds, tmp_path):
    fast = CGI_BIN / "ws-echo-fast"
    if not (fast.is_file() and os.access(fast, os.X_OK)):
        pytest.fail(f"{fast} missing: the demo's C panel needs it (`make build` or `make c-progs`)")
    for link in ("echo.py", "fast", "seed_ws_echo.py"):
        target = DEMO / "htdocs" / "ws" / link
        assert target.exists(), f"demo symlink {target} is dangling (-> {os.readlink(target)})"
    assert (DEMO / "htdocs" / "ws" / "seed_ws_echo.py").resolve() == (seeds / "ws_echo.py").resolve()

    access = tmp_path / "access.log"
    srv = switchyard(demo_config(access))
    driver = browser()
    driver.get(srv.url)
    assert driver.title == "Switchyard demo", driver.page_source[:500]

    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    def panel(name):
        return driver.find_element(By.CSS_SELECTOR, f'section.panel[data-name="{name}"]')

    def status(name):
        return driver.find_element(By.ID, f"status-{name}").text

    def connect(name):
        p = panel(name)
        assert status(name) == "not connected"
        p.find_element(By.CSS_SELECTOR, "button.connect").click()
        wait_for(driver, lambda d: status(name) == "open", f"panel {name}: status 'open' (got {status(name)!r})",
                 srv)
        return p

    def type_message(p, msg):
        box = p.find_element(By.CSS_SELECTOR, "input.message")
        box.clear()
        box.send_keys(msg)
        return box

    # echo (Python, cgi-bin/ws_echo.py) and fast (C, cgi-bin/ws-echo-fast): send with the button, then
    # with Enter (the input's keydown handler), and find both echoes in the panel's log, in order.
    sent = {
        "echo": ["Hello from Chromium — héllo ☃", "Привет ✓ Ελληνικά"],
        "fast": ["fast path: ünïcödé ✓", "second message, sent with Enter"],
        # the same echo over SCGI and FastCGI: the native app and the bridges running the C CGI
        "scgi-app": ["over SCGI ✓", "second over SCGI"],
        "fcgi-app": ["over FastCGI ✓", "second over FastCGI"],
        "scgi-bridge": ["scgi-cgi → CGI ✓", "second through scgi-cgi"],
        "fcgi-bridge": ["fcgi-cgi → CGI ✓", "second through fcgi-cgi"],
        # mod_wstunnel: the gateway frames what a plain TCP echo (the echo app's raw protocol) returns
        "tunnel": ["through the tunnel ✓", "second through the tunnel"],
    }
    for name, (first, second) in sent.items():
        p = connect(name)
        type_message(p, first)
        p.find_element(By.CSS_SELECTOR, "button.send").click()
        wait_for(driver, lambda d: first in texts(d, f"#log-{name} li.echo"), f"panel {name}: echo of {first!r}",
                 srv)
        type_message(p, second).send_keys(Keys.ENTER)
        wait_for(driver, lambda d: second in texts(d, f"#log-{name} li.echo"),
                 f"panel {name}: echo of {second!r}", srv)
        assert texts(driver, f"#log-{name} li.echo") == [first, second]
        assert texts(driver, f"#log-{name} li.sent") == [first, second]
        assert status(name) == "open"

    # seed (the lighttpd wiki's ws_echo.py, unchanged): the handshake succeeds ("open"), but its echo frame
    # comes back MASKED with the client's key; RFC 6455 5.1 makes Chromium fail the connection, so the page
    # shows "closed (1006)" and no echo.  This documents the seed's quirk; the gateway is fine.
    p = connect("seed")
    type_message(p, "hello seed")
    p.find_element(By.CSS_SELECTOR, "button.send").click()
    wait_for(driver, lambda d: status("seed").startswith("closed"),
             f"panel seed: closed after the masked echo (status {status('seed')!r})", srv)
    seed_status, seed_log = status("seed"), texts(driver, "#log-seed li")
    assert seed_status == "closed (1006)", (seed_status, seed_log, console(driver))
    assert texts(driver, "#log-seed li.echo") == [], f"Chromium accepted a masked frame? {seed_log}"
    assert seed_log[0] == "open" and seed_log[-1] == "closed 1006", seed_log
    assert "hello seed" in texts(driver, "#log-seed li.sent")
    log = console(driver)
    assert "must not mask" in log, f"expected Chromium's masking error in the console:\n{log}"

    # the other panels are unaffected
    assert all(status(name) == "open" for name in sent), {name: status(name) for name in sent}
    driver.execute_script("window.scrollTo(0, 0);")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(SCREENSHOT)), f"could not write {SCREENSHOT}"

    # a clean close from the browser goes through the relay both ways
    for name in sent:
        panel(name).find_element(By.CSS_SELECTOR, "button.disconnect").click()
        wait_for(driver, lambda d: status(name).startswith("closed"), f"panel {name}: closed after Close", srv)
        assert status(name).startswith("closed (1000"), (name, status(name), texts(driver, f"#log-{name} li"))

    # server side: every program answered the upgrade with 101
    for target in ("/ws/echo.py", "/ws/fast", "/ws/seed_ws_echo.py", "/scgi-app/echo", "/fcgi-app/echo",
                   "/scgi-bridge/fast", "/fcgi-bridge/fast", "/tunnel/echo"):
        assert access_log_has(access, f"GET {target}", 101), f"no 101 for {target}:\n{read_text(access)}"

    # The live comparison: 200 checked round trips on each of the six paths, drawn as bars, and the
    # links to the latest `make compare` results are served.
    driver.find_element(By.ID, "compare-run").click()
    wait_for(driver, lambda d: d.execute_script("return document.getElementById('compare').dataset.done") == "1",
             "the comparison to finish", srv, timeout=90)
    rows = driver.execute_script("""
        return Array.from(document.querySelectorAll('#compare-table tr')).map(function (r) {
          return {path: r.dataset.path, status: r.dataset.status, rate: parseFloat(r.dataset.rate || '0'),
                  text: r.children[1].textContent, width: r.querySelector('.bar').style.width};
        });""")
    assert [r["path"] for r in rows] == ["/ws/fast", "/ws/echo.py", "/scgi-app/echo", "/fcgi-app/echo",
                                         "/scgi-bridge/fast", "/fcgi-bridge/fast"], rows
    for r in rows:
        assert r["status"] == "ok" and r["rate"] > 0 and "round trips/s" in r["text"], r
        assert r["width"].endswith("%") and float(r["width"][:-1]) > 0, r
    assert max(float(r["width"][:-1]) for r in rows) == 100.0, rows
    for link in ("/compare/results.md", "/compare/chart.svg"):
        got = get(srv.port, link)
        assert got.status == 200 and len(got.body) > 1000, (link, got)
    assert get(srv.port, "/compare/chart.svg").header("Content-Type") == "image/svg+xml"

"""The two proxy layouts of the seed documents (issue 11, point 4) expressed in Switchyard's config:

* seed 003 (`node/`): `httpServer.js` is a node proxy whose first path segment picks the backend
  from `config.json`; behind it `webSocketServer.js`, a `ws` server answering `hello:<msg>`. Here
  every `config.json` entry becomes a `proxy.server` prefix "/<name>" with upgrades enabled, and the
  REAL `webSocketServer.js` runs under node (Debian `node-ws`), copied with only its port changed.
  A Python client and the seed page `websocketClient.html` (port changed) in headless Chromium.
* seed 004 (`httpd/`): `ProxyPass /ws/ ws://127.0.0.1:8088/` becomes the prefix "/ws/" with
  `map-urlpath` "/ws/" => "/"; the seed's curl handshake (host, port and path changed) runs
  through Switchyard and gets the 101 with the accept value the document shows."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

from e2e_require import require, require_executable, require_module
from e2e_util import free_port, q, require_seeds, wait_until
from proxy_peers import WSEcho
from test_browser import browser  # noqa: F401 - the headless Chromium fixture

NODE_PATH = "/usr/share/nodejs"


def node_layout_config(seeds, ports, docroot):
    """seed 003's routing as config: each `config.json` name -> prefix "/<name>" on its host,
    with the port replaced by `ports[name]` (the node proxy passes the URL on unchanged)."""
    routes = json.loads((seeds / "node" / "config.json").read_text())
    entries = [f'"/{name}" => (( "host" => {q(b["host"])}, "port" => {ports[name]} ))' for name, b in routes.items()]
    return ('server.modules = ( "mod_proxy" )\n'
            f"server.document-root = {q(docroot)}\n"
            'mimetype.assign = ( ".html" => "text/html" )\n'
            f'proxy.server = ( {", ".join(entries)} )\n'
            'proxy.header = ( "upgrade" => "enable" )\n')


@pytest.fixture
def node_ws_server(tmp_path):
    """The seed `webSocketServer.js` under node, in a copy whose only change is its port."""
    seeds = require_seeds()
    node = shutil.which("node") or "/usr/bin/node"
    require_executable(node, "Debian nodejs (make deps)")
    require(os.path.isfile(f"{NODE_PATH}/ws/package.json"), "Debian node-ws not installed (make deps)")
    port = free_port()
    text = (seeds / "node" / "webSocketServer.js").read_text()
    assert text.count("port: 3000,") == 1, text
    script = tmp_path / "node" / "webSocketServer.js"
    script.parent.mkdir()
    script.write_text(text.replace("port: 3000,", f"port: {port},"))
    log = open(tmp_path / "node" / "out.log", "wb")
    proc = subprocess.Popen([node, str(script)], cwd=script.parent, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "NODE_PATH": NODE_PATH})

    def listening():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            return proc.poll() is not None
    wait_until(listening, timeout=15)
    assert proc.poll() is None, (tmp_path / "node" / "out.log").read_text()
    yield port, tmp_path / "node" / "out.log"
    proc.kill()
    proc.wait()
    log.close()


def test_node_seed_first_segment_routes_to_the_ws_server(switchyard, node_ws_server, tmp_path):
    require_module("websockets", "the WebSocket client")
    from websockets.sync.client import connect
    from websockets.exceptions import InvalidStatus
    port, out = node_ws_server
    s = switchyard(node_layout_config(require_seeds(), {"websocketTestOne": port}, tmp_path))
    for path in ("/websocketTestOne", "/websocketTestOne/room/7"):
        with connect(f"ws://127.0.0.1:{s.port}{path}", compression=None, open_timeout=10) as ws:
            for text in ("hi", "héllo wörld", "x" * 70000):
                ws.send(text)
                assert ws.recv(timeout=10) == f"hello:{text}"
    assert wait_until(lambda: out.read_text().count("client connected") == 2, timeout=5), out.read_text()
    # A first segment config.json does not name reaches no backend (the node proxy ends the socket).
    with pytest.raises(InvalidStatus) as e:
        connect(f"ws://127.0.0.1:{s.port}/websocketTestTwo", open_timeout=10)
    assert e.value.response.status_code == 404


def test_node_seed_client_page_in_chromium(switchyard, node_ws_server, tmp_path, browser):  # noqa: F811
    """The seed page `websocketClient.html` (its proxy address 127.0.0.1:8000 changed to Switchyard's):
    it opens the socket on load; the text typed and sent comes back in an alert as `hello:<text>`."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
    port, _ = node_ws_server
    seeds = require_seeds()
    s = switchyard(node_layout_config(seeds, {"websocketTestOne": port}, tmp_path))
    page = (seeds / "node" / "websocketClient.html").read_text()
    assert page.count("ws://127.0.0.1:8000/websocketTestOne") == 1
    (tmp_path / "websocketClient.html").write_text(page.replace("127.0.0.1:8000", f"127.0.0.1:{s.port}"))
    driver = browser()
    driver.get(f"http://127.0.0.1:{s.port}/websocketClient.html")
    assert wait_until(lambda: driver.execute_script("return ws.readyState") == 1, timeout=10)
    driver.find_element(By.ID, "sendText").send_keys("through switchyard")
    driver.find_element(By.TAG_NAME, "button").click()
    alert = WebDriverWait(driver, 10).until(EC.alert_is_present())
    assert alert.text.endswith("hello:through switchyard"), alert.text
    alert.accept()


def seed_curl_command(seeds, port):
    """The seed's curl handshake with the address changed to Switchyard's and the path to /ws/."""
    line = (seeds / "httpd" / "curl-handshake.sh").read_text().strip()
    assert line.count("127.0.0.1:8088") == 2 and line.endswith("http://127.0.0.1:8088/"), line
    return line.replace("127.0.0.1:8088", f"127.0.0.1:{port}").removesuffix("/") + "/ws/"


def test_httpd_seed_proxypass_ws_prefix(switchyard, tmp_path):
    require_module("websockets", "the WebSocket backend")
    require_executable(shutil.which("curl") or "/usr/bin/curl", "curl (make deps)")
    seeds = require_seeds()
    conf = (seeds / "httpd" / "proxy_wstunnel.conf").read_text()
    assert re.search(r"^ProxyPass /ws/\s+ws://127\.0\.0\.1:8088/$", conf, re.M), conf
    # curl treats the 101 as an interim response and prints it only when more bytes come: the
    # backend greets at once (a text frame "hi"), which also shows bytes flow after the switch.
    backend = WSEcho(greeting="hi")
    try:
        s = switchyard('server.modules = ( "mod_proxy" )\n'
                       f'proxy.server = ( "/ws/" => (( "host" => "127.0.0.1", "port" => {backend.port} )) )\n'
                       'proxy.header = ( "upgrade" => "enable", "map-urlpath" => ( "/ws/" => "/" ) )\n')
        # Its own process group: killing it must reach curl, not only the shell around it.
        curl = subprocess.Popen(["sh", "-c", seed_curl_command(seeds, s.port)], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            head = b""
            deadline = time.monotonic() + 10
            while b"\x81\x02hi" not in head and time.monotonic() < deadline:
                chunk = os.read(curl.stdout.fileno(), 4096)
                if not chunk:
                    break
                head += chunk
        finally:
            os.killpg(curl.pid, signal.SIGKILL)
            curl.wait()
            curl.stdout.close()
        assert head.startswith(b"HTTP/1.1 101"), head
        assert b"Sec-WebSocket-Accept: 2T9o4TGeL7V6QJ/PnOsqmx4nEBk=\r\n" in head, head
        assert head.endswith(b"\r\n\r\n\x81\x02hi"), head   # the greeting, unmasked, after the head
        assert wait_until(lambda: backend.paths == ["/"], timeout=5), backend.paths
    finally:
        backend.close()

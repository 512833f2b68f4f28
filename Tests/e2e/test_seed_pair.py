"""The seeds' two-instance example (issue 11): `lighttpd/wstunnel.conf` — the seed `echo.pl`
spawned with `bin-path`, unchanged — behind `lighttpd/proxy.conf`, both used in place with only
paths and ports changed. The seed page `count.html`, served by the tunnel instance, is opened
through the proxy in headless Chromium and counts to 5: the page, the WebSocket upgrade and every
frame cross both Switchyards."""
import re

from e2e_util import q, require_seeds, wait_until
from test_browser import browser  # noqa: F401 - the headless Chromium fixture
from wstunnel_util import seed_config, ws_client


def proxy_in_front(seeds, tunnel_port, tmp_path):
    text = (seeds / "lighttpd" / "proxy.conf").read_text()
    assert text.count('"port" => "8081"') == 1 and "server.port = 8080" in text, text
    text = re.sub(r"^server\.document-root\s*=.*$", f"server.document-root = {q(tmp_path)}", text, flags=re.M)
    text = text.replace("server.port = 8080", "server.port = 0").replace('"port" => "8081"', f'"port" => "{tunnel_port}"')
    return text


def test_count_html_through_proxy_and_tunnel(switchyard, tmp_path, browser):  # noqa: F811
    seeds = require_seeds()
    tunnel = switchyard(seed_config(tmp_path / "tunnel", 'mimetype.assign = (".html" => "text/html")'), name="tunnel")
    (tmp_path / "tunnel" / "docroot" / "count.html").symlink_to(seeds / "count.html")
    (tmp_path / "front").mkdir()
    front = switchyard(proxy_in_front(seeds, tunnel.port, tmp_path / "front"), name="front")

    # A script first: lines through both instances.
    connect = ws_client()
    with connect(f"ws://127.0.0.1:{front.port}/ws/", open_timeout=10) as ws:
        ws.send("through both\n")
        assert ws.recv(timeout=10) == "through both\n"

    driver = browser()
    driver.get(f"http://127.0.0.1:{front.port}/count.html")
    log = lambda: driver.execute_script("return document.getElementById('log').textContent")  # noqa: E731
    assert wait_until(lambda: "RECV: 5" in log(), timeout=20), \
        f"page log:\n{log()}\nfront:\n{front.output()[-2000:]}\ntunnel:\n{tunnel.output()[-2000:]}"
    text = log()
    for n in range(1, 6):
        assert f"SEND: {n}" in text and f"RECV: {n}\n" in text, text
    assert "DISCONNECT" not in text

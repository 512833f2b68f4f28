"""Python `websockets` through mod_proxy (issue 11, tests): 16 MiB messages echoed intact (sha256),
and a slow reader while the server pushes far more than the gateway may hold: the gateway's
resident memory stays bounded (backpressure both ways), with the kernel splice relay and with
`server.upgrade-relay = "copy"`. The backend is a conformant `websockets` server in a subprocess."""
import hashlib
import subprocess
import sys
import threading
import time

import pytest

from e2e_require import require_module
from proxy_peers import pattern

# A `websockets` server: echoes every message; "push <count> <size>" makes it send <count> binary
# messages of <size> bytes as fast as the connection takes them, then "done".
SERVER = r"""
import sys
from websockets.sync.server import serve

def handler(ws):
    for message in ws:
        if isinstance(message, str) and message.startswith("push "):
            _, count, size = message.split()
            block = bytes((i * 7 + 3) % 256 for i in range(int(size)))
            for _ in range(int(count)):
                ws.send(block)
            ws.send("done")
        else:
            ws.send(message)

with serve(handler, "127.0.0.1", 0, max_size=None, compression=None) as server:
    print(server.socket.getsockname()[1], flush=True)
    server.serve_forever()
"""

# What the gateway may grow by while 256 MiB are pushed to a reader that takes 1 MiB at a time:
# its own buffers (high watermarks, pipe/socket buffers are the kernel's) are far below this.
RSS_GROWTH_BOUND_KIB = 16 * 1024


@pytest.fixture
def ws_backend():
    require_module("websockets", "the WebSocket backend and client")
    proc = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())
        yield port
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def config(port, relay):
    return ('server.modules = ( "mod_proxy" )\n'
            f'server.upgrade-relay = "{relay}"\n'
            f'proxy.server = ( "/ws/" => (( "host" => "127.0.0.1", "port" => {port} )) )\n'
            'proxy.header = ( "upgrade" => "enable" )\n')


@pytest.mark.timeout(180)
@pytest.mark.parametrize("relay", ["splice", "copy"])
def test_16_mib_messages_echo_intact(switchyard, ws_backend, relay):
    from websockets.sync.client import connect
    s = switchyard(config(ws_backend, relay))
    big = pattern(16 << 20)
    text = ("ünïcødé " * ((16 << 20) // 12))[: (16 << 20) // 2]
    with connect(f"ws://127.0.0.1:{s.port}/ws/big", max_size=None, compression=None, open_timeout=10) as ws:
        for message in (big, text, big[::-1]):
            ws.send(message)
            back = ws.recv(timeout=60)
            assert type(back) is type(message)
            digest = hashlib.sha256(back if isinstance(back, bytes) else back.encode()).hexdigest()
            assert digest == hashlib.sha256(message if isinstance(message, bytes) else message.encode()).hexdigest()


@pytest.mark.timeout(180)
@pytest.mark.parametrize("relay", ["splice", "copy"])
def test_slow_reader_keeps_gateway_memory_bounded(switchyard, ws_backend, relay):
    from websockets.sync.client import connect
    s = switchyard(config(ws_backend, relay))
    count, size = 256, 1 << 20
    block = pattern(size)
    with connect(f"ws://127.0.0.1:{s.port}/ws/push", max_size=None, max_queue=1, compression=None,
                 open_timeout=10) as ws:
        ws.send("x")
        assert ws.recv(timeout=10) == "x"
        baseline = s.rss_kib()
        peak = [baseline]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], s.rss_kib())
                time.sleep(0.02)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            ws.send(f"push {count} {size}")
            for i in range(count):
                if i % 16 == 0:
                    time.sleep(0.25)     # the reader stalls while the server keeps pushing
                got = ws.recv(timeout=60)
                assert got == block, i
            assert ws.recv(timeout=10) == "done"
        finally:
            stop.set()
            sampler.join()
    growth = peak[0] - baseline
    assert growth < RSS_GROWTH_BOUND_KIB, f"gateway RSS grew {growth} KiB while {count} MiB were pushed ({relay})"

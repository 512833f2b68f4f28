#!/usr/bin/python3
"""ws_sleep.py?pidfile=PATH - answers a WebSocket upgrade with Status: 101, writes its pid to PATH
(atomically), then sleeps without ever reading stdin: an upgraded CGI that does not notice its
client leaving. For the tests that the gateway still stops it (client gone, server stop)."""
import os
import sys
import time
from urllib.parse import parse_qs

q = parse_qs(os.environ.get("QUERY_STRING", ""))
pidfile = q.get("pidfile", [""])[0]
sys.stdout.buffer.write(b"Status: 101\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        b"Sec-WebSocket-Accept: x\r\n\r\n")
sys.stdout.buffer.flush()
if pidfile:
    with open(pidfile + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(pidfile + ".tmp", pidfile)
time.sleep(600)

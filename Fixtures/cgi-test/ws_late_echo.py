#!/usr/bin/env python3
"""Upgrade CGI for the relay back-pressure test: answers 101, then does not read its stdin for
DELAY seconds (QUERY_STRING "delay=S", default 1.5) so the pipe from the gateway fills, then
copies stdin to stdout byte for byte until EOF. The relay is transparent after the upgrade, so
the client gets back exactly the bytes it sent."""
import base64, hashlib, os, sys, time, urllib.parse

env = os.environ
key = env.get("HTTP_SEC_WEBSOCKET_KEY", "")
if env.get("HTTP_UPGRADE", "").lower() != "websocket" or not key:
    sys.stdout.write("Status: 400 Bad Request\r\nContent-Type: text/plain\r\n\r\nwebsocket only\n")
    sys.exit(0)
delay = float(urllib.parse.parse_qs(env.get("QUERY_STRING", "")).get("delay", ["1.5"])[0])
accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
os.write(1, ("Status: 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Accept: %s\r\n\r\n" % accept).encode())
time.sleep(delay)
while True:
    data = os.read(0, 65536)
    if not data:
        break
    view = memoryview(data)
    while view:
        n = os.write(1, view)
        view = view[n:]

#!/usr/bin/env python3
"""WebSocket flood CGI for the slow-reader test: after the handshake it writes
FRAMES binary frames of SIZE bytes (QUERY_STRING "frames=N&size=M", defaults
256 x 256 KiB = 64 MiB), frame i filled with byte i % 251, then a CLOSE 1000.
Blocking writes: when the gateway stops reading, this program blocks."""
import base64, hashlib, os, sys, urllib.parse

env = os.environ
key = env.get("HTTP_SEC_WEBSOCKET_KEY", "")
if env.get("HTTP_UPGRADE", "").lower() != "websocket" or not key:
    sys.stdout.write("Status: 400 Bad Request\r\nContent-Type: text/plain\r\n\r\nwebsocket only\n")
    sys.exit(0)
q = urllib.parse.parse_qs(env.get("QUERY_STRING", ""))
frames = int(q.get("frames", ["256"])[0])
size = int(q.get("size", [str(256 * 1024)])[0])
accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
out = sys.stdout.buffer
out.write(("Status: 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Accept: %s\r\n\r\n" % accept).encode())
out.flush()

def header(n):
    if n < 126:
        return bytes([0x82, n])
    if n < 65536:
        return bytes([0x82, 126]) + n.to_bytes(2, "big")
    return bytes([0x82, 127]) + n.to_bytes(8, "big")

for i in range(frames):
    out.write(header(size) + bytes([i % 251]) * size)
    out.flush()
out.write(bytes([0x88, 2]) + (1000).to_bytes(2, "big"))
out.flush()

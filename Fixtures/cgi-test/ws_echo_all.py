#!/usr/bin/env python3
"""Upgrade CGI for the ping tests (websocket.ping-interval): echoes every frame it receives back
unmasked with the same FIN and opcode — PONG frames included, which the seed ws_echo.py and the
project's echoes ignore — so a PONG that the gateway lets through to the backend comes back to
the client and the test sees it. PING -> PONG with the same payload; CLOSE -> CLOSE, then exit.
Frames of any size are read completely (the seed reads once per frame)."""
import base64, hashlib, os, struct, sys

env = os.environ
key = env.get("HTTP_SEC_WEBSOCKET_KEY", "")
if env.get("HTTP_UPGRADE", "").lower() != "websocket" or not key:
    sys.stdout.write("Status: 400 Bad Request\r\nContent-Type: text/plain\r\n\r\nwebsocket only\n")
    sys.exit(0)
accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
os.write(1, ("Status: 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Accept: %s\r\n\r\n" % accept).encode())


def read_exact(n):
    parts = []
    while n:
        data = os.read(0, min(n, 1 << 20))
        if not data:
            sys.exit(0)
        parts.append(data)
        n -= len(data)
    return b"".join(parts)


def write_all(data):
    view = memoryview(data)
    while view:
        view = view[os.write(1, view):]


def send(fin, opcode, payload):
    n = len(payload)
    b0 = (0x80 if fin else 0) | opcode
    if n < 126:
        head = struct.pack("!BB", b0, n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, 126, n)
    else:
        head = struct.pack("!BBQ", b0, 127, n)
    write_all(head + payload)


while True:
    b0, b1 = read_exact(2)
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", read_exact(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", read_exact(8))
    mask = read_exact(4) if b1 & 0x80 else b"\0\0\0\0"
    data = read_exact(n)
    payload = (int.from_bytes(data, "big") ^ int.from_bytes((mask * (n // 4 + 1))[:n], "big")).to_bytes(n, "big") if n else b""
    opcode = b0 & 0x0F
    if opcode == 0x8:
        send(True, 0x8, payload[:2])
        break
    send(bool(b0 & 0x80), 0xA if opcode == 0x9 else opcode, payload)

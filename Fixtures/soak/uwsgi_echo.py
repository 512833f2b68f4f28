#!/usr/bin/env python3
"""uwsgi_echo.py - a long-running uwsgi application for the soak: WebSocket echo and plain answers.

Neither switchyard-echo-app nor the bridges speak uwsgi, so the soak's uwsgi path
(`scgi.protocol = "uwsgi"` with `"upgrade" => 1`) needs its own backend. The gateway spawns it
with `bin-path` and passes the listening socket as fd 0 (the spawn-fcgi convention); one asyncio
loop serves every connection, like the native echo app.

Per connection: one uwsgi packet (modifier1, 16-bit little-endian size, modifier2, then
key/value pairs with 16-bit lengths), CONTENT_LENGTH body bytes, then
  * `Upgrade: websocket` + Sec-WebSocket-Key: a CGI-style `Status: 101` head, then RFC 6455 echo
    (client frames unmasked and sent back unmasked with the same FIN/opcode, PING -> PONG,
    CLOSE -> CLOSE with the same code, EOF -> close);
  * anything else: 200 text/plain "uwsgi-echo ok METHOD URI\n".
Malformed input closes the connection; frames over 16 MiB get CLOSE 1009. SIGTERM: exit 0.
Usage: uwsgi_echo.py [--socket PATH]   (default: the listening socket on fd 0)
"""
import asyncio
import base64
import hashlib
import os
import signal
import socket
import struct
import sys

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_PAYLOAD = 16 << 20
MAX_BODY = 1 << 20


def parse_vars(block: bytes) -> dict:
    env, i = {}, 0
    while i < len(block):
        (kl,) = struct.unpack_from("<H", block, i)
        key = block[i + 2:i + 2 + kl]
        i += 2 + kl
        (vl,) = struct.unpack_from("<H", block, i)
        value = block[i + 2:i + 2 + vl]
        i += 2 + vl
        if i > len(block):
            raise ValueError("truncated uwsgi vars")
        env[key.decode("latin-1")] = value.decode("latin-1")
    return env


def unmask(data: bytes, key: bytes) -> bytes:
    n = len(data)
    if n == 0:
        return b""
    pad = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(pad, "big")).to_bytes(n, "big")


def server_frame(fin: bool, opcode: int, payload: bytes) -> bytes:
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        return struct.pack("!BB", b0, n) + payload
    if n < 65536:
        return struct.pack("!BBH", b0, 126, n) + payload
    return struct.pack("!BBQ", b0, 127, n) + payload


async def echo_frames(reader, writer):
    """Echo until CLOSE, EOF or a protocol error."""
    while True:
        b0, b1 = await reader.readexactly(2)
        fin, opcode, n = bool(b0 & 0x80), b0 & 0x0F, b1 & 0x7F
        if not b1 & 0x80:
            writer.write(server_frame(True, 0x8, struct.pack("!H", 1002)))
            return
        if n == 126:
            (n,) = struct.unpack("!H", await reader.readexactly(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", await reader.readexactly(8))
        if n > MAX_PAYLOAD:
            writer.write(server_frame(True, 0x8, struct.pack("!H", 1009)))
            return
        key = await reader.readexactly(4)
        payload = unmask(await reader.readexactly(n), key)
        if opcode == 0x8:
            writer.write(server_frame(True, 0x8, payload[:2]))
            return
        if opcode == 0x9:
            writer.write(server_frame(True, 0xA, payload))
        elif opcode != 0xA:
            writer.write(server_frame(fin, opcode, payload))
        await writer.drain()


async def serve(reader, writer):
    try:
        mod1, size, mod2 = struct.unpack("<BHB", await reader.readexactly(4))
        env = parse_vars(await reader.readexactly(size))
        length = int(env.get("CONTENT_LENGTH") or 0)
        if not 0 <= length <= MAX_BODY:
            return
        body = await reader.readexactly(length) if length else b""
        key = env.get("HTTP_SEC_WEBSOCKET_KEY", "")
        if "websocket" in env.get("HTTP_UPGRADE", "").lower() and key:
            accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
            writer.write(("Status: 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode())
            await writer.drain()
            await echo_frames(reader, writer)
        else:
            out = f"uwsgi-echo ok {env.get('REQUEST_METHOD', '')} {env.get('REQUEST_URI', '')}\n".encode() + body
            writer.write(b"Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(out) + out)
        await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError, struct.error):
        pass
    finally:
        writer.close()


async def main(argv):
    if argv[:1] == ["--socket"] and len(argv) == 2:
        if os.path.exists(argv[1]):
            os.unlink(argv[1])
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(argv[1])
        sock.listen(1024)
    elif not argv:
        sock = socket.socket(fileno=0)
    else:
        sys.exit(__doc__.split("Usage: ")[1])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = await asyncio.start_server(serve, sock=sock)
    await stop.wait()
    server.close()   # open connections are cancelled by asyncio.run; no wait for them


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))

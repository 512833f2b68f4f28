#!/usr/bin/env python3
"""SCGI application on the PyPI `scgi` package's own server, for Tests/e2e/test_gateways.py.

    scgi_echo_app.py SOCKET_PATH

`scgi.scgi_server.SCGIServer` is the real thing: a pre-forking server whose parent accepts and passes
each connection to a child over a Unix socket pair, where `scgi.util.SCGIHandler` reads the netstring
(`read_env`) and calls `produce`. Here it listens on a Unix socket (a stale file is removed).

Plain requests: 200 text/plain with key=value lines describing the request, the same shape as the
other gateway test apps, plus what only SCGI has (first variable, SCGI=1). `Upgrade: websocket` with a
key: `Status: 101`, then an RFC 6455 echo on the same connection until CLOSE or EOF (data frames echoed
unmasked frame by frame with their FIN bit and opcode, PING -> PONG, CLOSE -> CLOSE with the code).
"""
import base64
import hashlib
import os
import socket
import struct
import sys

from scgi.scgi_server import SCGIHandler, SCGIServer

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_PAYLOAD = 32 << 20


def unmask(data, key):
    n = len(data)
    if n == 0:
        return data
    pad = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(pad, "big")).to_bytes(n, "big")


def frame(fin, opcode, payload):
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", b0, n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, 126, n)
    else:
        head = struct.pack("!BBQ", b0, 127, n)
    return head + payload


def read_exact(inp, n):
    data = inp.read(n)
    if len(data) != n:
        raise EOFError
    return data


def echo_frames(inp, out):
    while True:
        b0, b1 = read_exact(inp, 2)
        fin, opcode, n = bool(b0 & 0x80), b0 & 0x0F, b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", read_exact(inp, 2))
        elif n == 127:
            (n,) = struct.unpack("!Q", read_exact(inp, 8))
        if not b1 & 0x80 or b0 & 0x70 or opcode not in (0, 1, 2, 8, 9, 10):
            out.write(frame(True, 8, struct.pack("!H", 1002)))
            return
        if n > MAX_PAYLOAD:
            out.write(frame(True, 8, struct.pack("!H", 1009)))
            return
        key = read_exact(inp, 4)
        payload = unmask(read_exact(inp, n), key)
        if opcode == 8:
            out.write(frame(True, 8, payload[:2]))
            return
        if opcode == 9:
            out.write(frame(True, 10, payload))
        elif opcode != 10:
            out.write(frame(fin, opcode, payload))
        out.flush()


class EchoHandler(SCGIHandler):
    def produce(self, env, bodysize, input, output):
        key = env.get("HTTP_SEC_WEBSOCKET_KEY", "")
        if env.get("HTTP_UPGRADE", "").lower() == "websocket" and key:
            input.read(bodysize)
            accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
            output.write(("Status: 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode())
            output.flush()
            try:
                echo_frames(input, output)
                output.flush()
            except (EOFError, OSError):
                pass
            return
        body = input.read(bodysize)
        keys = [("method", "REQUEST_METHOD"), ("query", "QUERY_STRING"), ("script_name", "SCRIPT_NAME"),
                ("path_info", "PATH_INFO"), ("request_uri", "REQUEST_URI"), ("content_length", "CONTENT_LENGTH"),
                ("content_type", "CONTENT_TYPE"), ("scgi", "SCGI")]
        lines = ["app=scgi"] + [f"{k}={env.get(v, '')}" for k, v in keys]
        lines += [f"bytes={len(body)}", f"sha256={hashlib.sha256(body).hexdigest()}",
                  f"scgi_first={next(iter(env), '')}"]
        out = ("\n".join(lines) + "\n").encode()
        output.write(b"Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(out) + out)


def main():
    path = sys.argv[1]
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    # each child serves one connection at a time; a WebSocket holds its child
    SCGIServer(handler_class=EchoHandler, max_children=8).serve_on_socket(s)


if __name__ == "__main__":
    main()

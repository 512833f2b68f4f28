#!/usr/bin/python3
"""ws_echo.py - RFC 6455 WebSocket echo as a CGI program (Python 3, stdlib only).

Run by a gateway with CGI upgrade support (Switchyard `cgi.upgrade = "enable"`,
lighttpd >= 1.4.60 the same).  After the CGI header block, stdin and stdout
carry raw WebSocket frames:

  * client frames must be masked (RFC 6455 5.1); they are unmasked and echoed
    UNMASKED with the same FIN bit and opcode, frame by frame, so fragmented
    messages come back fragmented the same way;
  * PING is answered with a PONG carrying the same payload, PONG is ignored;
  * CLOSE is answered with a CLOSE echoing the status code, then we exit;
  * EOF on stdin: exit;
  * protocol errors get a CLOSE 1002 (1009 for frames over MAX_PAYLOAD).

Frames may arrive in any split (header or payload cut across reads) and may be
large (MAX_PAYLOAD, default 64 MiB).  A request that is not a WebSocket upgrade
gets a short text/plain 400 explaining why.
"""
import base64
import hashlib
import os
import struct
import sys

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_PAYLOAD = 64 << 20
READ_SIZE = 1 << 20

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class Closed(Exception):
    """Peer went away (EOF on stdin or EPIPE on stdout)."""


class Reader:
    """Buffered exact reads from a file descriptor; frames may be split anywhere."""

    def __init__(self, fd):
        self.fd = fd
        self.buf = bytearray()
        self.pos = 0

    def read(self, n):
        while len(self.buf) - self.pos < n:
            if self.pos:
                del self.buf[:self.pos]
                self.pos = 0
            chunk = os.read(self.fd, max(READ_SIZE, n - len(self.buf)))
            if not chunk:
                raise Closed()
            self.buf += chunk
        data = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return data


def write_all(data):
    out = sys.stdout.buffer
    try:
        out.write(data)
        out.flush()
    except (BrokenPipeError, ConnectionResetError):
        raise Closed()


def unmask(data, key):
    n = len(data)
    if n == 0:
        return data
    pad = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(pad, "big")).to_bytes(n, "big")


def frame_header(fin, opcode, length):
    b0 = (0x80 if fin else 0) | opcode
    if length < 126:
        return struct.pack("!BB", b0, length)
    if length < 65536:
        return struct.pack("!BBH", b0, 126, length)
    return struct.pack("!BBQ", b0, 127, length)


def send_frame(fin, opcode, payload):
    out = sys.stdout.buffer
    try:
        out.write(frame_header(fin, opcode, len(payload)))
        out.write(payload)
        out.flush()
    except (BrokenPipeError, ConnectionResetError):
        raise Closed()


def send_close(code, reason=b""):
    send_frame(True, OP_CLOSE, struct.pack("!H", code) + reason)


def plain_response(status, text, extra=""):
    body = text.encode()
    write_all((f"Status: {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
               f"Content-Length: {len(body)}\r\n{extra}\r\n").encode() + body)


def handshake(env):
    """Write the CGI response header. True when upgraded."""
    upgrade = env.get("HTTP_UPGRADE", "")
    key = env.get("HTTP_SEC_WEBSOCKET_KEY", "").strip()
    if env.get("REQUEST_METHOD", "GET") != "GET" or upgrade.strip().lower() != "websocket" or not key:
        plain_response("400 Bad Request",
                       "ws_echo.py is a WebSocket echo endpoint.\n"
                       "Send a GET with 'Upgrade: websocket', 'Connection: Upgrade', "
                       "'Sec-WebSocket-Key' and 'Sec-WebSocket-Version: 13'.\n"
                       "The gateway must pass the upgrade through (cgi.upgrade = \"enable\").\n")
        return False
    version = env.get("HTTP_SEC_WEBSOCKET_VERSION", "13").strip()
    if version != "13":
        plain_response("426 Upgrade Required", "only WebSocket version 13 is supported\n",
                       "Sec-WebSocket-Version: 13\r\n")
        return False
    accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
    write_all(("Status: 101 Switching Protocols\r\n"
               "Upgrade: websocket\r\n"
               "Connection: Upgrade\r\n"
               f"Sec-WebSocket-Accept: {accept}\r\n"
               "\r\n").encode())
    return True


def echo_loop(rd):
    while True:
        b0, b1 = rd.read(2)
        fin = bool(b0 & 0x80)
        opcode = b0 & 0x0F
        length = b1 & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", rd.read(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", rd.read(8))
        if b0 & 0x70 or opcode in (3, 4, 5, 6, 7) or opcode > 0xA:
            send_close(1002, b"bad frame header")
            return
        if not b1 & 0x80:
            send_close(1002, b"client frames must be masked")
            return
        if opcode >= 0x8 and (not fin or length > 125):
            send_close(1002, b"bad control frame")
            return
        if length > MAX_PAYLOAD:
            send_close(1009, b"frame too big")
            return
        key = rd.read(4)
        payload = unmask(rd.read(length), key) if length else b""
        if opcode == OP_CLOSE:
            if len(payload) == 1:
                send_close(1002, b"bad close payload")
            elif len(payload) >= 2:
                send_frame(True, OP_CLOSE, payload[:2])
            else:
                send_frame(True, OP_CLOSE, b"")
            return
        if opcode == OP_PING:
            send_frame(True, OP_PONG, payload)
        elif opcode == OP_PONG:
            continue
        else:
            send_frame(fin, opcode, payload)


def main():
    try:
        if handshake(os.environ):
            echo_loop(Reader(sys.stdin.fileno()))
    except Closed:
        pass
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

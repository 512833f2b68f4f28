"""The soak driver's client side on the wire: an RFC 6455 client and HTTP/1.1 GETs over asyncio
streams, stdlib only. Written for many cheap connections (5 000 held ones live in one event loop),
so no third-party client with its own tasks and buffers per connection. Every reply is checked
byte for byte; any deviation raises `WireError` with a short, countable description.
"""
import asyncio
import base64
import hashlib
import os
import struct

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x2, 0x8, 0x9, 0xA
MAX_HEAD = 16 * 1024          # a response head larger than this is an error, not a buffer to grow
MAX_FRAME = 1 << 20           # the soak never sends more than a few KiB; a bigger reply is garbage
MAX_BODY = 1 << 20


class WireError(Exception):
    """A reply that is not what an echo must answer. `kind` is short and stable, for counting."""

    def __init__(self, kind, detail=""):
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


def mask(data: bytes, key: bytes) -> bytes:
    """XOR with the 4-byte key, done on one big integer (no per-byte Python loop)."""
    n = len(data)
    if n == 0:
        return b""
    pad = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(pad, "big")).to_bytes(n, "big")


def client_frame(opcode: int, payload: bytes) -> bytes:
    """One masked, unfragmented client frame."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    key = os.urandom(4)
    return head + key + mask(payload, key)


async def read_frame(reader):
    """(fin, opcode, payload) of one server frame; server frames must not be masked."""
    b0, b1 = await reader.readexactly(2)
    if b0 & 0x70:
        raise WireError("rsv-bits", f"{b0:#x}")
    if b1 & 0x80:
        raise WireError("masked-reply")
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    if n > MAX_FRAME:
        raise WireError("frame-too-large", str(n))
    payload = await reader.readexactly(n) if n else b""
    return bool(b0 & 0x80), b0 & 0x0F, payload


def parse_head(head: bytes):
    """(status, {lower-case name: value}) of an HTTP/1.1 response head."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise WireError("bad-status-line", lines[0][:60])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


async def read_head(reader):
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        raise WireError("head-too-large") from None
    except asyncio.IncompleteReadError as e:
        raise WireError("eof-before-head", f"{len(e.partial)} bytes") from None
    return parse_head(head[:-4])


class WebSocket:
    """One open client WebSocket (after a verified 101)."""

    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host, port, path):
        reader, writer = await asyncio.open_connection(host, port, limit=MAX_HEAD)
        try:
            key = base64.b64encode(os.urandom(16)).decode()
            writer.write((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                          f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n").encode())
            status, headers = await read_head(reader)
            if status != 101:
                raise WireError(f"status-{status}")
            want = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
            if headers.get("sec-websocket-accept") != want:
                raise WireError("bad-accept", headers.get("sec-websocket-accept", "(none)"))
            if "websocket" not in headers.get("upgrade", "").lower():
                raise WireError("no-upgrade-header")
        except BaseException:
            writer.transport.abort()
            raise
        return cls(reader, writer)

    async def echo(self, payload: bytes, text: bool):
        """Send one message and require the identical message back as one final frame."""
        opcode = OP_TEXT if text else OP_BINARY
        self.writer.write(client_frame(opcode, payload))
        await self.writer.drain()
        fin, op, got = await read_frame(self.reader)
        if not fin or op != opcode:
            raise WireError("wrong-frame", f"fin={fin} opcode={op}")
        if got != payload:
            raise WireError("payload-mismatch", f"sent {len(payload)} B, got {len(got)} B")

    async def close(self, code=1000):
        """Close handshake: our CLOSE, the echo's CLOSE with the same code, then EOF from the gateway."""
        try:
            self.writer.write(client_frame(OP_CLOSE, struct.pack("!H", code) + b"soak"))
            await self.writer.drain()
            fin, op, got = await read_frame(self.reader)
            if op != OP_CLOSE:
                raise WireError("no-close-reply", f"opcode={op}")
            if len(got) < 2 or struct.unpack("!H", got[:2])[0] != code:
                raise WireError("close-code", got[:2].hex())
            rest = await self.reader.read(64)
            if rest:
                raise WireError("bytes-after-close", f"{len(rest)} B")
        finally:
            self.abort()

    def abort(self):
        """Drop the socket now (also after errors): never leaves a descriptor behind."""
        self.writer.transport.abort()


async def http_get(host, port, path):
    """GET with `Connection: close`; returns (status, headers, body) once the gateway closed."""
    reader, writer = await asyncio.open_connection(host, port, limit=MAX_HEAD)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
        status, headers = await read_head(reader)
        body = await reader.read(MAX_BODY + 1)
        while True:
            more = await reader.read(MAX_BODY + 1)
            if not more:
                break
            body += more
            if len(body) > MAX_BODY:
                raise WireError("body-too-large")
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = dechunk(body)
        elif "content-length" in headers and int(headers["content-length"]) != len(body):
            raise WireError("body-length", f"{len(body)} != {headers['content-length']}")
        return status, headers, body
    finally:
        writer.transport.abort()


def dechunk(data: bytes) -> bytes:
    out, i = b"", 0
    while True:
        j = data.find(b"\r\n", i)
        if j < 0:
            raise WireError("bad-chunk")
        size = int(data[i:j].split(b";")[0], 16)
        if size == 0:
            return out
        out += data[j + 2:j + 2 + size]
        i = j + 2 + size + 2

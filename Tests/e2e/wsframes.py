"""Client-side WebSocket frame helpers (RFC 6455), stdlib only.

Used by the e2e tests for raw-socket WebSocket checks and by
Fixtures/tools/check_fixtures.py.
"""
import base64
import hashlib
import os
import struct
from dataclasses import dataclass

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_for(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def new_key() -> str:
    return base64.b64encode(os.urandom(16)).decode()


def xor_mask(data: bytes, key: bytes) -> bytes:
    n = len(data)
    if n == 0:
        return b""
    pad = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(pad, "big")).to_bytes(n, "big")


def build_frame(opcode: int, payload: bytes, fin: bool = True, mask: bool = True, key: bytes = None) -> bytes:
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if mask:
        key = key or os.urandom(4)
        return head + key + xor_mask(payload, key)
    return head + payload


@dataclass
class Frame:
    fin: bool
    opcode: int
    masked: bool
    payload: bytes   # unmasked
    rsv: int = 0


def parse_frame(buf):
    """Parse one frame from the start of buf. Returns (Frame, bytes_used) or None if incomplete."""
    if len(buf) < 2:
        return None
    b0, b1 = buf[0], buf[1]
    n = b1 & 0x7F
    pos = 2
    if n == 126:
        if len(buf) < 4:
            return None
        (n,) = struct.unpack("!H", bytes(buf[2:4]))
        pos = 4
    elif n == 127:
        if len(buf) < 10:
            return None
        (n,) = struct.unpack("!Q", bytes(buf[2:10]))
        pos = 10
    masked = bool(b1 & 0x80)
    key = None
    if masked:
        if len(buf) < pos + 4:
            return None
        key = bytes(buf[pos:pos + 4])
        pos += 4
    if len(buf) < pos + n:
        return None
    payload = bytes(buf[pos:pos + n])
    if masked:
        payload = xor_mask(payload, key)
    return Frame(bool(b0 & 0x80), b0 & 0x0F, masked, payload, (b0 >> 4) & 7), pos + n

"""Raw HTTP/2 frames over a socket, for conformance cases the Python `h2` package refuses to send
(malformed frames, bad HPACK, protocol violations). Header blocks are encoded with `hpack` (which
encodes names as given, uppercase included); the server's header blocks are decoded in order so
the HPACK state stays in sync.

`Peer` does the handshake (preface, SETTINGS, ACKs), then a test sends frames and checks what the
server answers: `expect_goaway(code)` (a connection error: GOAWAY, then the server closes),
`expect_rst(sid, code)` (a stream error; the connection stays usable, checked with `alive()`),
`response(sid)` (HEADERS and DATA of a stream).
"""
import socket
import struct
import time

import hpack
import pytest

from e2e_util import Switchyard, q

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM = ACK = 0x1
END_HEADERS, PADDED, PRIORITY_FLAG = 0x4, 0x8, 0x20
# Settings (RFC 9113 §6.5.2, RFC 8441 §3)
HEADER_TABLE_SIZE, ENABLE_PUSH, MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE, MAX_HEADER_LIST_SIZE = range(1, 7)
ENABLE_CONNECT_PROTOCOL = 8
# Error codes (RFC 9113 §7)
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR, SETTINGS_TIMEOUT, STREAM_CLOSED, FRAME_SIZE_ERROR, \
    REFUSED_STREAM, CANCEL, COMPRESSION_ERROR, CONNECT_ERROR, ENHANCE_YOUR_CALM = range(12)
NAMES = {v: k for k, v in dict(NO_ERROR=0, PROTOCOL_ERROR=1, INTERNAL_ERROR=2, FLOW_CONTROL_ERROR=3, SETTINGS_TIMEOUT=4,
                                 STREAM_CLOSED=5, FRAME_SIZE_ERROR=6, REFUSED_STREAM=7, CANCEL=8, COMPRESSION_ERROR=9,
                                 CONNECT_ERROR=10, ENHANCE_YOUR_CALM=11).items()}


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload


def settings(*pairs, ack=False):
    return frame(SETTINGS, ACK if ack else 0, 0, b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def ping(opaque=b"12345678", ack=False):
    return frame(PING, ACK if ack else 0, 0, opaque)


def window_update(sid, increment):
    return frame(WINDOW_UPDATE, 0, sid, struct.pack(">I", increment))


def rst(sid, code=CANCEL):
    return frame(RST_STREAM, 0, sid, struct.pack(">I", code))


def priority(sid, depends_on, weight=15, exclusive=False):
    return frame(PRIORITY, 0, sid, struct.pack(">IB", depends_on | (0x80000000 if exclusive else 0), weight))


def hpack_int(value, prefix_bits, first_byte_flags):
    """RFC 7541 §5.1 integer, for hand-made header blocks."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first_byte_flags | value])
    out = [first_byte_flags | limit]
    value -= limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    return bytes(out + [value])


class Peer:
    def __init__(self, port, client_settings=((INITIAL_WINDOW_SIZE, 1 << 20),), timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        # Small frames in separate writes: without this, Nagle waits for the server's delayed ACK.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.enc = hpack.Encoder()
        self.dec = hpack.Decoder()
        self.buf = b""
        self.server_settings = {}
        self.headers = {}      # sid -> [(name, value)] of the first header block
        self.bodies = {}
        self.ended = set()
        self.resets = {}       # sid -> code
        self.goaway = None     # (last_stream_id, code, debug)
        self.pings = []
        self.closed = False
        self.settings_acks = 0
        self.raw_blocks = {}   # sid -> the first header block as received (HPACK bytes)
        self.header_frames = {}   # sid -> frames (HEADERS + CONTINUATION) of its last header block
        self.pending = None    # (sid, block so far, END_STREAM) while CONTINUATION frames are due
        # What we accept (our SETTINGS_MAX_FRAME_SIZE; RFC 9113 §4.2): the server must stay within it.
        self.max_frame_size = dict(client_settings).get(MAX_FRAME_SIZE, 16384)
        self.sock.sendall(PREFACE + settings(*client_settings))
        # The server's SETTINGS and its ACK of ours (RFC 9113 §6.5.3) both arrive before a test
        # starts: an ACK still on its way would land in the same read as the ACK a test waits for
        # (the count jumping past the value the test expects).
        self.wait(lambda: self.server_settings_seen and self.settings_acks >= 1, what="server SETTINGS and the ACK of ours")

    server_settings_seen = False

    # ---- sending

    def send(self, *frames):
        self.sock.sendall(b"".join(frames))

    def block(self, fields):
        return self.enc.encode(fields)

    def request_fields(self, method="GET", path="/index.html", extra=()):
        return [(":method", method), (":scheme", "http"), (":authority", "a.test"), (":path", path), *extra]

    def headers_frame(self, sid, fields=None, end_stream=True, end_headers=True, flags=0):
        block = self.block(self.request_fields() if fields is None else fields)
        f = flags | (END_STREAM if end_stream else 0) | (END_HEADERS if end_headers else 0)
        return frame(HEADERS, f, sid, block)

    def request(self, sid, fields=None, end_stream=True):
        self.send(self.headers_frame(sid, fields, end_stream))

    # ---- receiving

    def _read(self, deadline):
        self.sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = self.sock.recv(1 << 16)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.closed = True
            return
        self.buf += data
        while len(self.buf) >= 9:
            length = int.from_bytes(self.buf[:3], "big")
            if len(self.buf) < 9 + length:
                break
            assert length <= self.max_frame_size, f"the server sent a {length}-byte frame (we allow {self.max_frame_size})"
            ftype, flags = self.buf[3], self.buf[4]
            sid = int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF
            payload, self.buf = self.buf[9:9 + length], self.buf[9 + length:]
            self._handle(ftype, flags, sid, payload)

    def _handle(self, ftype, flags, sid, payload):
        if ftype == SETTINGS and not flags & ACK:
            for i in range(0, len(payload), 6):
                k, v = struct.unpack(">HI", payload[i:i + 6])
                self.server_settings[k] = v
            self.server_settings_seen = True
            self.send(settings(ack=True))
        elif ftype == SETTINGS:
            self.settings_acks += 1
        elif ftype in (HEADERS, CONTINUATION):
            block = payload
            if ftype == HEADERS:
                assert self.pending is None, f"HEADERS on {sid} inside the header block of {self.pending[0]}"
                if flags & PADDED:
                    block = block[1:len(block) - block[0]]
                if flags & PRIORITY_FLAG:
                    block = block[5:]
                self.pending = (sid, b"", bool(flags & END_STREAM))
                self.header_frames[sid] = 0
            assert self.pending and self.pending[0] == sid, f"CONTINUATION on {sid} without its HEADERS"
            self.pending = (sid, self.pending[1] + block, self.pending[2])
            self.header_frames[sid] += 1
            if flags & END_HEADERS:
                _, block, end = self.pending
                self.pending = None
                self.raw_blocks.setdefault(sid, block)
                fields = self.dec.decode(block)
                self.headers.setdefault(sid, fields)
                if end:
                    self.ended.add(sid)
        elif ftype == DATA:
            body = payload[1:len(payload) - payload[0]] if flags & PADDED else payload
            self.bodies[sid] = self.bodies.get(sid, b"") + body
            if payload:
                self.send(window_update(0, len(payload)))
            if flags & END_STREAM:
                self.ended.add(sid)
        elif ftype == RST_STREAM:
            self.resets[sid] = struct.unpack(">I", payload)[0]
        elif ftype == GOAWAY:
            last, code = struct.unpack(">II", payload[:8])
            self.goaway = (last & 0x7FFFFFFF, code, payload[8:])
        elif ftype == PING and flags & ACK:
            self.pings.append(payload)

    def wait(self, pred, timeout=None, what="condition"):
        deadline = time.monotonic() + (timeout or self.timeout)
        while not pred():
            if self.closed or time.monotonic() >= deadline:
                raise AssertionError(f"{what} not seen (closed={self.closed}, goaway={self.goaway}, resets={self.resets})")
            try:
                self._read(deadline)
            except socket.timeout:
                pass

    def expect_goaway(self, code):
        """A connection error (RFC 9113 §5.4.1): GOAWAY with `code`, then the server closes."""
        self.wait(lambda: self.goaway is not None, what=f"GOAWAY {NAMES[code]}")
        assert self.goaway[1] == code, f"GOAWAY {NAMES.get(self.goaway[1], self.goaway[1])}, wanted {NAMES[code]}: {self.goaway}"
        deadline = time.monotonic() + self.timeout
        while not self.closed and time.monotonic() < deadline:
            try:
                self._read(deadline)
            except socket.timeout:
                pass
        assert self.closed, "the server did not close the connection after GOAWAY"

    def expect_rst(self, sid, code):
        """A stream error (RFC 9113 §5.4.2): RST_STREAM with `code`; the connection lives on."""
        self.wait(lambda: sid in self.resets or self.goaway is not None, what=f"RST_STREAM {NAMES[code]} on {sid}")
        assert self.goaway is None, f"connection error {NAMES.get(self.goaway[1])} instead of RST_STREAM: {self.goaway}"
        assert self.resets[sid] == code, f"RST_STREAM {NAMES.get(self.resets[sid])}, wanted {NAMES[code]}"
        self.alive()

    def alive(self):
        """A PING round trip: the connection still works."""
        opaque = struct.pack(">d", time.monotonic())
        self.send(ping(opaque))
        self.wait(lambda: opaque in self.pings, what="PING ACK")
        assert self.goaway is None, self.goaway

    def response(self, sid):
        self.wait(lambda: sid in self.ended or sid in self.resets, what=f"end of stream {sid}")
        assert sid not in self.resets, f"stream {sid} reset: {NAMES.get(self.resets[sid])}"
        return dict(self.headers.get(sid, [])), self.bodies.get(sid, b"")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---- the conformance gateway (test_http2_conformance*.py): static files, a CGI that echoes its
# body, and a low stream limit so server.h2-max-concurrent-streams is checked too.

STREAM_LIMIT = 4
CAT_CGI = b"""import sys
data = sys.stdin.buffer.read()
sys.stdout.buffer.write(b"Content-Type: application/octet-stream\\r\\n\\r\\n" + data)
"""

BIG_HEAD_CGI = b"""import sys
sys.stdout.write("Content-Type: text/plain\\r\\nX-Big: " + "h" * 40000 + "\\r\\n\\r\\nsmall body")
"""


def start_conformance_gateway(root):
    (root / "doc" / "cgi").mkdir(parents=True)
    (root / "doc" / "index.html").write_text("conformance\n")
    (root / "doc" / "hundred.bin").write_bytes(bytes(range(100)))
    (root / "doc" / "cgi" / "cat.py").write_bytes(CAT_CGI)
    (root / "doc" / "cgi" / "bighead.py").write_bytes(BIG_HEAD_CGI)
    return Switchyard(f"""
server.document-root = {q(root / "doc")}
server.modules += ("mod_cgi")
server.event-loops = 1
server.h2-max-concurrent-streams = {STREAM_LIMIT}
mimetype.assign = (".html" => "text/html")
$HTTP["url"] =~ "^/cgi/" {{
    cgi.assign = (".py" => "/usr/bin/python3")
}}
""", root)


def held_peer(port):
    """A client with a zero stream window: responses get HEADERS but no DATA, so streams stay
    half-closed (remote) on the server for as long as a test needs."""
    return Peer(port, client_settings=((INITIAL_WINDOW_SIZE, 0),))


@pytest.fixture(scope="module")
def port(tmp_path_factory):
    """One conformance gateway per test module that imports this fixture."""
    srv = start_conformance_gateway(tmp_path_factory.mktemp("h2conf"))
    yield srv.port
    srv.stop(expect_code=None)
    srv.kill()


@pytest.fixture
def peer(port):
    p = Peer(port)
    yield p
    p.close()

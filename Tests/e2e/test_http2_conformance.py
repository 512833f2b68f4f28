"""HTTP/2 conformance, h2spec-style (h2spec itself is packaged neither for Debian nor PyPI): raw frames
over h2c prior knowledge (h2_raw.py), each case named after the RFC section it checks. One gateway
for the module; every case opens its own connection and takes milliseconds.

Sections covered:
  RFC 9113  3.4 preface · 4.1 frame format (unknown types/flags, reserved bit) · 4.2 frame size ·
            4.3 header compression errors · 5.1 stream states (idle, half-closed (remote), closed) ·
            5.1.1 stream identifiers (even, decreasing) · 5.1.2 concurrency (REFUSED_STREAM) ·
            5.3.1 self-dependency · 5.4.1/5.4.2 connection and stream errors · 5.5 extensions ·
            6.1 DATA (padding) · 6.2 HEADERS (priority, padding) · 6.3 PRIORITY · 6.4 RST_STREAM ·
            6.5/6.5.2/6.5.3 SETTINGS · 6.7 PING · 6.8 GOAWAY · 6.9/6.9.1/6.9.2 flow control ·
            6.10 CONTINUATION · 8.1 content-length, trailers · 8.2 field validity (uppercase,
            connection-specific, TE) · 8.3.1 pseudo-header fields · 8.5 CONNECT · 10.5.1 header
            list size (431)
  RFC 8441  3 SETTINGS_ENABLE_CONNECT_PROTOCOL · 4 extended CONNECT pseudo-headers
  RFC 7541  2.3/6.1 index 0 and out of range · 4.2/6.3 dynamic table size updates · 5.1 integer
            overflow · 5.2 Huffman EOS/padding
  Config    server.h2-max-concurrent-streams advertised and enforced (issue 13 point 4)

Floods (rapid reset, CONTINUATION, PING/SETTINGS) and flow-control accounting of request bodies are
in test_http2.py and the SwitchyardHTTP2Tests unit tests.
"""
import socket
import struct

import hpack
import pytest

from e2e_util import CGI_BIN, Switchyard, q
from h2_raw import (ACK, CONTINUATION, DATA, END_HEADERS, END_STREAM, ENABLE_CONNECT_PROTOCOL, ENABLE_PUSH, GOAWAY,
                    HEADERS, INITIAL_WINDOW_SIZE, MAX_CONCURRENT_STREAMS, MAX_FRAME_SIZE, MAX_HEADER_LIST_SIZE, PADDED, PING, PREFACE,
                    PRIORITY, PRIORITY_FLAG, RST_STREAM, SETTINGS, WINDOW_UPDATE, COMPRESSION_ERROR, FLOW_CONTROL_ERROR,
                    FRAME_SIZE_ERROR, PROTOCOL_ERROR, REFUSED_STREAM, STREAM_CLOSED, Peer, frame, hpack_int, ping,
                    priority, rst, settings, window_update)

pytestmark = pytest.mark.switchyard_only

STREAM_LIMIT = 4
CAT_CGI = b"""import sys
data = sys.stdin.buffer.read()
sys.stdout.buffer.write(b"Content-Type: application/octet-stream\\r\\n\\r\\n" + data)
"""


@pytest.fixture(scope="module")
def port(tmp_path_factory):
    root = tmp_path_factory.mktemp("h2conf")
    (root / "doc" / "cgi").mkdir(parents=True)
    (root / "doc" / "index.html").write_text("conformance\n")
    (root / "doc" / "cgi" / "cat.py").write_bytes(CAT_CGI)
    srv = Switchyard(f"""
server.document-root = {q(root / "doc")}
server.modules += ("mod_cgi")
server.event-loops = 1
server.h2-max-concurrent-streams = {STREAM_LIMIT}
mimetype.assign = (".html" => "text/html")
$HTTP["url"] =~ "^/cgi/" {{
    cgi.assign = (".py" => "/usr/bin/python3")
}}
""", root)
    yield srv.port
    srv.stop(expect_code=None)
    srv.kill()


@pytest.fixture
def peer(port):
    p = Peer(port)
    yield p
    p.close()


def held_peer(port):
    """A client with a zero stream window: responses get HEADERS but no DATA, so streams stay
    half-closed (remote) on the server for as long as a test needs."""
    return Peer(port, client_settings=((INITIAL_WINDOW_SIZE, 0),))


# ---------------------------------------------------------------- 3.4, 4.1, 4.2, 4.3

def test_3_4_first_frame_must_be_settings(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=3)
    s.sendall(PREFACE + ping())
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    # Our SETTINGS, then GOAWAY PROTOCOL_ERROR (the frame types are at offset 3 of each header).
    frames, i = [], 0
    while i + 9 <= len(data):
        length = int.from_bytes(data[i:i + 3], "big")
        frames.append((data[i + 3], data[i + 9:i + 9 + length]))
        i += 9 + length
    goaways = [payload for t, payload in frames if t == GOAWAY]
    assert goaways and struct.unpack(">I", goaways[0][4:8])[0] == PROTOCOL_ERROR, frames


def test_3_4_invalid_preface_is_not_http2(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=3)
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nXM\r\n\r\n" + settings())
    data = s.recv(4096)
    s.close()
    assert data.startswith(b"HTTP/1.1 4") or data.startswith(b"HTTP/1.1 5"), data[:80]


def test_3_4_and_6_5_3_server_settings_and_ack(peer):
    assert peer.server_settings[MAX_CONCURRENT_STREAMS] == STREAM_LIMIT
    assert peer.server_settings[ENABLE_CONNECT_PROTOCOL] == 1          # RFC 8441 §3
    assert peer.server_settings[ENABLE_PUSH] == 0
    peer.alive()


def test_4_1_unknown_frame_type_and_flags_are_ignored(peer):
    peer.send(frame(0xFA, 0xFF, 0, b"ignored"), frame(0x21, 0, 1, b"x"))
    peer.send(frame(PING, 0xF6, 0, b"flagsxyz"))                        # undefined flags, no ACK bit
    peer.wait(lambda: b"flagsxyz" in peer.pings, what="PING ACK")
    peer.request(1)
    h, body = peer.response(1)
    assert h[":status"] == "200" and body == b"conformance\n"


def test_4_1_reserved_bit_of_the_stream_id_is_ignored(peer):
    f = peer.headers_frame(1)
    peer.send(f[:5] + struct.pack(">I", 0x80000001) + f[9:])
    assert peer.response(1)[0][":status"] == "200"


def test_4_2_frame_of_max_frame_size_is_accepted(peer):
    peer.request(1, peer.request_fields("POST", "/cgi/cat.py", [("content-length", "16384")]), end_stream=False)
    peer.send(frame(DATA, END_STREAM, 1, b"a" * 16384))
    h, body = peer.response(1)
    assert h[":status"] == "200" and body == b"a" * 16384


def test_4_2_data_over_max_frame_size_is_frame_size_error(peer):
    peer.send(peer.headers_frame(1, peer.request_fields("POST", "/index.html"), end_stream=False),
              frame(DATA, 0, 1, b"a" * 16385))
    peer.expect_goaway(FRAME_SIZE_ERROR)


def test_4_2_headers_over_max_frame_size_is_frame_size_error(peer):
    peer.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, peer.enc.encode(peer.request_fields(extra=[("x", "y" * 16400)]), huffman=False)))
    peer.expect_goaway(FRAME_SIZE_ERROR)


@pytest.mark.parametrize("block", [b"\x80", b"\xc0", b"\x41\x8f", b"\x00\x03ab"],
                         ids=["index-0", "index-out-of-range", "truncated-string", "string-past-end"])
def test_4_3_and_rfc7541_6_1_bad_header_block_is_compression_error(peer, block):
    peer.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, block))
    peer.expect_goaway(COMPRESSION_ERROR)


def test_rfc7541_6_every_representation_and_the_dynamic_table(peer):
    """Indexed (6.1), literal with incremental indexing (6.2.1), without indexing (6.2.2), never
    indexed (6.2.3), plain and Huffman strings; the second request reuses the table's entries."""
    def lit(prefix, name_index, value, name=b""):
        out = hpack_int(name_index, 6 if prefix == 0x40 else 4, prefix)
        if not name_index:
            out += hpack_int(len(name), 7, 0) + name
        return out + hpack_int(len(value), 7, 0) + value
    first = (b"\x82\x86" + lit(0x40, 1, b"a.test") + lit(0x00, 4, b"/index.html")
             + lit(0x10, 0, b"v", name=b"x-secret") + lit(0x40, 0, b"1", name=b"x-seen"))
    peer.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, first))
    assert peer.response(1)[1] == b"conformance\n"
    # 62 = x-seen: 1 (newest), 63 = :authority a.test; :path /index.html as a Huffman literal.
    path = hpack.Encoder().encode([(":path", "/index.html?h")], huffman=True)
    assert path[0] == 0x44 and path[1] & 0x80                     # name index 4, Huffman value
    second = b"\x82\x86\xbf\x04" + path[1:] + b"\xbe"              # :path as a literal without indexing
    peer.send(frame(HEADERS, END_STREAM | END_HEADERS, 3, second))
    assert peer.response(3)[1] == b"conformance\n"


def test_rfc7541_4_2_table_size_update_above_the_setting(peer):
    peer.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, hpack_int(4097, 5, 0x20) + peer.block(peer.request_fields())))
    peer.expect_goaway(COMPRESSION_ERROR)


def test_rfc7541_4_2_table_size_update_after_a_field(peer):
    peer.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, peer.block(peer.request_fields()) + hpack_int(0, 5, 0x20)))
    peer.expect_goaway(COMPRESSION_ERROR)


def test_rfc7541_4_2_table_size_update_at_start_is_accepted(peer):
    peer.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, hpack_int(0, 5, 0x20) + hpack_int(4096, 5, 0x20)
                    + peer.block(peer.request_fields())))
    assert peer.response(1)[0][":status"] == "200"


def test_rfc7541_5_1_integer_overflow(peer):
    peer.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, b"\xff" + b"\xff" * 10 + b"\x01"))
    peer.expect_goaway(COMPRESSION_ERROR)


@pytest.mark.parametrize("huffman", [b"\xff\xff\xff\xff", b"\x1f\xff"], ids=["eos", "padding-over-7-bits"])
def test_rfc7541_5_2_bad_huffman(peer, huffman):
    # Literal without indexing, new name "a" (plain), value Huffman-coded.
    peer.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, b"\x00\x01a"
                    + bytes([0x80 | len(huffman)]) + huffman))
    peer.expect_goaway(COMPRESSION_ERROR)


# ---------------------------------------------------------------- 5.1 stream states, 5.1.1, 5.1.2

@pytest.mark.parametrize("make", [lambda p: frame(DATA, 0, 1, b"x"), lambda p: rst(1), lambda p: window_update(1, 1),
                                  lambda p: frame(CONTINUATION, END_HEADERS, 1, p.block(p.request_fields()))],
                         ids=["DATA", "RST_STREAM", "WINDOW_UPDATE", "CONTINUATION"])
def test_5_1_frames_on_an_idle_stream_are_protocol_error(peer, make):
    peer.send(make(peer))
    peer.expect_goaway(PROTOCOL_ERROR)


def test_5_1_priority_on_an_idle_stream_is_accepted(peer):
    peer.send(priority(3, 0))
    peer.request(1)
    assert peer.response(1)[0][":status"] == "200"
    peer.request(3)                                    # still openable after the PRIORITY
    assert peer.response(3)[0][":status"] == "200"


def test_5_1_half_closed_remote_data_is_stream_closed(port):
    p = held_peer(port)
    p.request(1)
    p.wait(lambda: 1 in p.headers, what="response HEADERS")
    p.send(frame(DATA, 0, 1, b"late"))
    p.expect_rst(1, STREAM_CLOSED)
    p.close()


def test_5_1_half_closed_remote_headers_is_stream_closed(port):
    p = held_peer(port)
    p.request(1)
    p.wait(lambda: 1 in p.headers, what="response HEADERS")
    p.send(p.headers_frame(1, [("x-trailer", "late")]))
    p.expect_rst(1, STREAM_CLOSED)
    p.close()


def test_5_1_closed_by_rst_then_data_is_stream_closed(port):
    p = held_peer(port)
    p.request(1, p.request_fields("POST", "/index.html"), end_stream=False)
    p.send(rst(1))
    p.send(frame(DATA, 0, 1, b"after reset"))
    p.expect_rst(1, STREAM_CLOSED)
    p.close()


def test_5_1_closed_by_rst_then_headers_is_stream_closed(port):
    p = held_peer(port)
    p.request(1, end_stream=False)
    p.send(rst(1))
    p.request(1)
    p.expect_goaway(STREAM_CLOSED)
    p.close()


def test_5_1_closed_after_end_stream_then_headers_is_stream_closed(peer):
    peer.request(1)
    peer.response(1)
    peer.request(1)
    peer.expect_goaway(STREAM_CLOSED)
    assert peer.goaway[0] == 1                          # 5.4.1/6.8: the last stream processed


def test_5_1_1_even_stream_id_is_protocol_error(peer):
    peer.request(2)
    peer.expect_goaway(PROTOCOL_ERROR)


def test_5_1_1_decreasing_stream_id_is_protocol_error(peer):
    peer.request(5)
    peer.response(5)
    peer.request(3)
    peer.expect_goaway(PROTOCOL_ERROR)


def test_5_1_2_streams_over_the_configured_limit_are_refused(port):
    """server.h2-max-concurrent-streams: advertised in SETTINGS, and the stream past it refused
    while the others live on."""
    p = held_peer(port)
    assert p.server_settings[MAX_CONCURRENT_STREAMS] == STREAM_LIMIT
    for sid in range(1, 2 * STREAM_LIMIT, 2):
        p.request(sid)
    p.wait(lambda: len(p.headers) == STREAM_LIMIT, what="held responses")
    extra = 2 * STREAM_LIMIT + 1
    p.request(extra)
    p.expect_rst(extra, REFUSED_STREAM)
    p.send(window_update(1, 100))                      # a held stream still completes
    h, body = p.response(1)
    assert body == b"conformance\n"
    p.request(extra + 2)                              # a slot is free again
    p.wait(lambda: extra + 2 in p.headers, what="HEADERS after a slot freed")
    p.close()


# ---------------------------------------------------------------- 5.3.1, 5.5

def test_5_3_1_headers_depending_on_itself_is_stream_error(peer):
    prio = struct.pack(">IB", 1, 15)
    peer.send(frame(HEADERS, END_STREAM | END_HEADERS | PRIORITY_FLAG, 1, prio + peer.block(peer.request_fields())))
    peer.expect_rst(1, PROTOCOL_ERROR)


def test_5_3_1_priority_depending_on_itself_is_stream_error(peer):
    peer.send(priority(1, 1))
    peer.expect_rst(1, PROTOCOL_ERROR)


def test_5_5_unknown_setting_is_ignored(peer):
    peer.send(settings((0x99, 7), (0xFFFF, 1)))
    peer.alive()


def test_5_5_unknown_frame_inside_a_header_block_is_protocol_error(peer):
    peer.send(peer.headers_frame(1, end_headers=False), frame(0xFA, 0, 1, b"x"))
    peer.expect_goaway(PROTOCOL_ERROR)


# ---------------------------------------------------------------- 6.1 DATA, 6.2 HEADERS, 6.3 PRIORITY, 6.4 RST_STREAM

def test_6_1_padded_data_reaches_the_backend_without_its_padding(peer):
    peer.request(1, peer.request_fields("POST", "/cgi/cat.py", [("content-length", "11")]), end_stream=False)
    peer.send(frame(DATA, PADDED, 1, bytes([5]) + b"hello" + bytes(5)),
              frame(DATA, PADDED | END_STREAM, 1, bytes([0]) + b" world"))
    h, body = peer.response(1)
    assert h[":status"] == "200" and body == b"hello world"


def test_6_1_data_on_stream_0_is_protocol_error(peer):
    peer.send(frame(DATA, 0, 0, b"x"))
    peer.expect_goaway(PROTOCOL_ERROR)


@pytest.mark.parametrize("ftype", [DATA, HEADERS])
def test_6_1_and_6_2_pad_length_too_big_is_protocol_error(peer, ftype):
    if ftype == DATA:
        peer.send(peer.headers_frame(1, peer.request_fields("POST", "/index.html"), end_stream=False),
                  frame(DATA, PADDED, 1, bytes([4]) + b"abc"))
    else:
        block = peer.block(peer.request_fields())
        peer.send(frame(HEADERS, PADDED | END_HEADERS | END_STREAM, 1, bytes([len(block) + 1]) + block))
    peer.expect_goaway(PROTOCOL_ERROR)


def test_6_2_headers_with_priority_and_padding_are_accepted(peer):
    block = peer.block(peer.request_fields())
    peer.send(frame(HEADERS, PADDED | PRIORITY_FLAG | END_HEADERS | END_STREAM, 1,
                    bytes([3]) + struct.pack(">IB", 0x80000000, 200) + block + bytes(3)))
    h, body = peer.response(1)
    assert h[":status"] == "200" and body == b"conformance\n"


def test_6_2_headers_on_stream_0_is_protocol_error(peer):
    peer.send(peer.headers_frame(0))
    peer.expect_goaway(PROTOCOL_ERROR)


def test_6_3_priority_on_stream_0_is_protocol_error(peer):
    peer.send(priority(0, 1))
    peer.expect_goaway(PROTOCOL_ERROR)


def test_6_3_priority_of_wrong_length_is_frame_size_error(port):
    p = held_peer(port)
    p.request(1)
    p.wait(lambda: 1 in p.headers, what="response HEADERS")
    p.send(frame(PRIORITY, 0, 1, b"\x00\x00\x00\x00\x10\x00"))
    p.expect_rst(1, FRAME_SIZE_ERROR)
    p.close()


def test_6_3_priority_on_half_closed_and_closed_streams_is_accepted(port):
    p = held_peer(port)
    p.request(1)
    p.wait(lambda: 1 in p.headers, what="response HEADERS")
    p.send(priority(1, 0, weight=1), rst(1), priority(1, 0, weight=255))
    p.alive()
    p.close()


@pytest.mark.parametrize("payload,sid,code", [(b"\x00\x00\x00\x08", 0, PROTOCOL_ERROR),
                                              (b"\x00\x00\x00\x08\x00", 1, FRAME_SIZE_ERROR)],
                         ids=["stream-0", "length-5"])
def test_6_4_bad_rst_stream(peer, payload, sid, code):
    peer.request(1, peer.request_fields("POST", "/index.html"), end_stream=False)
    peer.send(frame(RST_STREAM, 0, sid, payload))
    peer.expect_goaway(code)


# ---------------------------------------------------------------- 6.5 SETTINGS, 6.7 PING, 6.8 GOAWAY

@pytest.mark.parametrize("raw,code", [
    (frame(SETTINGS, ACK, 0, b"\x00\x01\x00\x00\x10\x00"), FRAME_SIZE_ERROR),
    (frame(SETTINGS, 0, 1, b""), PROTOCOL_ERROR),
    (frame(SETTINGS, 0, 0, b"\x00\x01\x00\x00\x10"), FRAME_SIZE_ERROR),
    (settings((ENABLE_PUSH, 2)), PROTOCOL_ERROR),
    (settings((INITIAL_WINDOW_SIZE, 1 << 31)), FLOW_CONTROL_ERROR),
    (settings((MAX_FRAME_SIZE, 16383)), PROTOCOL_ERROR),
    (settings((MAX_FRAME_SIZE, 1 << 24)), PROTOCOL_ERROR),
    (settings((ENABLE_CONNECT_PROTOCOL, 2)), PROTOCOL_ERROR),
], ids=["6.5-ack-with-payload", "6.5-stream-1", "6.5-length-not-multiple-of-6", "6.5.2-enable-push-2",
        "6.5.2-initial-window-2^31", "6.5.2-max-frame-size-too-small", "6.5.2-max-frame-size-too-big",
        "rfc8441-3-enable-connect-protocol-2"])
def test_6_5_bad_settings(peer, raw, code):
    peer.send(raw)
    peer.expect_goaway(code)


def test_6_5_3_settings_are_acknowledged(peer):
    acks = peer.settings_acks
    peer.send(settings((MAX_FRAME_SIZE, 1 << 20), (0x42, 1)))
    peer.wait(lambda: peer.settings_acks == acks + 1, what="SETTINGS ACK")


def test_6_7_ping_is_answered_and_ping_ack_is_not(peer):
    peer.send(ping(b"ackedack", ack=True))
    peer.alive()
    assert b"ackedack" not in peer.pings


@pytest.mark.parametrize("raw,code", [(frame(PING, 0, 1, b"12345678"), PROTOCOL_ERROR),
                                      (frame(PING, 0, 0, b"1234567"), FRAME_SIZE_ERROR)], ids=["stream-1", "length-7"])
def test_6_7_bad_ping(peer, raw, code):
    peer.send(raw)
    peer.expect_goaway(code)


def test_6_8_goaway_on_a_stream_is_protocol_error(peer):
    peer.send(frame(GOAWAY, 0, 1, struct.pack(">II", 0, 0)))
    peer.expect_goaway(PROTOCOL_ERROR)


def test_6_8_client_goaway_lets_the_open_stream_finish_then_closes(port):
    p = held_peer(port)
    p.request(1)
    p.wait(lambda: 1 in p.headers, what="response HEADERS")
    p.send(frame(GOAWAY, 0, 0, struct.pack(">II", 0, 0)), window_update(1, 1000))
    assert p.response(1)[1] == b"conformance\n"
    p.wait(lambda: p.closed, what="close after GOAWAY")
    p.close()


# ---------------------------------------------------------------- 6.9 flow control

def test_6_9_window_update_of_zero_on_the_connection_is_protocol_error(peer):
    peer.send(window_update(0, 0))
    peer.expect_goaway(PROTOCOL_ERROR)


def test_6_9_window_update_of_zero_on_a_stream_is_stream_error(port):
    p = held_peer(port)
    p.request(1)
    p.wait(lambda: 1 in p.headers, what="response HEADERS")
    p.send(window_update(1, 0))
    p.expect_rst(1, PROTOCOL_ERROR)
    p.close()


def test_6_9_window_update_of_wrong_length_is_frame_size_error(peer):
    peer.send(frame(WINDOW_UPDATE, 0, 0, b"\x00\x00\x01"))
    peer.expect_goaway(FRAME_SIZE_ERROR)


def test_6_9_stream_window_governs_data(port):
    p = held_peer(port)
    p.request(1)
    p.wait(lambda: 1 in p.headers, what="response HEADERS")
    p.alive()
    assert 1 not in p.bodies                           # window 0: no DATA yet
    p.send(window_update(1, 5))
    p.wait(lambda: len(p.bodies.get(1, b"")) == 5, what="5 bytes")
    p.alive()
    assert p.bodies[1] == b"confo"
    p.send(settings((INITIAL_WINDOW_SIZE, 100)))       # 6.9.2: the change applies to open streams
    assert p.response(1)[1] == b"conformance\n"
    p.close()


def test_6_9_1_connection_window_overflow_is_flow_control_error(peer):
    peer.send(window_update(0, 0x7FFFFFFF))
    peer.expect_goaway(FLOW_CONTROL_ERROR)


def test_6_9_1_stream_window_overflow_is_stream_error(port):
    p = held_peer(port)
    p.request(1)
    p.wait(lambda: 1 in p.headers, what="response HEADERS")
    p.send(window_update(1, 0x7FFFFFFF), window_update(1, 1))
    p.expect_rst(1, FLOW_CONTROL_ERROR)
    p.close()


def test_6_9_2_initial_window_change_overflowing_a_stream_is_flow_control_error(port):
    p = held_peer(port)
    p.request(1)
    p.wait(lambda: 1 in p.headers, what="response HEADERS")
    p.send(window_update(1, 0x7FFFFFFF), settings((INITIAL_WINDOW_SIZE, 1)))
    p.expect_goaway(FLOW_CONTROL_ERROR)
    p.close()


# ---------------------------------------------------------------- 6.10 CONTINUATION

def test_6_10_headers_split_over_continuation(peer):
    block = peer.block(peer.request_fields(extra=[("x-pad", "p" * 100)]))
    peer.send(frame(HEADERS, END_STREAM, 1, block[:10]), frame(CONTINUATION, 0, 1, block[10:50]),
              frame(CONTINUATION, END_HEADERS, 1, block[50:]))
    assert peer.response(1)[1] == b"conformance\n"


@pytest.mark.parametrize("second", ["data", "ping", "priority", "other-stream", "continuation-stream-0",
                                    "continuation-then-data"])
def test_6_10_only_continuation_of_the_same_stream_may_follow(peer, second):
    block = peer.block(peer.request_fields())
    follow = {"data": frame(DATA, 0, 1, b"x"), "ping": ping(), "priority": priority(1, 0),
              "other-stream": frame(CONTINUATION, END_HEADERS, 3, block[5:]),
              "continuation-stream-0": frame(CONTINUATION, END_HEADERS, 0, block[5:]),
              "continuation-then-data": frame(CONTINUATION, 0, 1, block[5:8]) + frame(DATA, 0, 1, b"x")}[second]
    peer.send(frame(HEADERS, END_STREAM, 1, block[:5]), follow)
    peer.expect_goaway(PROTOCOL_ERROR)


def test_6_10_continuation_after_end_headers_is_protocol_error(peer):
    peer.request(1)
    peer.send(frame(CONTINUATION, END_HEADERS, 1, b""))
    peer.expect_goaway(PROTOCOL_ERROR)


# ---------------------------------------------------------------- 8.1, 8.2, 8.3.1, 8.5, RFC 8441 §4

BASE = [(":method", "GET"), (":scheme", "http"), (":authority", "a.test"), (":path", "/index.html")]
MALFORMED = {
    "8.2.1-uppercase-name": BASE + [("X-Upper", "1")],
    "8.2.1-space-in-name": BASE + [("x y", "1")],
    "8.2.1-newline-in-value": BASE + [("x", "a\nb")],
    "8.2.2-connection": BASE + [("connection", "keep-alive")],
    "8.2.2-transfer-encoding": BASE + [("transfer-encoding", "chunked")],
    "8.2.2-upgrade": BASE + [("upgrade", "websocket")],
    "8.2.2-te-gzip": BASE + [("te", "gzip")],
    "8.3-pseudo-after-regular": BASE[:3] + [("x", "1"), BASE[3]],
    "8.3-unknown-pseudo": BASE + [(":foo", "1")],
    "8.3-response-pseudo": BASE + [(":status", "200")],
    "8.3.1-no-method": BASE[1:],
    "8.3.1-no-scheme": [BASE[0]] + BASE[2:],
    "8.3.1-no-path": BASE[:3],
    "8.3.1-empty-path": BASE[:3] + [(":path", "")],
    "8.3.1-duplicate-path": BASE + [(":path", "/x")],
    "8.3.1-duplicate-method": BASE + [(":method", "HEAD")],
    "8.5-connect-with-path": [(":method", "CONNECT"), (":authority", "a.test:443"), (":path", "/")],
    "8.5-connect-with-scheme": [(":method", "CONNECT"), (":authority", "a.test:443"), (":scheme", "http")],
    "8.5-connect-without-authority": [(":method", "CONNECT")],
    "rfc8441-4-protocol-on-get": BASE + [(":protocol", "websocket")],
    "rfc8441-4-extended-connect-without-path": [(":method", "CONNECT"), (":protocol", "websocket"),
                                                (":scheme", "http"), (":authority", "a.test")],
    "8.1.1-content-length-without-body": BASE + [("content-length", "5")],
    "8.1.1-content-length-not-a-number": BASE + [("content-length", "5x")],
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_8_malformed_request_is_stream_protocol_error(peer, name):
    peer.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, peer.block(MALFORMED[name])))
    peer.expect_rst(1, PROTOCOL_ERROR)
    peer.request(3)                                    # the connection (and its HPACK state) still works
    assert peer.response(3)[1] == b"conformance\n"


@pytest.mark.parametrize("size", [12_000, 40_000], ids=["under-the-list-size", "over-every-string-bound"])
def test_10_5_1_header_list_over_the_limit_is_431_not_a_connection_error(peer, size):
    """SETTINGS_MAX_HEADER_LIST_SIZE follows server.max-request-field-size (8 KiB here): a larger
    request is answered 431 and the connection (and its HPACK table) lives on. The 40 000-byte value
    used to end the connection with COMPRESSION_ERROR (the decoder refused the string)."""
    assert peer.server_settings[MAX_HEADER_LIST_SIZE] == 8192 + 32 * 256
    big = peer.enc.encode(BASE + [("x-big", "v" * size)], huffman=False)
    pieces = [big[i:i + 16000] for i in range(0, len(big), 16000)]
    flags = [END_HEADERS if i == len(pieces) - 1 else 0 for i in range(len(pieces))]
    peer.send(frame(HEADERS, END_STREAM | flags[0], 1, pieces[0]),
              *[frame(CONTINUATION, f, 1, piece) for f, piece in zip(flags[1:], pieces[1:])])
    h, _ = peer.response(1)
    assert h[":status"] == "431"
    peer.request(3)
    assert peer.response(3)[1] == b"conformance\n"


def test_8_2_2_te_trailers_is_accepted(peer):
    peer.request(1, BASE + [("te", "trailers")])
    assert peer.response(1)[0][":status"] == "200"


@pytest.mark.parametrize("declared,sent", [(10, 5), (3, 5)], ids=["short", "long"])
def test_8_1_1_content_length_mismatch_is_stream_protocol_error(peer, declared, sent):
    # One write: the session sees the mismatch in the same read (no handler starts for the stream).
    peer.send(peer.headers_frame(1, peer.request_fields("POST", "/index.html", [("content-length", str(declared))]),
                                 end_stream=False), frame(DATA, END_STREAM, 1, b"x" * sent))
    peer.expect_rst(1, PROTOCOL_ERROR)


@pytest.mark.parametrize("fields,end_stream", [([(":path", "/t")], True), ([("x-trailer", "1")], False)],
                         ids=["pseudo-in-trailers", "trailers-without-end-stream"])
def test_8_1_bad_trailers_are_stream_protocol_error(peer, fields, end_stream):
    peer.send(peer.headers_frame(1, peer.request_fields("POST", "/index.html"), end_stream=False),
              frame(DATA, 0, 1, b"body"), peer.headers_frame(1, fields, end_stream=end_stream))
    peer.expect_rst(1, PROTOCOL_ERROR)


def test_8_1_trailers_end_the_request(peer):
    peer.request(1, peer.request_fields("POST", "/cgi/cat.py"), end_stream=False)
    peer.send(frame(DATA, 0, 1, b"body"), peer.headers_frame(1, [("x-trailer", "1")]))
    h, body = peer.response(1)
    assert h[":status"] == "200" and body == b"body"

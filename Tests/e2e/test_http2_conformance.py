"""HTTP/2 conformance, h2spec-style (h2spec itself is packaged neither for Debian nor PyPI), part 1:
frames, stream states, flow control. Raw frames over h2c prior knowledge (h2_raw.py), each case
named after the RFC 9113 section it checks; header fields and HPACK are in
test_http2_conformance_fields.py. One gateway per module; every case opens its own connection and
takes milliseconds.

Sections covered here:
  RFC 9113  3.4 preface, SETTINGS first · 4.1 frame format (unknown types/flags, reserved bit) ·
            4.2 frame size · 5.1 stream states (idle, half-closed (remote), closed) · 5.1.1 stream
            identifiers (even, decreasing) · 5.1.2 concurrency (REFUSED_STREAM) · 5.3.1
            self-dependency · 5.4.1/5.4.2 connection errors (GOAWAY, last stream id, close) and
            stream errors (RST_STREAM, the connection lives on) · 5.5 extensions · 6.1 DATA
            (padding) · 6.2 HEADERS (priority, padding) · 6.3 PRIORITY · 6.4 RST_STREAM ·
            6.5/6.5.2/6.5.3 SETTINGS · 6.7 PING · 6.8 GOAWAY · 6.9/6.9.1/6.9.2 flow control ·
            6.10 CONTINUATION · 7 unknown error codes
  RFC 8441  3 SETTINGS_ENABLE_CONNECT_PROTOCOL (advertised; a value of 2 refused)
  Config    server.h2-max-concurrent-streams advertised and enforced (issue 13 point 4)

Floods (rapid reset, CONTINUATION, PING/SETTINGS) and the flow-control accounting of request
bodies are in test_http2.py and the SwitchyardHTTP2Tests unit tests.
"""
import socket
import struct

import pytest

from h2_raw import peer, port  # noqa: F401  (pytest fixtures: one gateway per module)
from h2_raw import (ACK, CONTINUATION, DATA, END_HEADERS, END_STREAM, ENABLE_CONNECT_PROTOCOL, ENABLE_PUSH, GOAWAY,
                    HEADERS, INITIAL_WINDOW_SIZE, MAX_CONCURRENT_STREAMS, MAX_FRAME_SIZE, PADDED, PING, PREFACE,
                    PRIORITY, PRIORITY_FLAG, RST_STREAM, SETTINGS, WINDOW_UPDATE, FLOW_CONTROL_ERROR,
                    FRAME_SIZE_ERROR, PROTOCOL_ERROR, REFUSED_STREAM, STREAM_CLOSED, STREAM_LIMIT, Peer, frame,
                    held_peer, ping, priority, rst, settings, start_conformance_gateway, window_update)

pytestmark = pytest.mark.switchyard_only



# ---------------------------------------------------------------- 3.4, 4.1, 4.2

def test_3_4_first_frame_must_be_settings(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
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
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
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


def test_5_1_closed_by_rst_then_continuation_is_protocol_error(port):
    p = held_peer(port)
    p.request(1, end_stream=False)
    p.send(rst(1), frame(CONTINUATION, END_HEADERS, 1, b""))
    p.expect_goaway(PROTOCOL_ERROR)
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


@pytest.mark.parametrize("case", ["DATA", "HEADERS", "HEADERS-over-its-priority"])
def test_6_1_and_6_2_pad_length_too_big_is_protocol_error(peer, case):
    block = b"" if case == "DATA" else peer.block(peer.request_fields())   # (an unsent block would desync HPACK)
    if case == "DATA":
        peer.send(peer.headers_frame(1, peer.request_fields("POST", "/index.html"), end_stream=False),
                  frame(DATA, PADDED, 1, bytes([4]) + b"abc"))
    elif case == "HEADERS":
        peer.send(frame(HEADERS, PADDED | END_HEADERS | END_STREAM, 1, bytes([len(block) + 1]) + block))
    else:                                               # padding reaches into the 5 priority bytes
        peer.send(frame(HEADERS, PADDED | PRIORITY_FLAG | END_HEADERS | END_STREAM, 1,
                        bytes([len(block) + 2]) + struct.pack(">IB", 0, 16) + block))
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


def test_7_unknown_error_code_in_rst_stream_has_no_special_meaning(port):
    p = held_peer(port)
    p.request(1)
    p.wait(lambda: 1 in p.headers, what="response HEADERS")
    p.send(rst(1, 0xABCDEF))
    p.alive()
    p.request(3)                                       # the connection takes new streams
    p.wait(lambda: 3 in p.headers, what="HEADERS on stream 3")
    p.close()


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


def test_6_9_2_settings_can_make_a_stream_window_negative(port):
    """10 bytes sent on a 10-byte window, then INITIAL_WINDOW_SIZE 0 makes it -10: a WINDOW_UPDATE
    of 15 allows exactly 5 more bytes."""
    p = Peer(port, client_settings=((INITIAL_WINDOW_SIZE, 10),))
    p.request(1, p.request_fields(path="/hundred.bin"))
    p.wait(lambda: len(p.bodies.get(1, b"")) == 10, what="10 bytes")
    p.send(settings((INITIAL_WINDOW_SIZE, 0)), window_update(1, 15))
    p.wait(lambda: len(p.bodies[1]) >= 15, what="5 more bytes")
    p.alive()
    assert len(p.bodies[1]) == 15
    p.send(window_update(1, 100))
    assert p.response(1)[1] == bytes(range(100))
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
                                    "continuation-then-data", "headers-other-stream"])
def test_6_10_only_continuation_of_the_same_stream_may_follow(peer, second):
    block = peer.block(peer.request_fields())
    follow = {"data": frame(DATA, 0, 1, b"x"), "ping": ping(), "priority": priority(1, 0),
              "other-stream": frame(CONTINUATION, END_HEADERS, 3, block[5:]),
              "continuation-stream-0": frame(CONTINUATION, END_HEADERS, 0, block[5:]),
              "continuation-then-data": frame(CONTINUATION, 0, 1, block[5:8]) + frame(DATA, 0, 1, b"x"),
              "headers-other-stream": frame(HEADERS, END_HEADERS | END_STREAM, 3, block)}[second]
    peer.send(frame(HEADERS, END_STREAM, 1, block[:5]), follow)
    peer.expect_goaway(PROTOCOL_ERROR)


def test_4_3_and_6_10_server_splits_a_large_header_block_into_continuation(peer):
    """A CGI's 40 KB response field: HEADERS + CONTINUATION frames within our 16 KiB frame size,
    nothing else in between (h2_raw checks both), decoding to the whole field."""
    peer.request(1, peer.request_fields(path="/cgi/bighead.py"))
    h, body = peer.response(1)
    assert h["x-big"] == "h" * 40000 and body == b"small body"
    assert peer.header_frames[1] >= 2                  # (Huffman: 40 000 "h" are 30 000 bytes)


def test_6_10_continuation_after_end_headers_is_protocol_error(peer):
    peer.request(1)
    peer.send(frame(CONTINUATION, END_HEADERS, 1, b""))
    peer.expect_goaway(PROTOCOL_ERROR)

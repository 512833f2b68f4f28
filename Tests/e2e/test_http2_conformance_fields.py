"""HTTP/2 conformance, h2spec-style, part 2: header blocks and messages. Raw frames over h2c prior
knowledge (h2_raw.py), each case named after the RFC section it checks; frames and stream states
are in test_http2_conformance.py. One gateway per module.

Sections covered here:
  RFC 9113  4.3 header compression errors (COMPRESSION_ERROR) · 8.1 content-length, trailers ·
            8.2.1 field names and values (uppercase, invalid bytes) · 8.2.2 connection-specific
            fields, TE · 8.3/8.3.1 pseudo-header fields (missing, duplicate, unknown, after
            regular ones, Host differing from :authority) · 8.4 PUSH_PROMISE from a client · 8.5 CONNECT · 10.5.1 header list
            size (431, the connection lives on)
  RFC 8441  4 extended CONNECT (:protocol on another method, missing :path)
  RFC 7541  2.3/6.1 index 0 and out of range · 4.2/6.3 dynamic table size updates (above the
            setting, after a field, at the start; the server's own after SETTINGS_HEADER_TABLE_SIZE 0) · 5.1 integer overflow · 5.2 Huffman EOS and
            padding · 6.1–6.2.3 every representation against the dynamic table
"""
import hpack
import pytest

from h2_raw import peer, port  # noqa: F401  (pytest fixtures: one gateway per module)
from h2_raw import (CONTINUATION, DATA, END_HEADERS, END_STREAM, HEADERS, HEADER_TABLE_SIZE, INITIAL_WINDOW_SIZE,
                    MAX_HEADER_LIST_SIZE, PUSH_PROMISE, COMPRESSION_ERROR,
                    PROTOCOL_ERROR, Peer, frame, hpack_int, start_conformance_gateway)

pytestmark = pytest.mark.switchyard_only



# ---------------------------------------------------------------- 4.3, RFC 7541

@pytest.mark.parametrize("block", [b"\x80", b"\xc0", b"\x7f\x07\x01a", b"\x41\x8f", b"\x00\x03ab"],
                         ids=["index-0", "index-out-of-range", "name-index-out-of-range", "truncated-string",
                              "string-past-end"])
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


def test_rfc7541_4_2_server_signals_a_smaller_table_and_stays_within_it(port):
    """SETTINGS_HEADER_TABLE_SIZE 0 from the client: the server's next header block starts with a
    size update to 0 and never references its dynamic table (a decoder allowed 0 bytes reads all)."""
    p = Peer(port, client_settings=((HEADER_TABLE_SIZE, 0), (INITIAL_WINDOW_SIZE, 1 << 20)))
    try:
        p.dec.max_allowed_table_size = 0
        p.dec.header_table_size = 0
        for sid in (1, 3, 5):
            p.request(sid)
            assert p.response(sid)[1] == b"conformance\n"
        assert p.raw_blocks[1][0] == 0x20, p.raw_blocks[1][:4].hex()
    finally:
        p.close()


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


# ---------------------------------------------------------------- 8.1, 8.2, 8.3.1, 8.5, RFC 8441 §4

BASE = [(":method", "GET"), (":scheme", "http"), (":authority", "a.test"), (":path", "/index.html")]
MALFORMED = {
    "8.2.1-uppercase-name": BASE + [("X-Upper", "1")],
    "8.2.1-space-in-name": BASE + [("x y", "1")],
    "8.2.1-newline-in-value": BASE + [("x", "a\nb")],
    "8.2.1-leading-space-in-value": BASE + [("x", " a")],
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
    "8.3.1-absolute-form-path": BASE[:3] + [(":path", "http://a.test/index.html")],
    "8.3.1-asterisk-path-on-get": BASE[:3] + [(":path", "*")],
    "8.3.1-duplicate-method": BASE + [(":method", "HEAD")],
    "8.3.1-host-differs-from-authority": BASE + [("host", "b.test")],
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


def test_8_4_push_promise_from_a_client_is_protocol_error(peer):
    peer.send(frame(PUSH_PROMISE, END_HEADERS, 1, b"\x00\x00\x00\x02" + peer.block(BASE)))
    peer.expect_goaway(PROTOCOL_ERROR)


def test_8_2_2_te_trailers_and_8_3_1_host_equal_to_authority_are_accepted(peer):
    peer.request(1, BASE + [("te", "trailers"), ("host", "A.test:80")])
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

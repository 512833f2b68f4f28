#!/usr/bin/env python3
"""Writes the committed seed inputs under Fixtures/fuzz/<target>/seeds/ (run from anywhere).

Each target's input format is described at the top of Tests/Fuzz/<Target>/main.swift: most start with
an option byte and a read-split seed byte, then the bytes the codec sees. Seeds are small, valid
examples of each protocol; libFuzzer mutates from there. Re-running rewrites the same files.
"""
import os
import struct

ROOT = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(ROOT, target, "seeds")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def http_seeds():
    reqs = {
        "get": b"GET /index.html?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: fuzz\r\nAccept: */*\r\n\r\n",
        "post-cl": b"POST /cgi-bin/echo.pl HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
        "pipelined": b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nHEAD /b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        "chunked": b"POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nTrailer: v\r\n\r\n",
        "http10": b"GET / HTTP/1.0\n\n",
        "absolute": b"GET http://example.com:8080/p%20q?r HTTP/1.1\r\nHost: other\r\n\r\n",
        "connect": b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        "options": b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
        "upgrade": (b"GET /ws/echo.py HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
                    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"),
        "expect": b"PUT /f HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\nRange: bytes=0-1\r\n\r\nabc",
    }
    for i, (name, body) in enumerate(sorted(reqs.items())):
        write("http-request", name, bytes([0, (0, 1, 7)[i % 3]]) + body)
    write("http-request", "small-limits", bytes([0x0F, 3]) + reqs["post-cl"])

    chunks = {
        "simple": b"5\r\nhello\r\n0\r\n\r\n",
        "extensions": b"3;name=value;flag\r\nabc\r\nA \r\n0123456789\r\n0\r\n\r\n",
        "trailers": b"1\r\nx\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n",
        "pipelined": b"2\r\nhi\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n",
        "upper-hex": b"1F\r\n" + b"x" * 31 + b"\r\n0\r\n\r\n",
    }
    for i, (name, body) in enumerate(sorted(chunks.items())):
        write("chunked", name, bytes([(0, 4)[i % 2], (0, 1, 5)[i % 3]]) + body)


def cgi_seeds():
    outputs = {
        "html": (0, b"Content-Type: text/html\r\n\r\n<p>hello</p>"),
        "status": (0, b"Status: 404 Not Found\nContent-Type: text/plain\nContent-Length: 9\n\nnot found"),
        "local-redirect": (0, b"Location: /other/page?x\n\n"),
        "redirect": (0, b"Location: http://example.com/\r\nStatus: 301\r\n\r\n"),
        "upgrade": (0, b"Status: 101\nUpgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\n\n\x81\x02hi"),
        "nph": (1, b"HTTP/1.1 200 OK\r\nServer: nph\r\nContent-Type: text/plain\r\n\r\nbody"),
        "mixed-endings": (2, b"X-A: 1\r\nX-B:\t2 \n\r\n"),
    }
    for i, (name, (opt, body)) in enumerate(sorted(outputs.items())):
        write("cgi-response", name, bytes([opt, (0, 1, 9)[i % 3]]) + body)


def scgi_packet(pairs, body=b""):
    head = b"".join(k + b"\0" + v + b"\0" for k, v in pairs)
    return str(len(head)).encode() + b":" + head + b"," + body


def uwsgi_packet(pairs, modifier2=0, body=b""):
    head = b"".join(struct.pack("<H", len(k)) + k + struct.pack("<H", len(v)) + v for k, v in pairs)
    return bytes([0]) + struct.pack("<H", len(head)) + bytes([modifier2]) + head + body


def gateway_seeds():
    env = [(b"REQUEST_METHOD", b"POST"), (b"REQUEST_URI", b"/deepthought"), (b"QUERY_STRING", b""),
           (b"HTTP_HOST", b"example.com")]
    write("scgi", "request", bytes([0, 0]) + scgi_packet([(b"CONTENT_LENGTH", b"27"), (b"SCGI", b"1")] + env,
                                                         b"What is the answer to life?"))
    write("scgi", "minimal", bytes([0, 1]) + scgi_packet([(b"CONTENT_LENGTH", b"0")]))
    write("scgi", "small-limit", bytes([1, 4]) + scgi_packet([(b"CONTENT_LENGTH", b"0"), (b"SCGI", b"1")] + env[:1]))
    write("uwsgi", "request", bytes([0, 0]) + uwsgi_packet(env + [(b"CONTENT_LENGTH", b"2")], 0, b"hi"))
    write("uwsgi", "empty", bytes([0, 1]) + uwsgi_packet([]))
    write("uwsgi", "modifier2", bytes([1, 3]) + uwsgi_packet(env[:2], 7))


def fcgi_record(rtype, request_id, content, padding=None):
    if padding is None:
        padding = (8 - len(content) % 8) % 8
    return struct.pack(">BBHHBB", 1, rtype, request_id, len(content), padding, 0) + content + b"\0" * padding


def fcgi_encode(pairs):
    out = b""
    for k, v in pairs:
        for n in (len(k), len(v)):
            out += bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
        out += k + v
    return out


def fastcgi_seeds():
    env = [(b"REQUEST_METHOD", b"GET"), (b"SCRIPT_NAME", b"/app"), (b"QUERY_STRING", b"a=1"),
           (b"HTTP_COOKIE", b"x" * 200)]
    params = fcgi_encode(env)
    write("fastcgi-params", "request", params)
    write("fastcgi-params", "empty-value", fcgi_encode([(b"GATEWAY_INTERFACE", b"CGI/1.1"), (b"PATH_INFO", b"")]))
    write("fastcgi-params", "get-values", fcgi_encode([(b"FCGI_MAX_CONNS", b""), (b"FCGI_MPXS_CONNS", b"")]))
    write("fastcgi-params", "long-name", struct.pack(">I", 0x80000000 | 130) + bytes([1]) + b"N" * 130 + b"v")
    request = (fcgi_record(1, 1, struct.pack(">HB5x", 1, 1)) + fcgi_record(4, 1, params[:40]) + fcgi_record(4, 1, params[40:])
               + fcgi_record(4, 1, b"") + fcgi_record(5, 1, b"body") + fcgi_record(5, 1, b""))
    write("fastcgi-record", "request", request)
    response = (fcgi_record(6, 1, b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nhi") + fcgi_record(7, 1, b"warn")
                + fcgi_record(6, 1, b"") + fcgi_record(3, 1, struct.pack(">IB3x", 0, 0)))
    write("fastcgi-record", "response", response)
    write("fastcgi-record", "management", fcgi_record(9, 0, fcgi_encode([(b"FCGI_MAX_REQS", b"")]))
          + fcgi_record(10, 0, fcgi_encode([(b"FCGI_MAX_REQS", b"10")])) + fcgi_record(11, 0, bytes([42]) + b"\0" * 7)
          + fcgi_record(2, 1, b""))
    write("fastcgi-record", "odd-padding", fcgi_record(6, 3, b"abc", padding=255) + fcgi_record(200, 3, b"unknown type"))


def ws_frame(opcode, payload, fin=True, mask=None, rsv=0, long_form=None):
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    m = 0x80 if mask is not None else 0
    if long_form == 127 or n > 0xFFFF:
        head = bytes([b0, m | 127]) + struct.pack(">Q", n)
    elif long_form == 126 or n > 125:
        head = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, m | n])
    if mask is None:
        return head + payload
    return head + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload))


def websocket_seeds():
    key = bytes([0x37, 0xFA, 0x21, 0x3D])
    write("websocket-frame", "masked-text", bytes([0]) + ws_frame(1, b"Hello", mask=key))
    write("websocket-frame", "fragmented", bytes([0]) + ws_frame(1, b"Hel", fin=False, mask=key)
          + ws_frame(9, b"p", mask=key) + ws_frame(0, b"lo", mask=key) + ws_frame(8, b"\x03\xe8bye", mask=key))
    write("websocket-frame", "client-unmasked", bytes([1]) + ws_frame(2, bytes(range(200))) + ws_frame(10, b"")
          + ws_frame(8, b"\x03\xe8"))
    write("websocket-frame", "long-forms", bytes([2]) + ws_frame(2, b"x" * 10, mask=key, long_form=126)
          + ws_frame(1, "é".encode() * 3, long_form=127))
    # RFC 7692 7.2.3.1 "Hello" compressed, whole and split over a continuation, with permessage-deflate on.
    hello = b"\xf2\x48\xcd\xc9\xc9\x07\x00"
    write("websocket-frame", "deflate", bytes([0x04]) + ws_frame(1, hello, rsv=4, mask=key)
          + ws_frame(1, hello[:3], fin=False, rsv=4, mask=key) + ws_frame(0, hello[3:], mask=key))
    write("websocket-frame", "rsv1-limits", bytes([0x1C]) + ws_frame(1, b"compressed?", rsv=4, mask=key)
          + ws_frame(2, b"y" * 250, mask=key))
    write("websocket-frame", "lenient-close", bytes([0x42]) + ws_frame(8, b"1000", mask=key))


def h2_frame(ftype, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def http2_seeds():
    # Options byte (bit 0 small limits, bit 1 preface + SETTINGS prepended, bit 2 respond), split seed.
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + h2_frame(4, 0, 0, b"")
    get = bytes.fromhex("828684418cf1e3c2e5f23a6ba0ab90f4ff")          # RFC 7541 C.4.1
    connect = (bytes([0x02, 0x07]) + b"CONNECT" + bytes([0x00, 0x09]) + b":protocol" + bytes([0x09]) + b"websocket"
               + bytes([0x87, 0x04, 0x05]) + b"/chat" + bytes([0x01, 0x01]) + b"a")
    write("http2-session", "get", bytes([0x06, 0]) + h2_frame(1, 5, 1, get))
    write("http2-session", "post-split", bytes([0x06, 7]) + h2_frame(1, 4, 1, get) + h2_frame(0, 0, 1, b"hello")
          + h2_frame(0, 9, 1, bytes([3]) + b"end" + b"\0\0\0") + h2_frame(8, 0, 1, struct.pack(">I", 100)))
    write("http2-session", "continuation", bytes([0x03, 1]) + h2_frame(1, 0, 1, get[:5]) + h2_frame(9, 4, 1, get[5:]))
    write("http2-session", "websocket", bytes([0x06, 3]) + h2_frame(1, 4, 1, connect) + h2_frame(0, 0, 1, b"\x81\x05hello")
          + h2_frame(3, 0, 1, struct.pack(">I", 8)))
    write("http2-session", "control", bytes([0x00, 2]) + preface + h2_frame(4, 0, 0, struct.pack(">HI", 4, 1000))
          + h2_frame(6, 0, 0, b"12345678") + h2_frame(4, 1, 0, b"") + h2_frame(2, 0, 3, struct.pack(">IB", 1, 16))
          + h2_frame(7, 0, 0, struct.pack(">II", 0, 0)))


def config_seeds():
    write("config", "basic", b'''server.document-root = "/srv/www"
server.port = 8080
server.modules += ("mod_cgi", "mod_fastcgi")
var.base = "/srv"
index-file.names = ( "index.html", "index.php" )
mimetype.assign = ( ".html" => "text/html", ".txt" => "text/plain" )
''')
    write("config", "conditionals", b'''var.root = env.HOME + "/www"
server.document-root = var.root
$HTTP["url"] =~ "^/ws/" {
    cgi.assign = ( "" => "" )
    cgi.upgrade = "enable"
} else $HTTP["host"] == "example.com" {
    server.tag = "a" + 1
} elseif $HTTP["url"] =^ "/x" {
    $REQUEST_HEADER["User-Agent"] =$ "bot" { server.tag := "bot" }
} else {
    server.tag = "other"
}
$SERVER["socket"] == ":8443" { server.port = 8443 }
$HTTP["remoteip"] == "10.0.0.0/8" { dir-listing.activate = "enable" }
''')
    write("config", "includes", b'include "a.conf"\ninclude "conf.d/*.conf"\nserver.port = var.port\n\0'
          b'var.port = 80\nvar.list = ( "a" )\n\0'
          b'var.list += ( "b" )\n\0'
          b'fastcgi.server = ( ".php" => (( "socket" => "/tmp/php.sock", "bin-path" => "/usr/bin/php-cgi" )) )\n\0'
          b'scgi.server = ( "/app" => ( ( "host" => "127.0.0.1", "port" => 4000, "check-local" => "disable" ) ) )\n')
    write("config", "arrays", b'''var.a = ( "k1" => "v", "k2" => ( 1, 2, 3 ),
  "k3" => ( "nested" => ( "deep" => "x" ) )
)
var.b = var.a + ( "k4" => "y" )
var.s = "q\\"uote\\\\ \\n\\t\\r \\.php$"
server.errorlog = "/dev/null" # comment
''')

    # Regressions (ConfigLimitsTests): nesting past the limit, doubling values, include fan-out.
    write("config", "regress-deep-arrays", b"x = " + b"(" * 100)
    write("config", "regress-deep-blocks", b'$HTTP["url"] == "/" {\n' * 80)
    write("config", "regress-doubling", b'a = "0123456789abcdef"\n' + b"a += a\n" * 20 + b"b = (a, a)\n" * 8)
    names = ["a.conf", "b.conf", "conf.d/c.conf", "conf.d/d.conf"] + ["conf.d/f%d.conf" % i for i in range(5, 9)]
    files = ['include "a.conf"\ninclude "a.conf"\n']
    for i in range(len(names) - 1):
        rel = names[i + 1] if not names[i].startswith("conf.d/") else names[i + 1][len("conf.d/"):]
        files.append('include "%s"\ninclude "%s"\n' % (rel, rel))
    files.append("x = 1\n")
    write("config", "regress-include-fanout", "\0".join(files).encode())


def response_seeds():
    # fuzz-http-response: [options][split seed][response bytes from a proxied server].
    responses = {
        "length": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nSet-Cookie: a=1; Path=/; Domain=backend.test\r\n\r\nhello",
        "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: v\r\n\r\n",
        "interim": (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
                    b"HTTP/1.1 302 Found\r\nLocation: http://backend.test/login\r\nContent-Length: 0\r\n\r\n"),
        "upgrade": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x02hi",
        "until-close": b"HTTP/1.0 200 OK\r\nConnection: keep-alive, X-Private\r\nX-Private: 1\r\n\r\nbody until close",
        "no-body": b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
    }
    for i, (name, body) in enumerate(sorted(responses.items())):
        write("http-response", name, bytes([(0, 4, 1)[i % 3], (0, 1, 7)[i % 3]]) + body)


def websocket_server_seeds():
    # fuzz-websocket-server: [mode][rest]; mode % 4 picks extensions / inflate / base64 / handshake.
    write("websocket-server", "extensions", b"\x00permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate")
    write("websocket-server", "extensions-quoted", b"\x00permessage-deflate; client_max_window_bits=\"9\"; server_no_context_takeover")
    write("websocket-server", "inflate-hello", b"\x01\xf2\x48\xcd\xc9\xc9\x07\x00")
    write("websocket-server", "inflate-no-context", b"\x05\xf2\x48\xcd\xc9\xc9\x07\x00\x00\x00\xff\xff")
    write("websocket-server", "base64", b"\x06aGVsbG8gd29ybGQ=")
    write("websocket-server", "handshake", b"\x03Upgrade: websocket\nConnection: keep-alive, Upgrade\n"
          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n"
          b"Sec-WebSocket-Protocol: chat, base64\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")


http_seeds()
cgi_seeds()
gateway_seeds()
fastcgi_seeds()
websocket_seeds()
config_seeds()
response_seeds()
websocket_server_seeds()
http2_seeds()

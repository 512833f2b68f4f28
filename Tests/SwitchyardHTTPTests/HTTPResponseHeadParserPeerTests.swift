import Testing
import SwitchyardHTTP

/// The response parser against a real HTTP/1.1 server: Python's `http.server` on a loopback port
/// (bound to port 0), driven over raw sockets by the same script; each response's bytes, exactly as
/// they came off the socket, are parsed here.
@Suite struct HTTPResponseHeadParserPeerTests {
    static let script = """
    import socket, sys, threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *args): pass
        def reply(self, status, body=b"", chunked=False, extra=()):
            self.send_response(status)
            for k, v in extra: self.send_header(k, v)
            if chunked: self.send_header("Transfer-Encoding", "chunked")
            elif status not in (101, 204, 304): self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if chunked:
                for piece in (body[:3], body[3:]):
                    self.wfile.write(b"%x\\r\\n%s\\r\\n" % (len(piece), piece))
                self.wfile.write(b"0\\r\\n\\r\\n")
            elif self.command != "HEAD" and status != 101:
                self.wfile.write(body)
        def do_HEAD(self): self.reply(200, b"hello")
        def do_GET(self):
            if self.path == "/chunked": self.reply(200, b"chunked body", chunked=True)
            elif self.path == "/204": self.reply(204)
            elif self.path == "/upgrade":
                self.reply(101, extra=(("Upgrade", "websocket"), ("Connection", "Upgrade")))
                self.wfile.write(b"\\x81\\x02hi")
            else: self.reply(200, b"hello")
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            self.reply(201, body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    requests = [
        b"GET /len HTTP/1.1\\r\\nHost: t\\r\\nConnection: close\\r\\n\\r\\n",
        b"HEAD /len HTTP/1.1\\r\\nHost: t\\r\\nConnection: close\\r\\n\\r\\n",
        b"GET /chunked HTTP/1.1\\r\\nHost: t\\r\\nConnection: close\\r\\n\\r\\n",
        b"GET /204 HTTP/1.1\\r\\nHost: t\\r\\nConnection: close\\r\\n\\r\\n",
        b"POST /p HTTP/1.1\\r\\nHost: t\\r\\nExpect: 100-continue\\r\\nContent-Length: 4\\r\\nConnection: close\\r\\n\\r\\nbody",
        b"GET /upgrade HTTP/1.1\\r\\nHost: t\\r\\nConnection: close\\r\\n\\r\\n",
    ]
    out = b""
    for request in requests:
        s = socket.create_connection(server.server_address)
        s.sendall(request)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk: break
            data += chunk
        s.close()
        out += len(data).to_bytes(4, "big") + data
    server.shutdown()
    sys.stdout.buffer.write(out)
    """

    @Test func parsesWhatPythonHTTPServerSends() throws {
        let output = try PythonPeer.run(Self.script)
        var responses: [[UInt8]] = []
        var offset = 0
        while offset + 4 <= output.count {
            let n = output[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            responses.append(Array(output[(offset + 4)..<(offset + 4 + n)]))
            offset += 4 + n
        }
        try #require(responses.count == 6)

        let get = runResponse([responses[0]], eof: true)
        #expect(get.heads.first?.framing == .length(5) && get.body == bytes("hello") && get.ends.count == 1 && get.error == nil)
        #expect(get.heads.first?.headers["Server"]?.hasPrefix("BaseHTTP") == true)

        let head = runResponse([responses[1]], head: true, eof: true)
        #expect(head.heads.first?.framing == ResponseBodyFraming.none && head.body.isEmpty && head.error == nil)

        let chunked = runResponse(responses[2].map { [$0] }, eof: true)
        #expect(chunked.heads.first?.framing == .chunked && chunked.body == bytes("chunked body") && chunked.error == nil)

        let noContent = runResponse([responses[3]], eof: true)
        #expect(noContent.heads.first?.status == 204 && noContent.body.isEmpty && noContent.error == nil)

        let continued = runResponse([responses[4]], eof: true)
        #expect(continued.interims == [100] && continued.heads.first?.status == 201 && continued.body == bytes("body"))

        let upgrade = runResponse([responses[5]], eof: true)
        #expect(upgrade.switched?.status == 101 && upgrade.rest == [0x81, 0x02, 0x68, 0x69])
    }
}

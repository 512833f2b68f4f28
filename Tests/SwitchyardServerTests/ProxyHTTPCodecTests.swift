import Testing
@testable import SwitchyardGatewayCodecs
@testable import SwitchyardServer

/// What a proxy stream keeps once its response head went to the exchange.
@Suite struct ProxyHTTPCodecTests {
    func codec(upgrade: Bool) -> ProxyHTTPCodec {
        ProxyHTTPCodec(head: ProxyRequestHead(bytes: [], isUpgrade: upgrade, backendHost: "b", chunkedBody: false), requestIsHead: false)
    }

    /// The head is found by the very bytes the exchange is fed during the decode, and nothing of
    /// it (not even the arrays' storage, for a WebSocket held for hours) is kept afterwards.
    @Test func framedHeadIsFoundDuringTheDecodeAndForgottenAfter() throws {
        let c = codec(upgrade: true)
        let wire = Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nraw".utf8)
        var found: [Int] = []
        var stdout: [[UInt8]] = []
        _ = try wire.withUnsafeBytes { raw in
            try c.decode(raw) { event in
                guard case .stdout(let bytes) = event else { return }
                stdout.append(Array(bytes))
                if let head = c.framedHead(for: bytes) { found.append(head.status) }
                // The same bytes copied elsewhere are not the framed head.
                let copy = Array(bytes)
                copy.withUnsafeBytes { #expect(c.framedHead(for: $0) == nil) }
            }
        }
        #expect(found == [101])
        #expect(stdout.last == Array("raw".utf8))
        #expect(c.framer.switched && c.framer.framedHeads.isEmpty && c.framer.framedHeads.capacity == 0)
        wire.withUnsafeBytes { raw in
            #expect(c.framedHead(for: UnsafeRawBufferPointer(rebasing: raw[0..<(wire.count - 3)])) == nil)
        }
    }
}

/// `passesResponseThrough` lets a backend stream hand its input to the exchange without the
/// decode's event closure: it must hold exactly when `decode` would hand every byte on, as it
/// came, as one `.stdout`.
@Suite struct ResponsePassThroughTests {
    /// The events `decode` gives for `bytes`, and how many bytes it used.
    func decoded(_ codec: BackendCodec, _ bytes: [UInt8]) throws -> (stdout: [[UInt8]], other: Int, used: Int) {
        var stdout: [[UInt8]] = [], other = 0
        let used = try bytes.withUnsafeBytes { raw in
            try codec.decode(raw) { event in
                if case .stdout(let b) = event { stdout.append(Array(b)) } else { other += 1 }
            }
        }
        return (stdout, other, used)
    }

    @Test func transparentCodecsPassEveryByteAsOneStdout() throws {
        let bytes: [UInt8] = Array("Status: 101\r\n\r\n\u{0}\u{1}binary".utf8) + [0xff, 0x00, 0x0d, 0x0a]
        let codecs: [BackendCodec] = [CGIPipeCodec(), HeaderThenRawCodec(.scgi, finPropagate: false),
                                      HeaderThenRawCodec(.uwsgi, finPropagate: true), RawTunnelCodec()]
        for codec in codecs {
            #expect(codec.passesResponseThrough, "\(codec.name)")
            let d = try decoded(codec, bytes)
            #expect(d.stdout == [bytes] && d.other == 0 && d.used == bytes.count, "\(codec.name)")
        }
    }

    @Test func framingCodecsDoNot() throws {
        #expect(!FastCGICodec(requestId: 1).passesResponseThrough)
        // A proxy's response is framed (head, then Content-Length or chunks) until a 101.
        let proxy = ProxyHTTPCodec(head: ProxyRequestHead(bytes: [], isUpgrade: true, backendHost: "b", chunkedBody: false),
                                   requestIsHead: false)
        #expect(!proxy.passesResponseThrough)
        let head = Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n".utf8)
        _ = try decoded(proxy, head)
        #expect(proxy.passesResponseThrough)
        let after: [UInt8] = [0x82, 0x03, 0x61, 0x62, 0x63, 0x0d, 0x0a, 0x0d, 0x0a]
        let d = try decoded(proxy, after)
        #expect(d.stdout == [after] && d.other == 0 && d.used == after.count)
    }
}

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

import Foundation
import Testing
import SwitchyardWebSocket

/// The seed ws_echo.py, byte-for-byte unchanged, behind the seed cgi.conf plus only bind, port and
/// document-root lines, driven by the project's own client in lenient mode (the seed masks its
/// replies with the client's key, which RFC 6455 forbids).
@Suite("seed ws_echo.py through mod_cgi", .serialized,
       .enabled(if: Repo.seedsOrCI, "seed fixtures (../shared/seeds) missing: skipped outside CI, a failure with CI=true"))
struct SeedWSEchoTests {
    static func start(relay: String) throws -> ServerProcess? {
        guard let seeds = Repo.requireSeeds() else { return nil }
        // Only bind/port/document-root lines are added (plus the relay mode in the second variant).
        var config = """
        server.document-root = "@DIR@/www"
        server.bind = "127.0.0.1"
        server.port = 0
        include "\(seeds.path)/lighttpd/cgi.conf"

        """
        if relay == "copy" { config += "server.upgrade-relay = \"copy\"\n" }
        let server = try ServerProcess(config: config, files: ["www/index.html": "x"])
        try FileManager.default.createDirectory(at: server.dir.appendingPathComponent("www/ws"), withIntermediateDirectories: true)
        // A copy, not a symlink: a CGI script must really live under the document root (README:
        // CGI scripts and symlinks), and the seed config is included unchanged.
        try FileManager.default.copyItem(atPath: seeds.appendingPathComponent("ws_echo.py").path,
                                         toPath: server.dir.appendingPathComponent("www/ws/ws_echo.py").path)
        return server
    }

    static func lenientClient(_ server: ServerProcess) throws -> WebSocketClient {
        var options = WebSocketClient.Options()
        options.lenient = true
        options.origin = "http://127.0.0.1"
        return try WebSocketClient(url: "ws://127.0.0.1:\(server.port)/ws/ws_echo.py", options: options)
    }

    /// 7-bit payloads only: the seed turns every byte >= 0x80 into two bytes.
    static func payload(_ n: Int, seed: Int) -> [UInt8] {
        (0..<n).map { UInt8(($0 * 7 + seed) % 128) }
    }

    @Test("echoes 7-bit frames 0..4 KiB exactly as the script wrote them", arguments: ["splice", "copy"])
    func echoes(relay: String) throws {
        guard let server = try Self.start(relay: relay) else { return }
        defer { server.stop() }
        let client = try Self.lenientClient(server)
        #expect(client.handshake.status == 101)
        #expect(client.handshake.header("Sec-WebSocket-Accept") == WebSocketHandshake.acceptValue(forKey: client.request.key))
        #expect(client.handshake.header("Upgrade") == "WebSocket")
        for (i, size) in [0, 1, 2, 64, 125, 126, 127, 1000, 4095, 4096].enumerated() {
            let key: UInt32 = 0x3712_0000 &+ UInt32(i * 977)
            let data = Self.payload(size, seed: i)
            var frame: [UInt8] = []
            let opcode: WebSocketOpcode = i % 2 == 0 ? .text : .binary
            WebSocketFrameEncoder.encode(opcode: opcode, payload: data, maskKey: key, into: &frame)
            try client.sendRaw(frame)
            let echo = try client.receiveFrame()
            // What ws_echo.py writes: same FIN/opcode, masked with our key, same payload.
            #expect(echo.fin)
            #expect(echo.opcode == opcode)
            #expect(echo.maskKey == key, "size \(size): the seed re-uses the client's masking key")
            #expect(echo.payload == data, "size \(size): payload differs")
        }
        client.closeSocket()
    }

    @Test("answers PING with PONG and CLOSE with its ASCII \"1000\" close", arguments: ["splice", "copy"])
    func pingAndClose(relay: String) throws {
        guard let server = try Self.start(relay: relay) else { return }
        defer { server.stop() }
        let client = try Self.lenientClient(server)
        var frame: [UInt8] = []
        WebSocketFrameEncoder.encode(opcode: .ping, payload: Array("are you there".utf8), maskKey: 0x0102_0304, into: &frame)
        try client.sendRaw(frame)
        let pong = try client.receiveFrame()
        #expect(pong.opcode == .pong)
        #expect(pong.payload == Array("are you there".utf8))
        #expect(pong.maskKey == 0x0102_0304)

        frame.removeAll()
        WebSocketFrameEncoder.encode(opcode: .close, payload: WebSocketFrameEncoder.closePayload(code: 1000, reason: ""),
                                     maskKey: 0x0a0b_0c0d, into: &frame)
        try client.sendRaw(frame)
        let close = try client.receiveFrame()
        #expect(close.opcode == .close)
        #expect(close.maskKey == nil)
        #expect(close.payload == Array("1000".utf8))
        // The script exits after its CLOSE: the gateway closes the client connection.
        #expect(throws: WebSocketClient.ClientError.self) { _ = try client.receiveFrame() }
    }

    @Test("many frames in a burst keep their order")
    func burst() throws {
        guard let server = try Self.start(relay: "splice") else { return }
        defer { server.stop() }
        let client = try Self.lenientClient(server)
        // The seed reads one frame field per read(): each frame must arrive whole, so frames go one by one.
        for i in 0..<200 {
            let data = Array("message \(i)".utf8)
            var frame: [UInt8] = []
            WebSocketFrameEncoder.encode(opcode: .text, payload: data, maskKey: UInt32(i + 1), into: &frame)
            try client.sendRaw(frame)
            let echo = try client.receiveFrame()
            #expect(echo.payload == data)
        }
        client.closeSocket()
    }
}

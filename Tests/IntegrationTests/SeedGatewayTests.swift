import Foundation
import Testing
import SwitchyardWebSocket

/// The seed ws_echo.py, unchanged, behind the bridges spawned by the seed scgi.conf / fastcgi.conf
/// (only the socket path, the bin-path, and bind/port/document-root changed), driven by the
/// project's client in lenient mode. Also the RFC echo's integrity over both protocols.
@Suite("seed configs: ws_echo.py over SCGI and FastCGI", .serialized,
       .enabled(if: Repo.seedsOrCI, "seed fixtures (../shared/seeds) missing: skipped outside CI, a failure with CI=true"))
struct SeedGatewayTests {
    /// The seed file's text with only its paths replaced.
    static func seedConfig(_ name: String, socket: String, bridge: String, dir: URL) throws -> String? {
        guard let seeds = Repo.requireSeeds() else { return nil }
        var text = try String(contentsOf: seeds.appendingPathComponent("lighttpd/\(name)"), encoding: .utf8)
        let oldSocket = name == "scgi.conf" ? "/tmp/scgi-ws.sock" : "/tmp/fcgi-ws.sock"
        let oldBin = name == "scgi.conf" ? "/usr/local/bin/scgi-cgi" : "/usr/local/bin/fcgi-cgi"
        #expect(text.contains(oldSocket) && text.contains(oldBin), "seed \(name) changed shape")
        text = text.replacingOccurrences(of: oldSocket, with: socket)
        text = text.replacingOccurrences(of: oldBin, with: bridge)
        return text
    }

    static func start(_ name: String, extraSetup: (URL) throws -> Void = { _ in }) throws -> ServerProcess? {
        let bridgeName = name == "scgi.conf" ? "scgi-cgi" : "fcgi-cgi"
        let bridge = Repo.binary(bridgeName)
        guard Repo.requireFile(bridge), let seeds = Repo.requireSeeds() else { return nil }
        let id = UUID().uuidString.prefix(8)
        let socket = "/tmp/sy-seed-\(bridgeName)-\(id).sock"
        let placeholderDir = URL(fileURLWithPath: "/tmp")
        guard let seedText = try seedConfig(name, socket: socket, bridge: bridge, dir: placeholderDir) else { return nil }
        let config = """
        server.document-root = "@DIR@/www"
        server.bind = "127.0.0.1"
        server.port = 0
        \(seedText)
        """
        // The document root must exist with the script before the server (and its bridge) start.
        let server = try ServerProcess(config: config, files: ["www/index.html": "x"], prepare: { dir in
            let ws = dir.appendingPathComponent("www/ws")
            try FileManager.default.createDirectory(at: ws, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: ws.appendingPathComponent("ws_echo.py").path,
                                                       withDestinationPath: seeds.appendingPathComponent("ws_echo.py").path)
            let fast = Repo.root.appendingPathComponent("cgi-bin/ws-echo-fast").path
            try FileManager.default.createSymbolicLink(atPath: ws.appendingPathComponent("echo").path, withDestinationPath: fast)
            try extraSetup(dir)
        })
        return server
    }

    @Test("seed ws_echo.py echoes through the bridge", arguments: ["scgi.conf", "fastcgi.conf"])
    func seedEcho(config: String) throws {
        guard let server = try Self.start(config) else { return }
        defer { server.stop() }
        var options = WebSocketClient.Options()
        options.lenient = true
        options.origin = "http://127.0.0.1"
        let client = try WebSocketClient(url: "ws://127.0.0.1:\(server.port)/ws/ws_echo.py", options: options)
        #expect(client.handshake.status == 101)
        for (i, size) in [0, 1, 125, 126, 1000, 4096].enumerated() {
            let key: UInt32 = 0x5151_0000 &+ UInt32(i)
            let data = SeedWSEchoTests.payload(size, seed: i)
            var frame: [UInt8] = []
            WebSocketFrameEncoder.encode(opcode: .text, payload: data, maskKey: key, into: &frame)
            try client.sendRaw(frame)
            let echo = try client.receiveFrame()
            #expect(echo.opcode == .text)
            #expect(echo.maskKey == key)
            #expect(echo.payload == data, "\(config) size \(size)")
        }
        var ping: [UInt8] = []
        WebSocketFrameEncoder.encode(opcode: .ping, payload: Array("p".utf8), maskKey: 7, into: &ping)
        try client.sendRaw(ping)
        #expect(try client.receiveFrame().opcode == .pong)
        var close: [UInt8] = []
        WebSocketFrameEncoder.encode(opcode: .close, payload: [0x03, 0xe8], maskKey: 9, into: &close)
        try client.sendRaw(close)
        let reply = try client.receiveFrame()
        #expect(reply.opcode == .close && reply.payload == Array("1000".utf8))
    }

    @Test("16 MiB frames and a 10 000-frame burst through the bridge", arguments: ["scgi.conf", "fastcgi.conf"])
    func integrity(config: String) throws {
        guard let server = try Self.start(config) else { return }
        defer { server.stop() }
        var options = WebSocketClient.Options()
        options.timeoutSeconds = 60
        let client = try WebSocketClient(url: "ws://127.0.0.1:\(server.port)/ws/echo", options: options)
        for (i, size) in [70_000, 16 << 20].enumerated() {
            let data = EchoIntegrityTests.pattern(size, seed: UInt8(i + 3))
            try client.send(.binary, data)
            let message = try client.receiveMessage()
            #expect(message == .binary(data), "\(config): \(size) bytes")
        }
        var burst: [UInt8] = []
        for i in 0..<10_000 {
            WebSocketFrameEncoder.encode(opcode: .text, payload: Array("b\(i)".utf8), maskKey: UInt32(i + 1), into: &burst)
        }
        try client.sendRaw(burst)
        for i in 0..<10_000 {
            let m = try client.receiveMessage()
            if m != .text(Array("b\(i)".utf8)) { Issue.record("\(config): frame \(i) is \(m)"); break }
        }
        _ = try client.close()
    }
}

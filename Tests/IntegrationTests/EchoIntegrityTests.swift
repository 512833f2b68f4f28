import Foundation
import Testing
import SwitchyardWebSocket

/// Data integrity through the gateway with the project's RFC-correct echo CGIs: large frames,
/// bursts, and a client that stops reading while the CGI floods.
@Suite("WebSocket data integrity through mod_cgi", .serialized)
struct EchoIntegrityTests {
    static func start(relay: String) throws -> ServerProcess? {
        let fast = Repo.root.appendingPathComponent("cgi-bin/ws-echo-fast").path
        let flood = Repo.root.appendingPathComponent("Fixtures/cgi-test/ws_flood.py").path
        guard Repo.requireFile(fast), Repo.requireFile(flood) else { return nil }
        let server = try ServerProcess(config: """
        server.document-root = "@DIR@/www"
        server.bind = "127.0.0.1"
        server.port = 0
        server.modules += ("mod_cgi")
        server.upgrade-relay = "\(relay)"
        cgi.script-directories = ("\(Repo.root.path)/cgi-bin", "\(Repo.root.path)/Fixtures/cgi-test")
        $HTTP["url"] =^ "/ws/" {
            cgi.assign = ("" => "")
            cgi.upgrade = "enable"
        }
        """, files: ["www/index.html": "x"])
        let ws = server.dir.appendingPathComponent("www/ws")
        try FileManager.default.createDirectory(at: ws, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: ws.appendingPathComponent("echo").path, withDestinationPath: fast)
        try FileManager.default.createSymbolicLink(atPath: ws.appendingPathComponent("flood.py").path, withDestinationPath: flood)
        return server
    }

    static func pattern(_ n: Int, seed: UInt8) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: n)
        var x = UInt32(seed) &* 2654435761 | 1
        for i in 0..<n { x ^= x << 13; x ^= x >> 17; x ^= x << 5; out[i] = UInt8(truncatingIfNeeded: x) }
        return out
    }

    @Test("frames up to 16 MiB come back intact", arguments: ["splice", "copy"])
    func largeFrames(relay: String) throws {
        guard let server = try Self.start(relay: relay) else { return }
        defer { server.stop() }
        var options = WebSocketClient.Options()
        options.timeoutSeconds = 60
        let client = try WebSocketClient(url: "ws://127.0.0.1:\(server.port)/ws/echo", options: options)
        for (i, size) in [65_535, 65_536, 1 << 20, 16 << 20].enumerated() {
            let data = Self.pattern(size, seed: UInt8(i + 1))
            try client.send(.binary, data)
            let message = try client.receiveMessage()
            guard case .binary(let echoed) = message else { Issue.record("expected binary, got \(message)"); return }
            #expect(echoed.count == data.count)
            #expect(echoed == data, "size \(size) differs")
        }
        _ = try client.close()
    }

    @Test("10 000 small frames sent in one burst come back complete and in order", arguments: ["splice", "copy"])
    func burst(relay: String) throws {
        guard let server = try Self.start(relay: relay) else { return }
        defer { server.stop() }
        let client = try WebSocketClient(url: "ws://127.0.0.1:\(server.port)/ws/echo")
        var burst: [UInt8] = []
        for i in 0..<10_000 {
            WebSocketFrameEncoder.encode(opcode: .text, payload: Array("frame \(i) of the burst".utf8),
                                         maskKey: UInt32(truncatingIfNeeded: i &* 2654435761) | 1, into: &burst)
        }
        try client.sendRaw(burst)
        for i in 0..<10_000 {
            let message = try client.receiveMessage()
            #expect(message == .text(Array("frame \(i) of the burst".utf8)), "frame \(i)")
            if message != .text(Array("frame \(i) of the burst".utf8)) { break }
        }
        _ = try client.close()
    }

    @Test("a client that stops reading while the CGI floods: bounded memory, nothing lost", arguments: ["splice", "copy"])
    func slowReader(relay: String) throws {
        guard let server = try Self.start(relay: relay) else { return }
        defer { server.stop() }
        let before = server.rssKiB
        var options = WebSocketClient.Options()
        options.timeoutSeconds = 60
        let frames = 256, size = 256 * 1024   // 64 MiB in all
        let client = try WebSocketClient(url: "ws://127.0.0.1:\(server.port)/ws/flood.py?frames=\(frames)&size=\(size)", options: options)
        // Not reading: the gateway must stop reading the CGI, not buffer 64 MiB. Measured once the
        // flood has moved a known amount and is blocked, not after a fixed sleep.
        guard let written = server.waitForStalledWriter("flood.py", atLeast: 1 << 20) else { return }
        #expect(written < frames * size, "flood.py wrote all \(written) bytes to a client that did not read")
        let during = server.rssKiB
        #expect(during - before < 32 * 1024,
                "gateway RSS grew from \(before) KiB to \(during) KiB while the client did not read (flood.py wrote \(written) bytes)")
        for i in 0..<frames {
            let message = try client.receiveMessage()
            guard case .binary(let data) = message else { Issue.record("frame \(i): \(message)"); return }
            #expect(data.count == size)
            let expected = UInt8(i % 251)
            if let bad = data.firstIndex(where: { $0 != expected }) {
                Issue.record("frame \(i): byte \(bad) is \(data[bad]), expected \(expected)")
                return
            }
        }
        let last = try client.receiveMessage()
        #expect(last == .close(code: 1000, reason: []))
    }
}

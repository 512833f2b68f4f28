import Foundation
import Testing
@testable import SwitchyardHTTP2

/// The session against a real HTTP/2 client: Python's `h2` (installed by `make deps`), driven by
/// Fixtures/h2/h2_client_peer.py over a pipe. h2 encodes its requests with its own HPACK (Huffman,
/// dynamic table) and checks every frame, header block and window the session sends; missing
/// python3 or h2 fails the test (it cannot pass without its peer).
struct HTTP2PythonPeerTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/h2/h2_client_peer.py").path
    static let bigBody: [UInt8] = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }

    /// The peer's side of the pipe: messages are a kind byte and a 4-byte length.
    final class Peer {
        let process = Process()
        let toPeer = Pipe(), fromPeer = Pipe(), errors = Pipe()

        init() throws {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", HTTP2PythonPeerTests.script]
            process.standardInput = toPeer
            process.standardOutput = fromPeer
            process.standardError = errors
            try process.run()
        }

        func send(_ bytes: [UInt8]) {
            let length = UInt32(bytes.count)
            toPeer.fileHandleForWriting.write(Data([UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff),
                                                    UInt8(length & 0xff)] + bytes))
        }

        func receive() throws -> (kind: UInt8, bytes: [UInt8]) {
            let header = try read(5)
            let length = Int(header[1]) << 24 | Int(header[2]) << 16 | Int(header[3]) << 8 | Int(header[4])
            return (header[0], try read(length))
        }

        private func read(_ count: Int) throws -> [UInt8] {
            var out: [UInt8] = []
            while out.count < count {
                let chunk = try fromPeer.fileHandleForReading.read(upToCount: count - out.count) ?? Data()
                guard !chunk.isEmpty else {
                    let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                    throw PeerFailure(description: "h2_client_peer ended early: \(stderr)")
                }
                out += chunk
            }
            return out
        }

        func finish() {
            try? toPeer.fileHandleForWriting.close()
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
        }
    }

    struct PeerFailure: Error, CustomStringConvertible { var description: String }

    /// A minimal server on the session: /big, /echo and an echoing WebSocket tunnel, each body
    /// sent as the windows allow and resumed on `.windowOpened`.
    struct Server {
        var session = HTTP2ServerSession()
        var pending: [UInt32: (bytes: [UInt8], end: Bool)] = [:]
        var echo: [UInt32: [UInt8]] = [:]

        mutating func handle(_ events: [HTTP2Event], _ payloads: [UInt8]) throws {
            for event in events {
                switch event {
                case .request(let id, let head, let endStream):
                    if head.path == "/big" {
                        try respond(id, body: HTTP2PythonPeerTests.bigBody, end: true)
                    } else if head.isExtendedConnect {
                        #expect(head.connectProtocol == "websocket" && !endStream)
                        try respond(id, body: [], end: false)
                    } else {
                        echo[id] = []
                    }
                case .data(let id, let range, let endStream):
                    let bytes = Array(payloads[range])
                    session.consumed(streamID: id, count: bytes.count)
                    if echo[id] != nil {
                        echo[id]! += bytes
                        if endStream { try respond(id, body: echo.removeValue(forKey: id)!, end: true) }
                    } else {
                        queue(id, bytes, end: endStream)   // the tunnel: echo, half-close on half-close
                    }
                case .streamReset, .connectionError:
                    Issue.record("unexpected \(event)")
                default:
                    break
                }
            }
            try flush()
        }

        mutating func respond(_ id: UInt32, body: [UInt8], end: Bool) throws {
            let fields = HTTP2ResponseFields.make(status: 200, headers: [("Content-Type", "application/octet-stream")])
            try session.sendHeaders(streamID: id, fields: fields, endStream: false)
            queue(id, body, end: end)
        }

        mutating func queue(_ id: UInt32, _ bytes: [UInt8], end: Bool) {
            let old = pending[id] ?? ([], false)
            pending[id] = (old.bytes + bytes, old.end || end)
        }

        mutating func flush() throws {
            for (id, item) in pending {
                guard !item.bytes.isEmpty || item.end else { continue }
                let sent = try session.sendData(streamID: id, item.bytes, endStream: item.end)
                pending[id] = sent == item.bytes.count && item.end ? nil : (Array(item.bytes[sent...]), item.end)
            }
        }
    }

    @Test func realClientGetPostAndExtendedConnect() throws {
        let peer = try Peer()
        defer { peer.finish() }
        var server = Server()
        peer.send(server.session.takeOutput())
        var summary: [String: Any] = [:]
        for _ in 0..<1000 {
            let message = try peer.receive()
            if message.kind == 1 {
                summary = try JSONSerialization.jsonObject(with: Data(message.bytes)) as? [String: Any] ?? [:]
                break
            }
            var payloads: [UInt8] = []
            let events = server.session.receive(message.bytes, payloads: &payloads)
            try server.handle(events, payloads)
            peer.send(server.session.takeOutput())
        }
        #expect(summary["enable_connect_protocol"] as? Int == 1)
        #expect(summary["status"] as? [String: String] == ["1": "200", "3": "200", "5": "200"])
        #expect(summary["terminated"] is NSNull && (summary["resets"] as? [Any])?.isEmpty == true, "\(summary)")
        #expect(summary["get_length"] as? Int == Self.bigBody.count && summary["get_body_ok"] as? Bool == true)
        #expect(summary["post_echo_ok"] as? Bool == true)
        #expect(summary["ws_echo"] as? String == "hello over RFC 8441")
        #expect(summary["ended"] as? [Int] == [1, 3, 5])
        #expect(server.session.activeStreamCount == 0, "every stream closed on both sides")
        #expect((summary["rounds"] as? Int ?? 0) > 3, "the bodies needed WINDOW_UPDATE round trips")
    }
}

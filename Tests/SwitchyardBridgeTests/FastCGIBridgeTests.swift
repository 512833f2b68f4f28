import Testing
import Foundation
import SwitchyardGatewayCodecs

/// End to end: the built `fcgi-cgi` on a unix socket, driven by a hand-written FastCGI client.
@Suite struct FastCGIBridgeTests {
    func withBridge(_ arguments: [String] = [], _ body: (BridgeProcess, String) throws -> Void) throws {
        let bridge = try BridgeProcess("fcgi-cgi", arguments: arguments)
        defer { bridge.stop() }
        let script = try bridge.script("echo.sh", Scripts.echo)
        try body(bridge, script)
        #expect(bridge.isRunning)
    }

    @Test func plainGet() throws {
        try withBridge { bridge, script in
            let c = try FastCGITestClient(path: bridge.socketPath)
            c.begin(1)
            c.params(1, [("SCRIPT_FILENAME", script), ("REQUEST_METHOD", "GET"), ("X_TEST", "hello"), ("CONTENT_LENGTH", "0")])
            c.endStdin(1)
            let r = c.responses([1])[1]
            #expect(r?.stdout.contains("Content-Type: text/plain") == true)
            #expect(r?.stdout.contains("method=GET\nx=hello\n") == true)
            #expect(r?.stdoutEnded == true)
            #expect(r?.end == FastCGIEndRequest(appStatus: 0))
            #expect(c.socket.receive() == .eof)  // no KEEP_CONN: closed after END_REQUEST
        }
    }

    @Test func postBodyEchoed() throws {
        try withBridge { bridge, script in
            let c = try FastCGITestClient(path: bridge.socketPath)
            let body = String(repeating: "0123456789", count: 20000)  // 200 kB, several records
            c.begin(7)
            c.params(7, [("SCRIPT_FILENAME", script), ("REQUEST_METHOD", "POST"), ("CONTENT_LENGTH", String(body.utf8.count))])
            var chunk = body[...]
            while !chunk.isEmpty {
                c.stdin(7, String(chunk.prefix(30000)))
                chunk = chunk.dropFirst(30000)
            }
            c.endStdin(7)
            let r = c.responses([7])[7]
            #expect(r?.stdout.text.hasSuffix("method=POST\nx=\n" + body) == true)
            #expect(r?.end?.appStatus == 0)
        }
    }

    @Test func exitStatusReported() throws {
        try withBridge { bridge, _ in
            let script = try bridge.script("fail.sh", Scripts.fail)
            let c = try FastCGITestClient(path: bridge.socketPath)
            c.begin(2)
            c.params(2, [("SCRIPT_FILENAME", script)])
            c.stdin(2, "ignored")
            c.endStdin(2)
            let r = c.responses([2])[2]
            #expect(r?.stdout.contains("bye") == true)
            #expect(r?.end?.appStatus == 3)
        }
    }

    @Test func getValues() throws {
        try withBridge(["-c", "17"]) { bridge, _ in
            let c = try FastCGITestClient(path: bridge.socketPath)
            var out: [UInt8] = []
            FastCGIRecordEncoder.getValues(names: ["FCGI_MPXS_CONNS", "FCGI_MAX_REQS", "SOMETHING_ELSE"], into: &out)
            c.send(out)
            let r = try #require(c.nextRecord())
            #expect(r.knownType == .getValuesResult)
            let pairs = try r.content.withUnsafeBytes { try FastCGINameValuePairs.decode($0) }
            #expect(pairs.map { $0.0 } == ["FCGI_MPXS_CONNS", "FCGI_MAX_REQS"])
            #expect(pairs.map { $0.1 } == ["1", "17"])
        }
    }

    @Test func multiplexedRequestsInterleaved() throws {
        try withBridge { bridge, script in
            let c = try FastCGITestClient(path: bridge.socketPath)
            c.begin(1, keepConnection: true)
            c.begin(2, keepConnection: true)
            c.params(2, [("SCRIPT_FILENAME", script), ("X_TEST", "two")])
            c.params(1, [("SCRIPT_FILENAME", script), ("X_TEST", "one")])
            c.stdin(1, "first-a ")
            c.stdin(2, "second-a ")
            c.stdin(1, "first-b")
            c.endStdin(2)
            c.stdin(2, "ignored after end")
            c.endStdin(1)
            let r = c.responses([1, 2])
            #expect(r[1]?.stdout.text.hasSuffix("x=one\nfirst-a first-b") == true)
            #expect(r[2]?.stdout.text.hasSuffix("x=two\nsecond-a ") == true)
            #expect(r[1]?.end?.appStatus == 0 && r[2]?.end?.appStatus == 0)
        }
    }

    @Test func keepConnectionReuse() throws {
        try withBridge { bridge, script in
            let c = try FastCGITestClient(path: bridge.socketPath)
            for (i, word) in ["alpha", "beta"].enumerated() {
                let id = UInt16(1)  // same id again once the first request ended
                c.begin(id, keepConnection: true)
                c.params(id, [("SCRIPT_FILENAME", script), ("X_TEST", word)])
                c.endStdin(id)
                let r = c.responses([id])[id]
                #expect(r?.stdout.contains("x=\(word)") == true, "request \(i)")
                #expect(r?.end?.appStatus == 0)
            }
            // Still open: a third request without KEEP_CONN, after which the bridge closes.
            c.begin(3)
            c.params(3, [("SCRIPT_FILENAME", script), ("X_TEST", "gamma")])
            c.endStdin(3)
            #expect(c.responses([3])[3]?.stdout.contains("x=gamma") == true)
            #expect(c.socket.receive() == .eof)
        }
    }

    @Test func upgradeKeepsStreaming() throws {
        try withBridge { bridge, _ in
            let script = try bridge.script("ws.sh", Scripts.upgrade)
            let c = try FastCGITestClient(path: bridge.socketPath)
            c.begin(5, keepConnection: true)
            c.params(5, [("SCRIPT_FILENAME", script), ("HTTP_UPGRADE", "websocket"), ("CONTENT_LENGTH", "0")])
            let head = c.stdout(5) { $0.contains("\r\n\r\n") }
            #expect(head.text.hasPrefix("Status: 101"))
            for msg in ["ping-1", "ping-2 longer message"] {
                c.stdin(5, msg)
                #expect(c.stdout(5) { $0.count >= msg.utf8.count }.text == msg)
            }
            // A second, ordinary request multiplexed next to the open upgraded one.
            let echo = bridge.directory.appendingPathComponent("echo.sh").path
            c.begin(6, keepConnection: true)
            c.params(6, [("SCRIPT_FILENAME", echo), ("X_TEST", "side")])
            c.endStdin(6)
            c.endStdin(5)
            let r = c.responses([5, 6])
            #expect(r[6]?.stdout.contains("x=side") == true)
            #expect(r[5]?.end?.appStatus == 0)
        }
    }

    @Test func abortRequestTerminatesCGI() throws {
        try withBridge { bridge, _ in
            let script = try bridge.script("ws.sh", Scripts.upgrade)
            let c = try FastCGITestClient(path: bridge.socketPath)
            c.begin(9, keepConnection: true)
            c.params(9, [("SCRIPT_FILENAME", script), ("HTTP_UPGRADE", "websocket")])
            _ = c.stdout(9) { $0.contains("\r\n\r\n") }
            var out: [UInt8] = []
            FastCGIRecordEncoder.abortRequest(requestId: 9, into: &out)
            c.send(out)
            #expect(c.responses([9])[9]?.end != nil)
        }
    }

    @Test func errorsAndUnknowns() throws {
        try withBridge { bridge, _ in
            let c = try FastCGITestClient(path: bridge.socketPath)
            // Missing script: 404 from the bridge itself.
            c.begin(1, keepConnection: true)
            c.params(1, [("SCRIPT_FILENAME", bridge.directory.path + "/nope.sh")])
            c.endStdin(1)
            #expect(c.responses([1])[1]?.stdout.text.hasPrefix("Status: 404") == true)
            // Role other than responder.
            c.begin(2, keepConnection: true, role: 2)
            let end = c.responses([2])[2]?.end
            #expect(end?.protocolStatus == FastCGIProtocolStatus.unknownRole.rawValue)
            // Unknown record type.
            var out: [UInt8] = []
            FastCGIRecordEncoder.record(FastCGIRecord(type: 42, requestId: 0, content: [1, 2, 3]), into: &out)
            c.send(out)
            let r = try #require(c.nextRecord())
            #expect(r.knownType == .unknownType && r.content.first == 42)
        }
    }

    @Test func malformedRecordDropsOnlyThatConnection() throws {
        try withBridge { bridge, script in
            let bad = try FastCGITestClient(path: bridge.socketPath)
            bad.send([2, 1, 0, 1, 0, 8, 0, 0] + [UInt8](repeating: 0, count: 8))  // version 2
            #expect(bad.socket.receive() == .eof)
            let c = try FastCGITestClient(path: bridge.socketPath)
            c.begin(1)
            c.params(1, [("SCRIPT_FILENAME", script), ("X_TEST", "after")])
            c.endStdin(1)
            #expect(c.responses([1])[1]?.stdout.contains("x=after") == true)
        }
    }

    @Test func overloadedBeyondMaxChildren() throws {
        try withBridge(["--max-children", "1"]) { bridge, _ in
            let script = try bridge.script("ws.sh", Scripts.upgrade)
            let c = try FastCGITestClient(path: bridge.socketPath)
            c.begin(1, keepConnection: true)
            c.params(1, [("SCRIPT_FILENAME", script), ("HTTP_UPGRADE", "websocket")])
            _ = c.stdout(1) { $0.contains("\r\n\r\n") }
            c.begin(2, keepConnection: true)
            c.params(2, [("SCRIPT_FILENAME", script)])
            #expect(c.responses([2])[2]?.end?.protocolStatus == FastCGIProtocolStatus.overloaded.rawValue)
            c.endStdin(1)
            #expect(c.responses([1])[1]?.end?.appStatus == 0)
        }
    }

    @Test func sigtermTerminatesChildrenAndExitsZero() throws {
        let bridge = try BridgeProcess("fcgi-cgi")
        let script = try bridge.script("ws.sh", Scripts.upgrade)
        let c = try FastCGITestClient(path: bridge.socketPath)
        c.begin(1, keepConnection: true)
        c.params(1, [("SCRIPT_FILENAME", script), ("HTTP_UPGRADE", "websocket")])
        _ = c.stdout(1) { $0.contains("\r\n\r\n") }
        let idle = try FastCGITestClient(path: bridge.socketPath)  // an idle keep-alive connection
        let started = Date()
        #expect(bridge.stop() == 0)
        #expect(Date().timeIntervalSince(started) < 3)
        // The running request was ended (its CGI got SIGTERM), the idle connection closed.
        #expect(c.responses([1])[1]?.end?.appStatus == UInt32(128 + SIGTERM))
        #expect(idle.socket.receive() == .eof)
        #expect(access(bridge.socketPath, F_OK) != 0)  // socket file removed
    }
}

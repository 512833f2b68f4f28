import Testing
import Foundation

/// End to end: the built `scgi-cgi` on a unix socket.
@Suite struct SCGIBridgeTests {
    func withBridge(_ arguments: [String] = [], _ body: (BridgeProcess, String) throws -> Void) throws {
        let bridge = try BridgeProcess("scgi-cgi", arguments: arguments)
        defer { bridge.stop() }
        let script = try bridge.script("echo.sh", Scripts.echo)
        try body(bridge, script)
        #expect(bridge.isRunning)
    }

    @Test func plainGet() throws {
        try withBridge { bridge, script in
            let s = try TestSocket(path: bridge.socketPath)
            s.send(SCGITestClient.request([("SCRIPT_FILENAME", script), ("REQUEST_METHOD", "GET"), ("X_TEST", "v")]))
            let (bytes, eof) = s.receiveAll()
            #expect(eof)
            #expect(bytes.text == "Content-Type: text/plain\r\n\r\nmethod=GET\nx=v\n")
        }
    }

    @Test func postBodyStopsAtContentLength() throws {
        try withBridge { bridge, script in
            let s = try TestSocket(path: bridge.socketPath)
            let body = String(repeating: "abcdefgh", count: 40000)  // 320 kB, beyond the stdin bound
            s.send(SCGITestClient.request([("SCRIPT_FILENAME", script), ("REQUEST_METHOD", "POST")], body: body))
            // The connection stays open (no half-close): stdin must close at CONTENT_LENGTH anyway.
            let (bytes, eof) = s.receiveAll()
            #expect(eof)
            #expect(bytes.text.hasSuffix("method=POST\nx=\n" + body))
        }
    }

    @Test func upgradeForwardsBeyondContentLength() throws {
        try withBridge { bridge, _ in
            let script = try bridge.script("ws.sh", Scripts.upgrade)
            let s = try TestSocket(path: bridge.socketPath)
            s.send(SCGITestClient.request([("SCRIPT_FILENAME", script), ("HTTP_UPGRADE", "websocket")]))
            let head = s.receive { $0.contains("\r\n\r\n") }
            #expect(head.text.hasPrefix("Status: 101"))
            for msg in ["frame one", "frame two"] {
                s.send(msg)
                #expect(s.receive { $0.count >= msg.utf8.count }.text == msg)
            }
            s.shutdownWrite()  // front-end EOF -> CGI stdin EOF -> cat exits -> we see EOF
            let (rest, eof) = s.receiveAll()
            #expect(rest.isEmpty && eof)
        }
    }

    @Test func missingScriptIs404() throws {
        try withBridge { bridge, _ in
            let s = try TestSocket(path: bridge.socketPath)
            s.send(SCGITestClient.request([("SCRIPT_FILENAME", bridge.directory.path + "/none")]))
            #expect(s.receiveAll().bytes.text.hasPrefix("Status: 404"))
            let plain = try bridge.script("plain.txt", "not a program")
            chmod(plain, 0o644)
            let t = try TestSocket(path: bridge.socketPath)
            t.send(SCGITestClient.request([("SCRIPT_FILENAME", plain)]))
            #expect(t.receiveAll().bytes.text.hasPrefix("Status: 403"))
        }
    }

    @Test func busyBeyondMaxChildren() throws {
        try withBridge(["-c", "1"]) { bridge, script in
            let ws = try bridge.script("ws.sh", Scripts.upgrade)
            let first = try TestSocket(path: bridge.socketPath)
            first.send(SCGITestClient.request([("SCRIPT_FILENAME", ws), ("HTTP_UPGRADE", "websocket")]))
            _ = first.receive { $0.contains("\r\n\r\n") }
            let second = try TestSocket(path: bridge.socketPath)
            second.send(SCGITestClient.request([("SCRIPT_FILENAME", script)]))
            #expect(second.receiveAll().bytes.text.hasPrefix("Status: 503"))
        }
    }

    @Test func malformedNetstringIsRefusedOnlyOnThatConnection() throws {
        try withBridge { bridge, script in
            let bad = try TestSocket(path: bridge.socketPath)
            bad.send("12:NOT_CONTENT\u{0}1\u{0},")
            let answer = bad.receiveAll()
            #expect(answer.eof)
            #expect(answer.bytes.text.hasPrefix("Status: 400"))
            let s = try TestSocket(path: bridge.socketPath)
            s.send(SCGITestClient.request([("SCRIPT_FILENAME", script), ("X_TEST", "ok")]))
            #expect(s.receiveAll().bytes.contains("x=ok"))
        }
    }
}

import Foundation
import Glibc
import Testing
@testable import SwitchyardOS

/// `TLSTransport` in client mode (the load generator's https:// and wss://) against the server
/// mode over a socket pair: the handshake driven step by step as an event loop would, data both
/// ways, a saved session resumed (also after the connection that got it was freed without a
/// close_notify, which marks OpenSSL's live session unusable), and a certificate refused when
/// verification is asked for and the CA does not match.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"), "needs the openssl command (make deps)"))
struct TLSClientTransportTests {
    let files: TLSTestFiles
    let server: TLSContext
    init() throws {
        files = try TLSTestFiles()
        server = try TLSContext(TLSContextOptions(certificateFile: files.path("a.test.crt"), privateKeyFile: files.path("a.test.key")))
    }

    /// Alternates the two sides until both are done or one fails (non-blocking socket pair).
    private func handshake(_ client: TLSTransport, _ server: TLSTransport) -> IOResult {
        let scratch = ByteBuffer(capacity: 1024)
        for _ in 0..<50 {
            let c = client.handshake()
            if case .error = c { return c }
            if case .eof = c { return c }
            _ = server.receive(into: scratch, minimumSpace: 1024)   // the server's handshake runs in receive
            if case .bytes = c, server.isHandshakeComplete { return c }
        }
        return .error(ETIMEDOUT)
    }

    /// Sends `text` from `from` and reads it at `to` (which also takes any post-handshake messages).
    private func transfer(_ text: String, from: TLSTransport, to: TLSTransport) -> String {
        let bytes = Array(text.utf8)
        let sent = bytes.withUnsafeBytes { from.send($0, UnsafeRawBufferPointer(start: nil, count: 0), more: false) }
        guard case .bytes(bytes.count) = sent else { return "send: \(sent)" }
        let buffer = ByteBuffer(capacity: 1024)
        for _ in 0..<20 where buffer.readableBytes < bytes.count {
            _ = to.receive(into: buffer, minimumSpace: 1024)
        }
        return String(decoding: buffer.readable, as: UTF8.self)
    }

    private func connect(_ client: TLSClientContext, resuming session: TLSSession? = nil) throws -> (TLSTransport, TLSTransport) {
        let (s, c) = try Socket.pair()
        return (try TLSTransport(fd: c, client: client, serverName: "a.test", resuming: session), try TLSTransport(fd: s, context: server))
    }

    @Test func handshakeDataAndResumption() throws {
        let client = try TLSClientContext(caFile: files.path("ca.pem"))
        let (c1, s1) = try connect(client)
        guard case .bytes = handshake(c1, s1) else { Issue.record("handshake failed: \(c1.failureReason ?? "?")"); return }
        #expect(c1.isHandshakeComplete && !c1.isResumed && c1.protocolVersion == "TLSv1.3")
        #expect(c1.negotiatedALPN == "http/1.1" && s1.serverName == "a.test")
        #expect(transfer("GET / HTTP/1.1\r\n\r\n", from: c1, to: s1) == "GET / HTTP/1.1\r\n\r\n")
        #expect(transfer("HTTP/1.1 200 OK\r\n\r\n", from: s1, to: c1) == "HTTP/1.1 200 OK\r\n\r\n")   // tickets come first
        let session = try #require(c1.session, "a TLS 1.3 ticket should have arrived with the response")
        #expect(session.hasTicket && session.isResumable)
        c1.close()   // no close_notify: the live session is now unusable, the saved copy is not
        s1.close()

        let (c2, s2) = try connect(client, resuming: session)
        guard case .bytes = handshake(c2, s2) else { Issue.record("resumed handshake failed: \(c2.failureReason ?? "?")"); return }
        #expect(c2.isResumed && s2.isResumed)
        #expect(transfer("ping", from: c2, to: s2) == "ping")
        c2.close()
        s2.close()

        // Without the session: a full handshake again.
        let (c3, s3) = try connect(client)
        guard case .bytes = handshake(c3, s3) else { Issue.record("third handshake failed"); return }
        #expect(!c3.isResumed)
        c3.close()
        s3.close()
    }

    @Test func verificationRefusesAnUnknownIssuer() throws {
        // b.test's certificate is no CA: nothing a.test's chain could be verified against.
        let client = try TLSClientContext(caFile: files.path("b.test.crt"))
        let (c, s) = try connect(client)
        defer { c.close(); s.close() }
        guard case .error = handshake(c, s) else { Issue.record("the handshake should fail"); return }
        #expect(c.failureReason?.contains("certificate verify failed") == true, "\(c.failureReason ?? "nil")")
    }

    @Test func addressLiteralsAreNoServerNames() {
        #expect(TLSTransport.isAddressLiteral("127.0.0.1") && TLSTransport.isAddressLiteral("::1"))
        #expect(!TLSTransport.isAddressLiteral("localhost") && !TLSTransport.isAddressLiteral("a.test"))
    }
}

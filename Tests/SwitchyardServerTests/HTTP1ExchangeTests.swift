import Foundation
import Glibc
import Synchronization
import Testing
@testable import SwitchyardServer
import SwitchyardOS
import SwitchyardHTTP

/// The HTTP/1.1 exchange state machine, driven for real: an `HTTP1Connection` on a worker's event
/// loop (its own thread) over a socketpair(2), with small handlers routed by path. The test thread
/// is the client and writes raw bytes, so pipelining, split bodies, half-closes and early closes
/// happen exactly as written.
@Suite("HTTP/1.1 connection and exchange")
struct HTTP1ExchangeTests {
    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        let h = try ExchangeHarness()
        defer { h.stop() }
        // /slow answers 100 ms later, /fast at once: the /fast answer must still come second.
        h.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\nGET /fast HTTP/1.1\r\nHost: a\r\n\r\nGET /last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        let (text, eof) = h.receive(until: { $0.contains("body:/last") })
        #expect(bodies(text) == ["body:/slow", "body:/fast", "body:/last"])
        #expect(text.components(separatedBy: "Connection: close").count == 2, "only the last answer closes")
        #expect(eof || h.receiveEOF(), "the connection closes after the Connection: close request")
    }

    /// Interim heads go out before the final one to HTTP/1.1 clients only, without framing fields,
    /// and `100 Continue` at most once (the connection's own answer to Expect counts).
    @Test func interimHeadsBeforeTheFinalOne() throws {
        let h = try ExchangeHarness()
        defer { h.stop() }
        h.send("GET /hints HTTP/1.1\r\nHost: a\r\n\r\n")
        var (text, _) = h.receive(until: { $0.contains("body:/hints") })
        #expect(text.hasPrefix("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"), "\(text)")
        h.send("POST /hints HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
        (text, _) = h.receive(until: { $0.contains("100 Continue\r\n\r\n") })
        h.send("hi")
        let (rest, _) = h.receive(until: { $0.contains("body:/hints") })
        #expect(text == "HTTP/1.1 100 Continue\r\n\r\n" && rest.hasPrefix("HTTP/1.1 103 Early Hints\r\n"), "\(text)\(rest)")
        #expect(!rest.contains("100 Continue"))
        h.send("GET /hints HTTP/1.0\r\n\r\n")
        (text, _) = h.receive(until: { $0.contains("body:/hints") })
        #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n") && !text.contains("103"), "\(text)")
    }

    @Test func keepAliveAndClose() throws {
        let h = try ExchangeHarness()
        defer { h.stop() }
        h.send("GET /fast HTTP/1.1\r\nHost: a\r\n\r\n")
        var (text, eof) = h.receive(until: { $0.contains("body:/fast") })
        #expect(!text.contains("Connection:") && !eof, "HTTP/1.1 stays open without a Connection header")
        h.send("GET /again HTTP/1.0\r\n\r\n")
        (text, eof) = h.receive(until: { $0.contains("body:/again") })
        #expect(text.contains("Connection: close\r\n"))
        #expect(eof || h.receiveEOF(), "an HTTP/1.0 request without keep-alive ends the connection")
    }

    @Test func requestBodyArrivingInPieces() throws {
        let h = try ExchangeHarness()
        defer { h.stop() }
        h.send("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel")
        usleep(50_000)
        h.send("lo\r\n")
        usleep(50_000)
        h.send("6\r\n world\r\n0\r\n\r\nGET /after HTTP/1.1\r\nHost: a\r\n\r\n")
        let (text, _) = h.receive(until: { $0.contains("body:/after") })
        let b = bodies(text)
        #expect(b.first?.hasPrefix("echo:hello world pieces:") == true)
        #expect((Int(b.first?.split(separator: ":").last ?? "") ?? 0) >= 2, "the body reached the handler in several pieces")
        #expect(b.last == "body:/after", "the request after the body is served on the same connection")
    }

    @Test func upgradeBecomesATwoWayByteStream() throws {
        let h = try ExchangeHarness()
        defer { h.stop() }
        // Bytes right behind the head are already buffered when the 101 goes out: they must reach
        // the handler as stream data, not be parsed as a request.
        h.send("GET /upgrade HTTP/1.1\r\nHost: a\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\nearly")
        var (text, _) = h.receive(until: { $0.contains("EARLY") })
        #expect(text.hasPrefix("HTTP/1.1 101 "))
        #expect(text.contains("\r\n\r\nEARLY"))
        h.send("ping")
        (text, _) = h.receive(until: { $0.contains("PING") })
        #expect(text == "PING")
        shutdown(h.client, Int32(SHUT_WR))
        let (rest, eof) = h.receive(until: { $0.contains("BYE") })
        #expect(rest == "BYE")
        #expect(eof || h.receiveEOF(), "the handler's end of the stream closes the connection")
    }

    @Test func clientClosingMidBodyAbortsTheHandler() throws {
        let h = try ExchangeHarness()
        defer { h.stop() }
        h.send("POST /sink HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n0123456789")
        #expect(h.events.wait(for: "sink:body"))
        close(h.client)
        h.client = -1
        #expect(h.events.wait(for: "sink:abort"), "a body cut short stops the handler")
    }

    @Test func clientClosingMidResponseAbortsTheHandler() throws {
        let h = try ExchangeHarness()
        defer { h.stop() }
        h.send("GET /hold HTTP/1.1\r\nHost: a\r\n\r\n")
        _ = h.receive(until: { $0.contains("partial") })
        close(h.client)
        h.client = -1
        #expect(h.events.wait(for: "hold:abort"), "a client gone mid-response stops the handler")
    }

    @Test func errorAfterTheHeadLeavesTheResponseVisiblyIncomplete() throws {
        let h = try ExchangeHarness()
        defer { h.stop() }
        h.send("GET /abort HTTP/1.1\r\nHost: a\r\n\r\n")
        let (text, eof) = h.receive(until: { _ in false }, timeout: 3)
        #expect(eof, "the connection is closed: the only signal left")
        #expect(text.contains("Transfer-Encoding: chunked\r\n"))
        #expect(text.hasSuffix("5\r\nfirst\r\n"), "no chunked terminator: the client sees a cut body")
    }

    @Test func aHandlerOutlivingItsExchangeCannotDisturbTheNextOne() throws {
        let h = try ExchangeHarness()
        defer { h.stop() }
        h.send("GET /keep HTTP/1.1\r\nHost: a\r\n\r\n")
        _ = h.receive(until: { $0.contains("body:/keep") })
        // /late calls the finished /keep exchange (vanish, error, body) before answering itself.
        h.send("GET /late HTTP/1.1\r\nHost: a\r\n\r\n")
        let (text, eof) = h.receive(until: { $0.contains("body:/late") })
        #expect(bodies(text) == ["body:/late"])
        #expect(!eof && !text.contains("Connection: close"))
    }
}

/// The bodies of the responses in `text` (every response here is `Content-Length` framed).
private func bodies(_ text: String) -> [String] {
    var out: [String] = []
    var rest = Substring(text)
    while let headEnd = rest.range(of: "\r\n\r\n") {
        let head = rest[..<headEnd.lowerBound]
        guard let cl = head.split(separator: "\r\n").first(where: { $0.hasPrefix("Content-Length: ") }),
              let n = Int(cl.dropFirst("Content-Length: ".count)) else { break }
        let body = rest[headEnd.upperBound...].prefix(n)
        out.append(String(body))
        rest = rest[headEnd.upperBound...].dropFirst(n)
    }
    return out
}

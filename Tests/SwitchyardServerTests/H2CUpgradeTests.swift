import Testing
@testable import SwitchyardServer
import SwitchyardHTTP

/// When an HTTP/1.1 request may become stream 1 of an h2c connection (`Upgrade: h2c`, RFC 7540
/// §3.2, as lighttpd takes it), and what stream 1 then sees.
@Suite("Upgrade: h2c")
struct H2CUpgradeTests {
    func parse(_ text: String) throws -> HTTPRequestHead {
        var parser = HTTPRequestParser(limits: HTTPParserLimits())
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBytes { buf -> HTTPRequestHead in
            switch parser.parseStep(buf) {
            case .head(let head, _): return head
            case .failure(let e): throw e
            default: throw HTTPParseError(status: 400, reason: "incomplete")
            }
        }
    }

    let upgrade = "GET /x HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\n"

    @Test func plainUpgradeIsTaken() throws {
        #expect(HTTP1Connection.h2cUpgradeSettings(try parse(upgrade + "\r\n"), hasBody: false) == "AAMAAABk")
        let stream = HTTP1Connection.h2cStreamHead(try parse(upgrade + "Accept: */*\r\n\r\n"))
        #expect(stream.upgrade == nil && stream.connectionTokens.isEmpty)
        #expect(stream.headers.first("HTTP2-Settings") == nil && stream.headers.first("Connection") == nil)
        #expect(stream.headers.first("Upgrade") == nil && stream.headers.first("Accept") == "*/*")
    }

    @Test func declinedCases() throws {
        let cases = [
            ("a body", upgrade + "Content-Length: 3\r\n\r\n", true),
            ("a WebSocket too", upgrade.replacingOccurrences(of: "Upgrade: h2c", with: "Upgrade: h2c, websocket") + "\r\n", false),
            ("HTTP/1.0", upgrade.replacingOccurrences(of: "HTTP/1.1", with: "HTTP/1.0") + "\r\n", false),
            ("no HTTP2-Settings token", upgrade.replacingOccurrences(of: ", HTTP2-Settings", with: "") + "\r\n", false),
            ("two HTTP2-Settings", upgrade + "HTTP2-Settings: AAMAAABk\r\n\r\n", false),
            ("no HTTP2-Settings", upgrade.replacingOccurrences(of: "HTTP2-Settings: AAMAAABk\r\n", with: "") + "\r\n", false),
            ("another protocol", upgrade.replacingOccurrences(of: "Upgrade: h2c", with: "Upgrade: h2") + "\r\n", false),
        ]
        for (why, text, hasBody) in cases {
            #expect(HTTP1Connection.h2cUpgradeSettings(try parse(text), hasBody: hasBody) == nil, "\(why)")
        }
    }
}

import Testing
@testable import SwitchyardServer
import SwitchyardHTTP
import SwitchyardConfig

/// The pure parts of collecting a body of unknown length for SCGI/uwsgi (`SpooledBodyExchange`):
/// which requests are collected, the limit, and the head the backend sees afterwards.
@Suite("spooled request bodies")
struct SpooledBodyExchangeTests {
    func chunked(_ method: String = "POST", upgrade: Bool = false) -> HTTPRequestHead {
        var headers = HTTPHeaders()
        headers.add(name: "Transfer-Encoding", value: "chunked")
        headers.add(name: "Content-Type", value: "text/plain")
        if upgrade {
            headers.add(name: "Upgrade", value: "websocket")
            headers.add(name: "Connection", value: "Upgrade")
        }
        return HTTPRequestHead(method: method, target: "/x", headers: headers, isChunked: true,
                               connectionTokens: upgrade ? ["upgrade"] : [], upgrade: upgrade ? "websocket" : nil)
    }

    @Test func onlySCGIAndUwsgiCollectBodiesOfUnknownLength() {
        #expect(SpooledBodyExchange.needsSpool(chunked(), wire: .scgi))
        #expect(SpooledBodyExchange.needsSpool(chunked(), wire: .uwsgi))
        for wire in [BackendWireProtocol.fastcgi, .proxy, .wstunnel] {
            #expect(!SpooledBodyExchange.needsSpool(chunked(), wire: wire))
        }
        let known = HTTPRequestHead(method: "POST", target: "/x", contentLength: 5)
        #expect(!SpooledBodyExchange.needsSpool(known, wire: .scgi))
    }

    @Test func backendSeesTheLengthAndNoTransferEncoding() {
        let head = SpooledBodyExchange.knownLengthHead(chunked(), length: 12345)
        #expect(head.contentLength == 12345 && !head.isChunked)
        #expect(head.headers.first("Transfer-Encoding") == nil)
        #expect(head.headers.first("Content-Type") == "text/plain")
    }

    @Test func limitIsMaxRequestSizeOrACeilingWhenUnlimited() throws {
        var v = RequestSettings.Values()
        v.maxRequestSize = 1 << 20
        #expect(SpooledBodyExchange.bodyLimit(RequestSettings(v)) == 1 << 20)
        #expect(SpooledBodyExchange.bodyLimit(RequestSettings(RequestSettings.Values())) == SpooledBodyExchange.unlimitedCeiling)
    }

    @Test func uploadDirsKey() throws {
        func server(_ text: String) throws -> ServerSettings {
            try ServerSettings(document: ConfigParser.parse(text: text, fileName: "u.conf", baseDirectory: "/tmp", environment: [:]))
        }
        #expect(try server("server.tag = \"t\"\n").uploadDirs == ["/var/tmp"])
        #expect(try server("server.upload-dirs = ( \"/a\", \"/b\" )\n").uploadDirs == ["/a", "/b"])
        #expect(throws: ConfigError.self) { try server("server.upload-dirs = ( \"relative\" )\n") }
        #expect(KnownKeys.all.contains("server.upload-dirs"))
    }
}

import Testing
@testable import SwitchyardServer
import SwitchyardConfig

@Suite("configuration number ranges")
struct ConfigLimitsTests {
    func settings(_ text: String) throws -> ServerSettings {
        let doc = try ConfigParser.parse(text: text, fileName: "n.conf", baseDirectory: "/tmp", environment: [:])
        return try ServerSettings(document: doc)
    }

    /// Every ranged key at both bounds is accepted, one past either bound is a ConfigError at the
    /// key's line naming the range.
    @Test func everyServerKeyAtAndPastItsBounds() throws {
        for (key, range) in ConfigLimits.server.sorted(by: { $0.key < $1.key }) {
            for v in [range.lowerBound, range.upperBound] {
                _ = try settings("server.tag = \"t\"\n\(key) = \"\(v)\"\n")
            }
            for v in [range.lowerBound - 1, range.upperBound + 1] {
                do {
                    _ = try settings("server.tag = \"t\"\n\(key) = \"\(v)\"\n")
                    Issue.record("\(key) = \(v) accepted")
                } catch let e as ConfigError {
                    #expect(e.location.file == "n.conf" && e.location.line == 2, "\(e)")
                    #expect(e.message.contains("allowed \(range.lowerBound)...\(range.upperBound)"), "\(e)")
                }
            }
        }
    }

    @Test func hostPortOutOfRange() throws {
        let doc = try ConfigParser.parse(text: "fastcgi.server = ( \"/x/\" => (( \"host\" => \"127.0.0.1\", \"port\" => 99999 )) )\n",
                                         fileName: "h.conf", baseDirectory: "/tmp", environment: [:])
        #expect(throws: ConfigError.self) {
            _ = try GatewayRouteTable.parse(doc.global["fastcgi.server"]!, key: "fastcgi.server", wireProtocol: .fastcgi,
                                            balance: .fair, debug: 0, mapExtensions: [])
        }
    }

    @Test func secondsSaturate() {
        #expect(Seconds.nanoseconds(-1) == 0)
        #expect(Seconds.nanoseconds(2) == 2_000_000_000)
        #expect(Seconds.nanoseconds(Int.max) == UInt64.max)
        #expect(Seconds.deadline(UInt64.max - 5, plus: 1) == UInt64.max)
    }
}

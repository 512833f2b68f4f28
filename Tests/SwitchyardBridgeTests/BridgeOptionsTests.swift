import Testing
import SwitchyardBridge

@Suite struct BridgeOptionsTests {
    @Test func defaults() throws {
        #expect(try BridgeOptions.parse([]) == .run(BridgeOptions()))
        #expect(BridgeOptions().listen == .inheritedStdin)
        #expect(BridgeOptions().maxChildren == 256)
    }

    @Test func listenAndLimits() throws {
        var expected = BridgeOptions()
        expected.listen = .tcp(":9000")
        expected.maxChildren = 4
        #expect(try BridgeOptions.parse(["--listen", ":9000", "-c", "4"]) == .run(expected))
        expected.listen = .unix("/tmp/x.sock")
        expected.maxChildren = 8
        #expect(try BridgeOptions.parse(["--socket=/tmp/x.sock", "--max-children=8"]) == .run(expected))
    }

    @Test func helpVersionAndErrors() throws {
        #expect(try BridgeOptions.parse(["-h"]) == .help)
        #expect(try BridgeOptions.parse(["--version"]) == .version)
        #expect(throws: BridgeOptions.UsageError.self) { try BridgeOptions.parse(["-c", "0"]) }
        #expect(throws: BridgeOptions.UsageError.self) { try BridgeOptions.parse(["--listen", "nohost"]) }
        #expect(throws: BridgeOptions.UsageError.self) { try BridgeOptions.parse(["--bogus"]) }
    }
}

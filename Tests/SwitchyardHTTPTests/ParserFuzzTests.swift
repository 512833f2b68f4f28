import Testing
import SwitchyardHTTP

/// Deterministic mutation fuzzing: whatever the bytes, the parser must not crash, must
/// report ranges inside the input, and must reach the same result whether the bytes
/// arrive at once or one at a time.
@Suite struct ParserFuzzTests {
    struct SplitMix64 {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    static let interesting: [UInt8] = Array("\r\n \t:;,-0fF9xX/%.\u{0}\u{7F}Gg".utf8)

    @Test func wholeVersusByteByByte() {
        var rng = SplitMix64(state: 0x5eed)
        let seed = Array(HTTPRequestParserTests.pipelined.utf8)
        let limits = HTTPParserLimits(maxRequestLineLength: 64, maxHeaderBlockSize: 160, maxBodySize: 64, maxHeaderCount: 8)
        for _ in 0..<400 {
            var bytes = seed
            for _ in 0..<(1 + rng.below(4)) {
                let i = rng.below(bytes.count)
                switch rng.below(3) {
                case 0: bytes[i] = Self.interesting[rng.below(Self.interesting.count)]
                case 1: bytes.remove(at: i)
                default: bytes.insert(Self.interesting[rng.below(Self.interesting.count)], at: i)
                }
            }
            var whole = ParserDriver(limits: limits)
            whole.feed(bytes)
            var split = ParserDriver(limits: limits)
            for b in bytes where split.error == nil { split.feed([b]) }
            #expect(whole.error?.status == split.error?.status, "\(String(decoding: bytes, as: UTF8.self).debugDescription)")
            #expect(whole.messages.map(\.head) == split.messages.map(\.head))
            #expect(whole.messages.map(\.body) == split.messages.map(\.body))
        }
    }
}

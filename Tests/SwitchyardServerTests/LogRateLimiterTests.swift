import Testing
@testable import SwitchyardServer

/// The error log's flood guard for failed TLS handshakes: `burst` lines a window, the rest
/// counted and summed up once the window is over.
@Suite struct LogRateLimiterTests {
    let second: UInt64 = 1_000_000_000

    @Test func writesTheBurstThenCountsAndSumsUpAfterTheWindow() {
        var l = LogRateLimiter(burst: 3)
        let t0: UInt64 = 50 * second
        for i in 0..<3 {
            let written = l.admit("m\(i)", now: t0 + UInt64(i))
            #expect(written)
        }
        for i in 3..<1000 {
            let written = l.admit("m\(i)", now: t0 + UInt64(i) * 1000)
            #expect(!written)
        }
        #expect(l.summary(now: t0 + second / 2) == nil, "the window is not over yet")
        let s = l.summary(now: t0 + second)
        #expect(s?.count == 997 && s?.last == "m999")
        #expect(l.summary(now: t0 + 3 * second) == nil, "a summary is given once")
        // The next window writes its burst again.
        let next = l.admit("n0", now: t0 + 3 * second)
        #expect(next)
    }

    @Test func linesDuringAPendingSummaryJoinIt() {
        var l = LogRateLimiter(burst: 1)
        let a = l.admit("a", now: 0), b = l.admit("b", now: 1)
        // The window is over but nobody asked for the summary yet: still counted, not written.
        let c = l.admit("c", now: 2 * second)
        #expect(a && !b && !c)
        let s = l.summary(now: 2 * second)
        #expect(s?.count == 2 && s?.last == "c")
    }

    @Test func aQuietTrickleIsAlwaysWritten() {
        var l = LogRateLimiter(burst: 2)
        for i in 0..<10 {
            let written = l.admit("x", now: UInt64(i) * second)
            #expect(written)
        }
        #expect(l.summary(now: 20 * second) == nil)
    }
}

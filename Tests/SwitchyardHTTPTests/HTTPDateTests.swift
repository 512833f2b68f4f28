import Testing
import Foundation
import SwitchyardHTTP

@Suite struct HTTPDateTests {
    @Test func formatKnownDates() {
        #expect(HTTPDate.format(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(951782400) == "Tue, 29 Feb 2000 00:00:00 GMT")
        #expect(HTTPDate.format(4102444799) == "Thu, 31 Dec 2099 23:59:59 GMT")
    }

    @Test func parseAllThreeForms() {
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777)
        #expect(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777)
        #expect(HTTPDate.parse("Sun Nov  6 08:49:37 1994") == 784111777)
        #expect(HTTPDate.parse("Thu Feb 29 12:00:00 2024") == 1709208000)
        #expect(HTTPDate.parse("Thursday, 01-Jan-30 00:00:00 GMT") == 1893456000)
    }

    @Test(arguments: [
        "", "garbage",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT ",
        "Sun, 31 Feb 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "sun, 06 nov 1994 08:49:37 gmt",
        "Sun Nov 06 08:49:37 1994x",
    ])
    func parseRejects(_ s: String) {
        #expect(HTTPDate.parse(s) == nil, "\(s)")
    }

    @Test func roundTrip() {
        var t = -86400 * 365
        while t < 4_000_000_000 {
            #expect(HTTPDate.parse(HTTPDate.format(t)) == t)
            t += 7_654_321
        }
    }

    @Test func matchesFoundation() {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        for t in [0, 1_000_000_000, 1_234_567_890, 1_700_000_000, 2_000_000_000] {
            #expect(HTTPDate.format(t) == f.string(from: Date(timeIntervalSince1970: TimeInterval(t))))
        }
    }

    @Test func cacheReformatsPerSecond() {
        var c = HTTPDateCache()
        #expect(c.string(at: 784111777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(c.string(at: 784111777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(c.string(at: 784111778) == "Sun, 06 Nov 1994 08:49:38 GMT")
        #expect(c.bytes(at: 784111778) == Array("Sun, 06 Nov 1994 08:49:38 GMT".utf8))
        let now = c.current()
        #expect(HTTPDate.parse(now) != nil)
    }
}

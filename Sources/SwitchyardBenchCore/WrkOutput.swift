/// The figures of one `wrk` run, read from its text output.
public struct WrkOutput: Equatable, Sendable {
    public var requestsPerSecond: Double
    /// "123456 requests in 5.00s": the total, for CPU per request.
    public var requests: Int
    public var non2xx: Int
    /// connect + read + write + timeout errors.
    public var socketErrors: Int

    public init(requestsPerSecond: Double, requests: Int, non2xx: Int, socketErrors: Int) {
        self.requestsPerSecond = requestsPerSecond
        self.requests = requests
        self.non2xx = non2xx
        self.socketErrors = socketErrors
    }

    public static func parse(_ text: String) -> WrkOutput? {
        var rps: Double? = nil
        var requests: Int? = nil
        var non2xx = 0
        var errors = 0
        for line in text.split(separator: "\n") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," })
            if line.hasPrefix("Requests/sec:"), words.count >= 2 {
                rps = Double(words[1])
            } else if words.count >= 3, words[1] == "requests", words[2] == "in" {
                requests = Int(words[0])
            } else if line.contains("Non-2xx or 3xx responses:"), let last = words.last {
                non2xx = Int(last) ?? 0
            } else if line.contains("Socket errors:") {
                // "  Socket errors: connect 0, read 2, write 0, timeout 0"
                var k = 0
                while k + 1 < words.count {
                    if ["connect", "read", "write", "timeout"].contains(String(words[k])), let n = Int(words[k + 1]) { errors += n }
                    k += 1
                }
            }
        }
        guard let rps, let requests else { return nil }
        return WrkOutput(requestsPerSecond: rps, requests: requests, non2xx: non2xx, socketErrors: errors)
    }
}

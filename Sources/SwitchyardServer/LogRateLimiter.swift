/// Keeps a flood of one kind of log line (failed TLS handshakes: a scanner, or a thousand
/// stalled ClientHellos) from flooding the error log: in each window the first `burst` lines
/// are written as they come, the rest are only counted, and once the window is over the count
/// goes out as one summary line with the last message (lighttpd's "N more" style). Sans-I/O:
/// the caller passes the time and writes the lines.
struct LogRateLimiter {
    let burst: Int
    let windowNanoseconds: UInt64
    private var windowStart: UInt64 = 0
    private var windowOpen = false
    private var written = 0
    /// Lines counted but not written in the current window, and the last of them.
    private(set) var suppressed = 0
    private(set) var lastSuppressed = ""

    init(burst: Int, windowNanoseconds: UInt64 = 1_000_000_000) {
        self.burst = max(burst, 0)
        self.windowNanoseconds = windowNanoseconds
    }

    /// A line is due at `now`: true to write it, false when it was counted instead.
    mutating func admit(_ message: String, now: UInt64) -> Bool {
        if !windowOpen || now &- windowStart >= windowNanoseconds {
            // A new window; a summary still pending from the last one is taken by `summary` first.
            if suppressed == 0 {
                windowStart = now
                windowOpen = true
                written = 0
            }
        }
        if suppressed == 0 && written < burst {
            written += 1
            return true
        }
        suppressed += 1
        lastSuppressed = message
        return false
    }

    /// The summary of a window that is over ("count, last message"), once; nil when nothing was
    /// suppressed or the window is still running. Call it regularly (the worker's 1 s tick).
    mutating func summary(now: UInt64) -> (count: Int, last: String)? {
        guard suppressed > 0, now &- windowStart >= windowNanoseconds else { return nil }
        let result = (suppressed, lastSuppressed)
        suppressed = 0
        lastSuppressed = ""
        windowStart = now
        written = 0
        windowOpen = true
        return result
    }
}

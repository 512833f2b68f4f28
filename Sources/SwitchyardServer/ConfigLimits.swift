import Glibc
import SwitchyardConfig

/// The allowed range of every numeric setting, checked when the configuration is loaded (so
/// `switchyard -t` rejects what would otherwise trap or misbehave at run time: a port that does not
/// fit 16 bits, seconds that overflow when turned into nanoseconds, a KiB count that overflows when
/// turned into bytes, a header limit of 0 that answers 431 to everything).
///
/// lighttpd's ranges are used where lighttpd has one (its idle timeouts are unsigned shorts, `server.max-request-size` an unsigned 32-bit KiB count, ports 16 bits); the
/// others are generous bounds that keep every later conversion (`Int32(...)`, `* 1_000_000_000`,
/// `* 1024`, array sizes) far from overflow. The README's configuration reference lists them.
enum ConfigLimits {
    /// Seconds: a timeout longer than a day is no timeout any operator means, and a day in
    /// nanoseconds is nowhere near `UInt64.max`.
    static let seconds = 0...86_400
    /// lighttpd's unsigned short settings (idle timeouts).
    static let lighttpdShort = 0...65_535

    /// Global (`ServerSettings`) keys.
    static let server: [String: ClosedRange<Int>] = [
        "server.port": 0...65_535,                       // 0: the kernel picks a free port
        "server.max-read-idle": 1...65_535,
        "server.max-write-idle": 1...65_535,
        "server.max-keep-alive-idle": lighttpdShort,     // 0: no keep-alive wait
        // lighttpd stores this in 16 bits and silently wraps larger values; it is only compared
        // with a counter here, and benchmarks use 100000.
        "server.max-keep-alive-requests": 0...1_000_000,
        "server.max-connections": 0...1_048_576,         // 0: limited by RLIMIT_NOFILE only
        "server.max-request-field-size": 1_024...1_048_576,
        "server.event-loops": 0...1_024,                 // 0: one per core
        "server.graceful-shutdown-timeout": seconds,
        "server.listen-backlog": 1...65_535,
        // HTTP/2 (RFC 9113 §6.5.2): at least one stream; windows and frames within the protocol's
        // bounds, windows capped at 16 MiB (each stream may hold up to its window in memory).
        "server.h2-max-concurrent-streams": 1...1_024,
        "server.h2-initial-window-size": 1_024...16_777_216,
        "server.h2-max-frame-size": 16_384...16_777_215,
    ]

    /// `server.max-request-size`, in KiB (lighttpd: unsigned 32 bits; 0 = unlimited).
    static let maxRequestSizeKiB = 0...4_294_967_295
    /// `cgi.limits` read-timeout / write-timeout and `*.debug`.
    static let cgiTimeout = seconds
    static let debugLevel = lighttpdShort

    /// `fastcgi.server` / `scgi.server` host options.
    static let hostOptions: [String: ClosedRange<Int>] = [
        "port": 1...65_535,
        "min-procs": 0...1_024,
        "max-procs": 1...1_024,
        "max-load-per-proc": 1...65_535,
        "kill-signal": 1...64,
        "listen-backlog": 1...65_535,
        "connect-timeout": seconds,
        "read-timeout": seconds,
        "write-timeout": seconds,
        "disable-time": seconds,
        "max-connections": 0...65_535,                   // per worker; 0: no limit
    ]

    /// The integer of `entry`, or a `ConfigError` at the entry's location naming the allowed range.
    static func int(_ entry: ConfigEntry, key: String, range: ClosedRange<Int>, unit: String = "") throws -> Int {
        guard let v = entry.value.intValue else {
            throw ConfigError(location: entry.location, message: "\(key) must be an integer\(unit.isEmpty ? "" : " (\(unit))")")
        }
        return try check(v, key: key, range: range, at: entry.location, unit: unit)
    }

    /// `v` when it lies in `range`, else a `ConfigError` at `location`.
    static func check(_ v: Int, key: String, range: ClosedRange<Int>, at location: ConfigSourceLocation,
                      unit: String = "") throws -> Int {
        guard range.contains(v) else {
            let u = unit.isEmpty ? "" : " \(unit)"
            throw ConfigError(location: location,
                              message: "\(key) = \(v) is out of range (allowed \(range.lowerBound)...\(range.upperBound)\(u))")
        }
        return v
    }
}

/// Time arithmetic on configured values that can never trap: negative seconds count as 0 and
/// the product saturates (the ranges above already keep values small; this is the second line).
enum Seconds {
    static func nanoseconds(_ seconds: Int) -> UInt64 {
        guard seconds > 0 else { return 0 }
        let (product, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? UInt64.max : product
    }

    /// `now + seconds`, saturating.
    static func deadline(_ now: UInt64, plus seconds: Int) -> UInt64 {
        let (sum, overflow) = now.addingReportingOverflow(nanoseconds(seconds))
        return overflow ? UInt64.max : sum
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// The current IMF-fixdate for the Date header, re-formatted at most once per second.
///
/// Every response carries a Date header; formatting it each time would cost a
/// `gmtime_r` plus a String per response. One cache per event loop (it is a value type
/// with no locking; keep it on the loop's thread).
public struct HTTPDateCache: Sendable {
    private var second = Int.min
    private var cachedString = ""
    private var cachedBytes: [UInt8] = []

    public init() {}

    /// The Date value for `now` (seconds since the epoch).
    public mutating func string(at now: Int) -> String {
        refresh(now)
        return cachedString
    }

    /// The Date value as bytes, to append to an output buffer without a String round trip.
    public mutating func bytes(at now: Int) -> [UInt8] {
        refresh(now)
        return cachedBytes
    }

    /// The Date value for the current wall-clock time.
    public mutating func current() -> String {
        string(at: Int(time(nil)))
    }

    private mutating func refresh(_ now: Int) {
        guard now != second else { return }
        second = now
        cachedBytes.removeAll(keepingCapacity: true)
        HTTPDate.append(now, to: &cachedBytes)
        cachedString = String(decoding: cachedBytes, as: UTF8.self)
    }
}

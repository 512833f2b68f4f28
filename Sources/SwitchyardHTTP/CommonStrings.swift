#if canImport(Glibc)
import Glibc
#endif

/// Shared Strings for the methods and field names nearly every request carries.
///
/// Comparing a few bytes against a literal is much cheaper than building (and later releasing) a
/// new String for each of them on every request, and string literals need no reference counting.
/// Only exact, case-sensitive matches are shared, so a name still reads as it was received.
enum CommonStrings {
    /// The method token as a String.
    static func method(_ bytes: UnsafeRawBufferPointer) -> String {
        lookup(bytes, in: methods) ?? ASCII.string(bytes)
    }

    /// A field name (already validated as a token) as a String.
    static func fieldName(_ bytes: UnsafeRawBufferPointer) -> String {
        lookup(bytes, in: fieldNames) ?? ASCII.string(bytes)
    }

    private static let methods = Table(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT"])

    private static let fieldNames = Table([
        "Host", "User-Agent", "Accept", "Accept-Encoding", "Accept-Language", "Connection", "Cookie",
        "Referer", "Origin", "Content-Length", "Content-Type", "Cache-Control", "Pragma", "Authorization",
        "If-None-Match", "If-Modified-Since", "If-Range", "Range", "Upgrade", "Expect", "Transfer-Encoding",
        "Upgrade-Insecure-Requests", "Sec-Fetch-Dest", "Sec-Fetch-Mode", "Sec-Fetch-Site", "Sec-Fetch-User",
        "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Extensions", "Sec-WebSocket-Protocol",
        "X-Forwarded-For", "X-Real-IP", "DNT", "TE", "Priority",
        // HTTP/2 sends every name in lower case (RFC 9113 8.2.1), browsers these:
        "host", "user-agent", "accept", "accept-encoding", "accept-language", "connection", "cookie",
        "referer", "origin", "content-length", "content-type", "cache-control", "pragma", "authorization",
        "if-none-match", "if-modified-since", "if-range", "range", "upgrade", "expect", "priority", "te",
        "upgrade-insecure-requests", "sec-fetch-dest", "sec-fetch-mode", "sec-fetch-site", "sec-fetch-user",
        "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-protocol",
        "sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform", "x-forwarded-for", "x-real-ip", "dnt",
    ])

    private static func lookup(_ bytes: UnsafeRawBufferPointer, in table: Table) -> String? {
        guard bytes.count < table.byLength.count, let base = bytes.baseAddress else { return nil }
        for entry in table.byLength[bytes.count] where memcmp(entry.bytes.utf8Start, base, bytes.count) == 0 {
            return entry.string
        }
        return nil
    }

    /// Literals grouped by UTF-8 length (index = length), each with its bytes for comparing.
    private struct Table {
        var byLength: [[(bytes: StaticString, string: String)]]

        init(_ literals: [StaticString]) {
            let longest = literals.map(\.utf8CodeUnitCount).max() ?? 0
            byLength = Array(repeating: [], count: longest + 1)
            for l in literals { byLength[l.utf8CodeUnitCount].append((l, l.description)) }
        }
    }
}

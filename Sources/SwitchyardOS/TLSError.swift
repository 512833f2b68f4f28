import COpenSSL

/// A TLS failure with what was being done and OpenSSL's own reasons (its error queue, drained),
/// e.g. "ssl.pemfile /etc/x.pem: cannot load the certificate chain: PEM routines::no start line".
public struct TLSError: Error, CustomStringConvertible, Sendable {
    public let message: String

    public init(_ message: String) { self.message = message }

    /// `what` followed by every reason OpenSSL queued on this thread (the queue is left empty).
    public static func openSSL(_ what: String) -> TLSError {
        let reasons = drainErrorQueue()
        return TLSError(reasons.isEmpty ? what : "\(what): \(reasons)")
    }

    public var description: String { message }

    /// OpenSSL's queued reasons joined by "; " (at most 8: a hostile peer cannot make a long line).
    static func drainErrorQueue() -> String {
        var parts: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            if parts.count >= 8 { continue }
            let full = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 256) { text -> String in
                ERR_error_string_n(code, text.baseAddress, text.count)
                return String(cString: text.baseAddress!)
            }
            // "error:0A00010B:SSL routines::wrong version number" -> "SSL routines::wrong version number"
            let pieces = full.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            parts.append(pieces.count == 3 ? String(pieces[2]) : full)
        }
        return parts.joined(separator: "; ")
    }
}

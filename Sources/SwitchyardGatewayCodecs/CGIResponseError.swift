/// Why a script's response header block was rejected; the server answers 502 (or 500, like
/// lighttpd) and logs `description`.
public struct CGIResponseError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// A line that is not `name: value`, a bad header name or value, a bad Content-Length.
        case malformed
        /// The header block exceeds `maxHeaderBytes`.
        case tooLarge
        /// EOF before any byte, or an empty header block.
        case noHeaders
        /// A `Status` header or NPH status line that is not a 3-digit code 100...999.
        case badStatus
        /// EOF inside the header block.
        case truncated
    }

    public var kind: Kind
    public var detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "CGI response \(kind): \(detail)" }
}

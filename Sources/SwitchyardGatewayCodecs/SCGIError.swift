/// Why an SCGI request header netstring was rejected; the bridge closes the connection.
public struct SCGIError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The netstring length is not decimal digits (or has a leading zero) followed by ':'.
        case badLength
        /// Missing trailing ',', pairs not NUL-terminated, odd string count, empty or repeated name.
        case malformed
        /// The first variable is not `CONTENT_LENGTH` with a decimal value.
        case badContentLength
        /// The declared header length exceeds `maxHeaderBytes`.
        case tooLarge
    }

    public var kind: Kind
    public var detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "SCGI \(kind): \(detail)" }
}

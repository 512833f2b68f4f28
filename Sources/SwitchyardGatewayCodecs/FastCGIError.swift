/// Why FastCGI input was rejected. Any of these means the peer is not speaking FastCGI 1.0 (or is
/// hostile), so the connection is closed rather than resynchronised.
public struct FastCGIError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Record version byte is not 1.
        case badVersion
        /// Type 0, a wrong request id for the record class, or a fixed-size body of the wrong size.
        case badRecord
        /// A name/value pair whose length prefix or bytes run past the end of the content.
        case truncatedPair
        /// A declared name or value length over the decoder's limit.
        case pairTooLong
    }

    public var kind: Kind
    public var detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "FastCGI \(kind): \(detail)" }
}

/// Why a uwsgi packet could not be encoded or decoded.
public struct UWSGIError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The variables do not fit the 16-bit packet size (or a name/value exceeds 65535 bytes).
        case tooLarge
        /// Truncated length prefix or string, empty or repeated name.
        case malformed
        /// `modifier1` is not 0 (only the WSGI/CGI-variables request packet is spoken).
        case unsupportedModifier
    }

    public var kind: Kind
    public var detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "uwsgi \(kind): \(detail)" }
}

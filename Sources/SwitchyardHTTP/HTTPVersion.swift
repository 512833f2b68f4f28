/// The two HTTP/1.x protocol versions the gateway speaks.
///
/// Only 1.0 and 1.1 are representable so that every later decision (keep-alive defaults,
/// Host requirement, chunked framing) is a closed switch; any other `HTTP/x.y` is
/// rejected by the parser with 505 before a head is ever produced.
public enum HTTPVersion: Equatable, Hashable, Sendable {
    case http1_0
    case http1_1

    /// The wire form, e.g. `"HTTP/1.1"`.
    public var string: String {
        switch self {
        case .http1_0: return "HTTP/1.0"
        case .http1_1: return "HTTP/1.1"
        }
    }
}

extension HTTPVersion: CustomStringConvertible {
    public var description: String { string }
}

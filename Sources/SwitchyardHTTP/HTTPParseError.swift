/// Why a request could not be parsed, as the status code the server should answer with.
///
/// The codec never writes responses itself; it tells the connection which error status to
/// send (then close) and gives a short reason for the error log. After an error the
/// parser stays failed: the byte stream can no longer be framed safely.
public struct HTTPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 400, 411, 413, 414, 431, 501 or 505.
    public var status: Int
    /// Human text for the log, e.g. "both Content-Length and Transfer-Encoding".
    public var reason: String

    public init(status: Int, reason: String) {
        self.status = status
        self.reason = reason
    }

    public var description: String { "\(status) \(HTTPStatus.reasonPhrase(status)): \(reason)" }

    static func badRequest(_ reason: String) -> HTTPParseError { .init(status: 400, reason: reason) }
}

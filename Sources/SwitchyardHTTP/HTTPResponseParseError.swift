/// Why a proxied server's response could not be framed. The gateway answers its client with 502
/// (or closes a response already under way); `kind` says which rule was broken so the error log
/// and the tests can tell a truncated response from a malformed one without matching text.
public struct HTTPResponseParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Status line not `HTTP/1.x SP 3DIGIT SP reason`.
        case malformedStatusLine
        /// HTTP/2, HTTP/0.9, HTTP/1.2...: only 1.0 and 1.1 are relayed.
        case unsupportedVersion
        /// A header line that is not `name ":" OWS value OWS`, or has control characters.
        case malformedHeader
        /// Content-Length / Transfer-Encoding that cannot frame the body unambiguously.
        case invalidFraming
        /// Head, header count or interim responses over the parser's limits.
        case tooLarge
        /// The chunked body broke its framing.
        case malformedChunk
        /// The server closed before the response (head or framed body) was complete.
        case truncated
    }

    public var kind: Kind
    public var reason: String

    public init(_ kind: Kind, _ reason: String) {
        self.kind = kind
        self.reason = reason
    }

    public var description: String { "invalid backend response (\(kind)): \(reason)" }
}

/// Size limits for a proxied server's response head.
public struct HTTPResponseParserLimits: Sendable, Equatable {
    /// Status line plus every header line and the final empty line.
    public var maxHeadSize: Int
    /// Header fields in one head (also bounds chunked trailer fields).
    public var maxHeaderCount: Int
    /// Interim (1xx other than 101) heads before the final one: a server cannot keep the
    /// exchange in "interim" forever.
    public var maxInterimResponses: Int

    public init(maxHeadSize: Int = 65_536, maxHeaderCount: Int = 256, maxInterimResponses: Int = 16) {
        self.maxHeadSize = maxHeadSize
        self.maxHeaderCount = maxHeaderCount
        self.maxInterimResponses = maxInterimResponses
    }

    /// The request parser's limits with the same bounds, for the shared scanner and chunk decoder.
    var asRequestLimits: HTTPParserLimits {
        HTTPParserLimits(maxRequestLineLength: maxHeadSize, maxHeaderBlockSize: maxHeadSize,
                         maxBodySize: 0, maxHeaderCount: maxHeaderCount)
    }
}

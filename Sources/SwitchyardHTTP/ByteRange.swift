/// One satisfiable byte range of a file, inclusive at both ends as in the Content-Range
/// header, so the static-file handler can seek and send without re-deriving the math.
public struct ByteRange: Sendable, Equatable, Hashable {
    /// First byte offset.
    public var start: Int
    /// Last byte offset (inclusive).
    public var end: Int

    public init(start: Int, end: Int) {
        self.start = start
        self.end = end
    }

    /// Number of bytes in the range.
    public var count: Int { end - start + 1 }

    /// Content-Range value for a 206: "bytes 0-499/1234".
    public func contentRange(fileSize: Int) -> String {
        "bytes \(start)-\(end)/\(fileSize)"
    }

    /// Content-Range value for a 416: "bytes */1234".
    public static func unsatisfiedContentRange(fileSize: Int) -> String {
        "bytes */\(fileSize)"
    }
}

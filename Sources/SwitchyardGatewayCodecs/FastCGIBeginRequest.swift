/// The body of `FCGI_BEGIN_REQUEST`: role and the keep-connection flag, which decides whether the
/// application closes the socket after `FCGI_END_REQUEST` (persistent backends need it set).
public struct FastCGIBeginRequest: Sendable, Equatable {
    public var role: UInt16
    public var keepConnection: Bool

    public init(role: UInt16 = FastCGIRole.responder.rawValue, keepConnection: Bool) {
        self.role = role
        self.keepConnection = keepConnection
    }

    /// Nil unless `content` is exactly the 8-byte body.
    public init?(content: UnsafeRawBufferPointer) {
        guard content.count == 8 else { return nil }
        role = UInt16(content[0]) << 8 | UInt16(content[1])
        keepConnection = content[2] & 1 != 0
    }
}

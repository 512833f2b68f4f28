/// The body of `FCGI_END_REQUEST`: the application's exit status and whether the request was
/// served at all (`protocolStatus`, see `FastCGIProtocolStatus`).
public struct FastCGIEndRequest: Sendable, Equatable {
    public var appStatus: UInt32
    /// Raw byte; `FastCGIProtocolStatus(rawValue:)` for the known values.
    public var protocolStatus: UInt8

    public init(appStatus: UInt32, protocolStatus: FastCGIProtocolStatus = .requestComplete) {
        self.appStatus = appStatus
        self.protocolStatus = protocolStatus.rawValue
    }

    /// Nil unless `content` is exactly the 8-byte body.
    public init?(content: UnsafeRawBufferPointer) {
        guard content.count == 8 else { return nil }
        appStatus = UInt32(content[0]) << 24 | UInt32(content[1]) << 16 | UInt32(content[2]) << 8 | UInt32(content[3])
        protocolStatus = content[4]
    }
}

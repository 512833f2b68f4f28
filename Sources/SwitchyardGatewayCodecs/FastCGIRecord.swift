/// One FastCGI record with its content copied out: convenient for tests, management records and
/// the low-rate paths. The hot path (STDOUT/STDIN) uses `FastCGIRecordDecoder`'s ranges instead.
public struct FastCGIRecord: Sendable, Equatable {
    /// The raw type byte; may be a type this implementation does not know.
    public var type: UInt8
    public var requestId: UInt16
    public var content: [UInt8]

    public init(type: UInt8, requestId: UInt16, content: [UInt8] = []) {
        self.type = type
        self.requestId = requestId
        self.content = content
    }

    public init(type: FastCGIRecordType, requestId: UInt16, content: [UInt8] = []) {
        self.init(type: type.rawValue, requestId: requestId, content: content)
    }

    public var knownType: FastCGIRecordType? { FastCGIRecordType(rawValue: type) }
}

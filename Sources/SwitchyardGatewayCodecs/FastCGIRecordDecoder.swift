/// Sans-I/O FastCGI record decoder.
///
/// The caller keeps its read buffer and passes the unconsumed bytes; the decoder reports the next
/// complete record as a header plus the content's range within that input, and how many bytes to
/// consume (header, content and padding). Nothing is copied or allocated per record, so STDOUT
/// payloads go from the read buffer to the client as-is. Headers are validated as soon as their 8
/// bytes are present (version 1, type not 0, request id class, fixed body sizes), so garbage from
/// a non-FastCGI peer fails fast instead of waiting for a bogus 64 KiB body. The caller's buffer
/// must be able to hold `maxRecordLength` bytes.
public struct FastCGIRecordDecoder: Sendable {
    public struct Header: Sendable, Equatable {
        public var version: UInt8
        public var type: UInt8
        public var requestId: UInt16
        public var contentLength: Int
        public var paddingLength: Int

        public init(version: UInt8 = 1, type: UInt8, requestId: UInt16, contentLength: Int, paddingLength: Int) {
            self.version = version
            self.type = type
            self.requestId = requestId
            self.contentLength = contentLength
            self.paddingLength = paddingLength
        }

        public var knownType: FastCGIRecordType? { FastCGIRecordType(rawValue: type) }
        public var recordLength: Int { 8 + contentLength + paddingLength }
    }

    /// Largest possible record: header, 65535 content bytes, 255 padding bytes.
    public static let maxRecordLength = 8 + 0xFFFF + 0xFF

    public init() {}

    /// The next complete record at the start of `input`, or nil if `input` holds only part of it.
    public mutating func next(_ input: UnsafeRawBufferPointer) throws(FastCGIError) -> (header: Header, content: Range<Int>, consumed: Int)? {
        guard input.count >= 8 else { return nil }
        let header = try Self.parseHeader(input)
        let total = header.recordLength
        guard input.count >= total else { return nil }
        return (header, 8..<(8 + header.contentLength), total)
    }

    /// `next`, with the content copied into a `FastCGIRecord`.
    public mutating func nextRecord(_ input: UnsafeRawBufferPointer) throws(FastCGIError) -> (record: FastCGIRecord, consumed: Int)? {
        guard let (header, content, consumed) = try next(input) else { return nil }
        let bytes = [UInt8](UnsafeRawBufferPointer(rebasing: input[content]))
        return (FastCGIRecord(type: header.type, requestId: header.requestId, content: bytes), consumed)
    }

    /// Parses and validates the 8-byte header at the start of `input` (which must hold 8 bytes).
    public static func parseHeader(_ input: UnsafeRawBufferPointer) throws(FastCGIError) -> Header {
        precondition(input.count >= 8)
        let header = Header(version: input[0], type: input[1],
                            requestId: UInt16(input[2]) << 8 | UInt16(input[3]),
                            contentLength: Int(input[4]) << 8 | Int(input[5]),
                            paddingLength: Int(input[6]))
        guard header.version == 1 else {
            throw FastCGIError(.badVersion, "record version \(header.version), expected 1")
        }
        guard header.type != 0 else { throw FastCGIError(.badRecord, "record type 0") }
        if let type = header.knownType {
            if type.isManagement {
                guard header.requestId == 0 else {
                    throw FastCGIError(.badRecord, "management record \(type) with request id \(header.requestId)")
                }
            } else if header.requestId == 0 {
                throw FastCGIError(.badRecord, "application record \(type) with request id 0")
            }
            if let fixed = type.fixedContentLength, fixed != header.contentLength {
                throw FastCGIError(.badRecord, "\(type) record with \(header.contentLength) content bytes, expected \(fixed)")
            }
        }
        return header
    }
}

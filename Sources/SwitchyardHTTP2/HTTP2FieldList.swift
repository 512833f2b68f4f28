/// A response's status and header fields as one byte array plus the spans of the names and
/// values in it: what the HPACK encoder reads when the gateway answers a stream.
///
/// Why not `[HPACKHeaderField]`: that is two arrays per field, so a ten-field head cost twenty
/// allocations before HPACK found that every field was already in the dynamic table (the common
/// case: the same file, the same backend, the same Server). Here a head is two allocations, the
/// encoder compares bytes in place, and only a field new to the table is copied into it.
public struct HTTP2FieldList: Sendable {
    /// `:status`, encoded first.
    public var status: Int
    /// Names (lowercased) and values, back to back.
    public private(set) var bytes: [UInt8] = []
    public private(set) var spans: [Span] = []

    public struct Span: Sendable {
        public var nameStart: Int
        public var nameCount: Int
        public var valueStart: Int
        public var valueCount: Int
    }

    public init(status: Int, capacity: Int = 384) {
        self.status = status
        bytes.reserveCapacity(capacity)
        spans.reserveCapacity(12)
    }

    /// A copy of `other` with room for `extraBytes` and `extraFields` more: a cached list (a static
    /// file's) that gets Date, Server and content-length appended without growing twice.
    public init(copying other: HTTP2FieldList, extraBytes: Int = 96, extraFields: Int = 4) {
        status = other.status
        bytes.reserveCapacity(other.bytes.count + extraBytes)
        bytes.append(contentsOf: other.bytes)
        spans.reserveCapacity(other.spans.count + extraFields)
        spans.append(contentsOf: other.spans)
    }

    public var count: Int { spans.count }

    /// Appends `name` (lowercase already) with a non-negative decimal value, no String made.
    public mutating func append(name: [UInt8], decimal value: Int) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)   // 24 bytes: room for any Int
        withUnsafeMutableBytes(of: &digits) { raw in
            let buffer = raw.bindMemory(to: UInt8.self)
            var n = max(0, value), i = buffer.count
            repeat {
                i -= 1
                buffer[i] = UInt8(truncatingIfNeeded: 0x30 + n % 10)
                n /= 10
            } while n > 0
            name.withUnsafeBufferPointer { append(name: $0, value: UnsafeBufferPointer(rebasing: buffer[i...])) }
        }
    }

    /// Appends a field, lowercasing the name as it is copied. The caller has checked the field
    /// (see `HTTP2ResponseFields`); names the gateway writes itself are lowercase already.
    public mutating func append<N: Collection, V: Collection>(name: N, value: V) where N.Element == UInt8, V.Element == UInt8 {
        let nameStart = bytes.count
        if name.withContiguousStorageIfAvailable({ bytes.append(contentsOf: $0) }) == nil { bytes.append(contentsOf: name) }
        let valueStart = bytes.count
        bytes.withUnsafeMutableBufferPointer { all in
            for i in nameStart..<valueStart where all[i] >= 0x41 && all[i] <= 0x5a { all[i] |= 0x20 }
        }
        if value.withContiguousStorageIfAvailable({ bytes.append(contentsOf: $0) }) == nil { bytes.append(contentsOf: value) }
        spans.append(Span(nameStart: nameStart, nameCount: valueStart - nameStart,
                          valueStart: valueStart, valueCount: bytes.count - valueStart))
    }

    public mutating func append(name: String, value: String) {
        var name = name, value = value
        name.withUTF8 { n in value.withUTF8 { v in append(name: n, value: v) } }
    }

    /// Whether a field of that (lowercase) name is present.
    public func contains(name: [UInt8]) -> Bool {
        spans.contains { span in nameEquals(span, name) }
    }

    /// Drops every field but those named `name` (a refused tunnel keeps only its Server).
    public mutating func keepOnly(name: [UInt8]) {
        var kept = HTTP2FieldList(status: status)
        for span in spans where nameEquals(span, name) {
            kept.append(name: bytes[span.nameStart..<span.nameStart + span.nameCount],
                        value: bytes[span.valueStart..<span.valueStart + span.valueCount])
        }
        self = kept
    }

    /// The same list as decoder-style fields, `:status` first (tests and interim heads).
    public var headerFields: [HPACKHeaderField] {
        var fields = [HPACKHeaderField(name: HTTP2ResponseFields.statusName, value: Array(String(status).utf8))]
        for span in spans {
            fields.append(HPACKHeaderField(name: Array(bytes[span.nameStart..<span.nameStart + span.nameCount]),
                                           value: Array(bytes[span.valueStart..<span.valueStart + span.valueCount])))
        }
        return fields
    }

    private func nameEquals(_ span: Span, _ name: [UInt8]) -> Bool {
        span.nameCount == name.count && bytes[span.nameStart..<span.nameStart + span.nameCount].elementsEqual(name)
    }
}

import SwitchyardGatewayCodecs

/// UTF-8 bytes of a string literal.
func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

/// Environment from literal pairs, in order.
func env(_ pairs: [(String, String)]) -> CGIEnvironment {
    var e = CGIEnvironment()
    for (n, v) in pairs { e.set(n, v) }
    return e
}

func pairsEqual(_ a: [(name: String, value: String)], _ b: [(String, String)]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0.name == $1.0 && $0.value == $1.1 }
}

extension CGIResponseHeaderParser {
    mutating func feed(_ b: [UInt8]) throws -> (head: CGIResponseHead, bodyStartInInput: Int)? {
        try b.withUnsafeBytes { try feed($0) }
    }
}

extension SCGIRequestDecoder {
    mutating func feed(_ b: [UInt8]) throws -> (env: CGIEnvironment, consumed: Int)? {
        try b.withUnsafeBytes { try feed($0) }
    }
}

extension UWSGIRequestDecoder {
    mutating func feed(_ b: [UInt8]) throws -> (env: CGIEnvironment, consumed: Int)? {
        try b.withUnsafeBytes { try feed($0) }
    }
}

/// Decodes every complete record from `stream` (copying contents), asserting nothing is left over.
func decodeAll(_ stream: [UInt8]) throws -> [FastCGIRecord] {
    var decoder = FastCGIRecordDecoder()
    var records: [FastCGIRecord] = []
    var offset = 0
    try stream.withUnsafeBytes { raw in
        while let (record, consumed) = try decoder.nextRecord(UnsafeRawBufferPointer(rebasing: raw[offset...])) {
            records.append(record)
            offset += consumed
        }
    }
    precondition(offset == stream.count, "trailing bytes")
    return records
}

/// Decodes a uwsgi request packet header (modifier1 0) into variables, for a uwsgi bridge or tests.
/// Copies only when the packet arrives split across reads.
public struct UWSGIRequestDecoder: Sendable {
    public let maxHeaderBytes: Int
    /// `modifier2` of the last decoded packet.
    public private(set) var modifier2: UInt8 = 0
    private var pending = SplitBlockBuffer()

    public init(maxHeaderBytes: Int = 64 * 1024) {
        self.maxHeaderBytes = maxHeaderBytes
    }

    /// Feeds the next bytes. Returns nil while the packet header is incomplete; then the variables
    /// and how many bytes of THIS `input` belonged to it (the rest is request body).
    public mutating func feed(_ input: UnsafeRawBufferPointer) throws(UWSGIError) -> (env: CGIEnvironment, consumed: Int)? {
        let limit = maxHeaderBytes
        guard let ((env, m2), consumed) = try pending.feed(input, { (b: UnsafeRawBufferPointer) throws(UWSGIError) -> ((CGIEnvironment, UInt8), Int)? in
            try Self.parse(b, maxHeaderBytes: limit)
        }) else { return nil }
        modifier2 = m2
        return (env, consumed)
    }

    static func parse(_ b: UnsafeRawBufferPointer, maxHeaderBytes: Int) throws(UWSGIError) -> ((CGIEnvironment, UInt8), Int)? {
        guard b.count >= 4 else {
            if b.count >= 1 && b[0] != 0 { throw UWSGIError(.unsupportedModifier, "modifier1 \(b[0])") }
            return nil
        }
        if b[0] != 0 { throw UWSGIError(.unsupportedModifier, "modifier1 \(b[0])") }
        let size = Int(b[1]) | Int(b[2]) << 8
        if size > maxHeaderBytes { throw UWSGIError(.tooLarge, "packet of \(size) bytes exceeds \(maxHeaderBytes)") }
        let end = 4 + size
        guard b.count >= end else { return nil }
        var env = CGIEnvironment()
        var p = 4
        func string(_ what: String) throws(UWSGIError) -> Range<Int> {
            guard end - p >= 2 else { throw UWSGIError(.malformed, "truncated \(what) length") }
            let n = Int(b[p]) | Int(b[p + 1]) << 8
            p += 2
            guard end - p >= n else { throw UWSGIError(.malformed, "\(what) length \(n) overruns the packet") }
            defer { p += n }
            return p..<(p + n)
        }
        while p < end {
            let nameRange = try string("name")
            let valueRange = try string("value")
            guard !nameRange.isEmpty else { throw UWSGIError(.malformed, "empty variable name") }
            let name = b.string(nameRange)
            if env.contains(name) { throw UWSGIError(.malformed, "variable \(name) repeated") }
            env.set(name, b.valueString(valueRange))
        }
        return ((env, b[3]), end)
    }
}

/// Interprets a Range request header (RFC 9110 14.2) for a file of known size.
///
/// Only a single byte range is honoured: multiple ranges would need a multipart/byteranges
/// body, and serving the whole file instead is always allowed (the header may be ignored).
public enum RangeHeader {
    public enum RangeResult: Sendable, Equatable {
        /// Absent, unparseable, other unit or multiple ranges: serve the whole file (200).
        case none
        /// Serve bytes start...end (inclusive) with 206.
        case satisfiable(start: Int, end: Int)
        /// 416 with `Content-Range: bytes */size`.
        case unsatisfiable

        public var byteRange: ByteRange? {
            if case .satisfiable(let s, let e) = self { return ByteRange(start: s, end: e) }
            return nil
        }
    }

    /// Parses "bytes=a-b", "bytes=a-" or "bytes=-n".
    public static func parse(_ value: String, fileSize: Int) -> RangeResult {
        var copy = value
        return copy.withUTF8 { parse(UnsafeRawBufferPointer($0), fileSize: fileSize) }
    }

    static func parse(_ raw: UnsafeRawBufferPointer, fileSize: Int) -> RangeResult {
        let v = ASCII.trimmed(raw)
        guard RequestLine.hasPrefix(v, "bytes=") else { return .none }
        let spec = ASCII.trimmed(UnsafeRawBufferPointer(rebasing: v[6...]))
        guard !spec.contains(ASCII.comma), let dash = spec.firstIndex(of: 0x2D) else { return .none }
        let first = UnsafeRawBufferPointer(rebasing: spec[..<dash])
        let last = UnsafeRawBufferPointer(rebasing: spec[(dash + 1)...])

        if first.isEmpty {
            // suffix range: the last n bytes
            guard let n = number(last) else { return .none }
            if n == 0 || fileSize == 0 { return .unsatisfiable }
            return .satisfiable(start: max(fileSize - n, 0), end: fileSize - 1)
        }
        guard let start = number(first) else { return .none }
        var end = Int.max
        if !last.isEmpty {
            guard let e = number(last) else { return .none }
            if e < start { return .none }  // invalid range-spec: ignore the header
            end = e
        }
        if start >= fileSize { return .unsatisfiable }
        return .satisfiable(start: start, end: min(end, fileSize - 1))
    }

    /// 1*DIGIT, saturating at Int.max (a huge value is still a valid, if unsatisfiable, offset).
    private static func number(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard !bytes.isEmpty else { return nil }
        var n = 0
        for b in bytes {
            guard b >= 0x30 && b <= 0x39 else { return nil }
            let (m, o1) = n.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int(b - 0x30))
            n = (o1 || o2) ? Int.max : s
        }
        return n
    }
}

import SwitchyardHTTP

// Internal helpers shared by the encoders: append decimal numbers, big/little-endian integers
// and UTF-8 text to a caller's `[UInt8]` without intermediate `String`s or arrays, and lend the
// raw-memory encoders room at its end.

extension Array where Element == UInt8 {
    /// Appends the decimal digits of a non-negative integer.
    @inline(__always)
    mutating func appendDecimal(_ value: Int) {
        precondition(value >= 0)
        if value < 10 { append(ASCII.zero &+ UInt8(value)); return }
        var digits = 1
        var v = value / 10
        while v > 0 { digits += 1; v /= 10 }
        let start = count
        append(contentsOf: repeatElement(ASCII.zero, count: digits))
        v = value
        var i = start + digits - 1
        while v > 0 { self[i] = ASCII.zero &+ UInt8(v % 10); v /= 10; i -= 1 }
    }

    @inline(__always)
    mutating func appendUInt16BE(_ v: UInt16) { append(UInt8(v >> 8)); append(UInt8(v & 0xFF)) }

    @inline(__always)
    mutating func appendUInt16LE(_ v: UInt16) { append(UInt8(v & 0xFF)); append(UInt8(v >> 8)) }

    @inline(__always)
    mutating func appendUInt32BE(_ v: UInt32) {
        append(UInt8(v >> 24)); append(UInt8((v >> 16) & 0xFF)); append(UInt8((v >> 8) & 0xFF)); append(UInt8(v & 0xFF))
    }

    /// Grows by `count` bytes for an encoder that writes raw memory; keeps the bytes `write`
    /// reports it filled (zero-filled first: the array has no uninitialized tail to lend out).
    @inline(__always)
    mutating func append(writing count: Int, _ write: (UnsafeMutableRawBufferPointer) -> Int) {
        let start = self.count
        append(contentsOf: repeatElement(0, count: count))
        let written = withUnsafeMutableBytes { write(UnsafeMutableRawBufferPointer(rebasing: $0[start...])) }
        precondition(written <= count)
        removeLast(count - written)
    }

    /// One memcpy from the string's contiguous UTF-8 (the generic `append(contentsOf: s.utf8)`
    /// costs several times more per call, and the encoders make dozens of calls per request).
    @inline(__always)
    mutating func appendUTF8(_ s: String) {
        var s = s
        s.withUTF8 { append(contentsOf: $0) }
    }

    /// A literal's bytes, one memcpy (a typed buffer: `append(contentsOf:)` of a raw buffer takes
    /// the element-by-element path).
    @inline(__always)
    mutating func appendLiteral(_ s: StaticString) {
        append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }
}

/// Number of decimal digits of a non-negative integer.
@inline(__always)
func decimalDigitCount(_ value: Int) -> Int {
    var digits = 1
    var v = value / 10
    while v > 0 { digits += 1; v /= 10 }
    return digits
}

extension UnsafeRawBufferPointer {
    /// A `String` from a sub-range (lossy UTF-8 decoding: invalid sequences become U+FFFD).
    @inline(__always)
    func string(_ range: Range<Int>) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: self[range]), as: UTF8.self)
    }

    /// A variable's value from a sub-range, bytes that are not UTF-8 kept exactly (`FieldValueBytes`):
    /// a bridge then hands its CGI the bytes the gateway sent.
    @inline(__always)
    func valueString(_ range: Range<Int>) -> String {
        FieldValueBytes.string(UnsafeRawBufferPointer(rebasing: self[range]))
    }

    /// Parses a non-empty run of ASCII digits as an `Int`; nil on any other byte or overflow.
    func decimal(_ range: Range<Int>) -> Int? {
        if range.isEmpty || range.count > 18 { return nil }
        var v = 0
        for i in range {
            let c = self[i]
            guard ASCII.isDigit(c) else { return nil }
            v = v * 10 + Int(c - ASCII.zero)
        }
        return v
    }
}


/// Base64 in pieces, for the tunnel's `base64` subprotocol: backend bytes go to the client as
/// base64 text, and the client's base64 text (possibly split across fragments at any character)
/// goes to the backend as bytes. Both carry at most a partial quantum between calls and append to
/// the caller's buffer, so no call allocates per byte and memory does not grow with the stream.
public struct Base64StreamEncoder: Sendable {
    private var carry: (UInt8, UInt8) = (0, 0)
    private var carried = 0
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public init() {}

    /// Appends the base64 of `bytes` to `out`, keeping up to two bytes for the next call.
    public mutating func encode(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        var i = 0
        out.reserveCapacity(out.count + (bytes.count + carried) / 3 * 4 + 4)
        while carried > 0 && i < bytes.count {
            if carried == 1 {
                carry.1 = bytes[i]
                carried = 2
            } else {
                emit(carry.0, carry.1, bytes[i], into: &out)
                carried = 0
            }
            i += 1
        }
        if carried > 0 { return }
        while i + 3 <= bytes.count {
            emit(bytes[i], bytes[i + 1], bytes[i + 2], into: &out)
            i += 3
        }
        while i < bytes.count {
            if carried == 0 { carry.0 = bytes[i] } else { carry.1 = bytes[i] }
            carried += 1
            i += 1
        }
    }

    public mutating func encode(_ bytes: [UInt8], into out: inout [UInt8]) {
        bytes.withUnsafeBytes { encode($0, into: &out) }
    }

    /// Ends the current message: the carried bytes with `=` padding.
    public mutating func finish(into out: inout [UInt8]) {
        let a = Self.alphabet
        switch carried {
        case 1:
            out.append(a[Int(carry.0 >> 2)]); out.append(a[Int((carry.0 & 3) << 4)])
            out.append(0x3D); out.append(0x3D)
        case 2:
            out.append(a[Int(carry.0 >> 2)]); out.append(a[Int((carry.0 & 3) << 4 | carry.1 >> 4)])
            out.append(a[Int((carry.1 & 15) << 2)]); out.append(0x3D)
        default:
            break
        }
        carried = 0
    }

    private func emit(_ x: UInt8, _ y: UInt8, _ z: UInt8, into out: inout [UInt8]) {
        let a = Self.alphabet
        out.append(a[Int(x >> 2)])
        out.append(a[Int((x & 3) << 4 | y >> 4)])
        out.append(a[Int((y & 15) << 2 | z >> 6)])
        out.append(a[Int(z & 63)])
    }
}

/// Decodes base64 text that arrives in pieces; padding is only accepted at the end of a message.
public struct Base64StreamDecoder: Sendable {
    public struct InvalidInput: Error, Sendable, Equatable {
        public var reason: String
    }

    private var accumulator: UInt32 = 0
    private var bits = 0
    private var padding = 0

    public init() {}

    /// Appends the bytes of `text` to `out`; throws on a character outside the alphabet or data after `=`.
    public mutating func decode(_ text: UnsafeRawBufferPointer, into out: inout [UInt8]) throws(InvalidInput) {
        out.reserveCapacity(out.count + text.count / 4 * 3 + 3)
        for c in text {
            if c == 0x3D {
                padding += 1
                if padding > 2 { throw InvalidInput(reason: "more than two '=' characters") }
                continue
            }
            if padding > 0 { throw InvalidInput(reason: "data after '=' padding") }
            let v: UInt8
            switch c {
            case 0x41...0x5A: v = c - 0x41
            case 0x61...0x7A: v = c - 0x61 + 26
            case 0x30...0x39: v = c - 0x30 + 52
            case 0x2B: v = 62
            case 0x2F: v = 63
            default: throw InvalidInput(reason: "byte \(c) is not base64")
            }
            accumulator = accumulator << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
                accumulator &= (1 << UInt32(bits)) - 1
            }
        }
    }

    public mutating func decode(_ text: [UInt8], into out: inout [UInt8]) throws(InvalidInput) {
        let result: Result<Void, InvalidInput> = text.withUnsafeBytes { raw in
            do throws(InvalidInput) { try decode(raw, into: &out); return .success(()) } catch { return .failure(error) }
        }
        try result.get()
    }

    /// Ends the message: the leftover bits must be zero, fewer than a byte, and the padding (if any) must fit.
    public mutating func finish() throws(InvalidInput) {
        defer { self = Base64StreamDecoder() }
        if bits >= 6 { throw InvalidInput(reason: "truncated base64 quantum") }
        if accumulator != 0 { throw InvalidInput(reason: "non-zero bits after the last byte") }
        // 4 leftover bits (2 characters of the last quantum) take "==", 2 leftover bits take "=";
        // unpadded input is accepted too.
        let expected = bits == 4 ? 2 : bits == 2 ? 1 : 0
        if padding != 0 && padding != expected { throw InvalidInput(reason: "wrong '=' padding") }
    }
}

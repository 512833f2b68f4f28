/// HPACK Huffman coding (RFC 7541 §5.2, Appendix B).
///
/// Decoding uses the code's canonical form: codes of one length are consecutive numbers, so a
/// symbol is found by comparing the bits read so far with the first code of that length, without
/// a tree. Errors (§5.2): the EOS symbol inside a string, padding longer than 7 bits, or padding
/// that is not the most significant bits of EOS (all ones).
public enum HPACKHuffman {
    /// The canonical-code tables derived once from `HPACKHuffmanTable`.
    struct Canonical: Sendable {
        /// For each length 0...30: first code, number of codes, index of the first symbol in `symbols`.
        var firstCode = [UInt32](repeating: 0, count: 32)
        var count = [UInt32](repeating: 0, count: 32)
        var offset = [Int](repeating: 0, count: 32)
        /// Symbols ordered by (length, symbol), which is code order.
        var symbols: [UInt16] = []
        /// For each length: one past the last code of that length or shorter, left-aligned in 32
        /// bits. The length of the code at the front of a 32-bit window is the first whose limit
        /// is above the window (canonical codes grow with their length).
        var limit = [UInt64](repeating: 0, count: 32)

        init() {
            let table = HPACKHuffmanTable.codes
            symbols = (0..<UInt16(table.count)).sorted { (table[Int($0)].length, $0) < (table[Int($1)].length, $1) }
            var index = 0
            for length in 1...30 {
                offset[length] = index
                var first = true
                while index < symbols.count && Int(table[Int(symbols[index])].length) == length {
                    if first { firstCode[length] = table[Int(symbols[index])].code; first = false }
                    count[length] += 1
                    index += 1
                }
                limit[length] = count[length] == 0 ? limit[length - 1]
                    : (UInt64(firstCode[length]) + UInt64(count[length])) << UInt64(32 - length)
            }
        }
    }

    static let canonical = Canonical()

    /// Codes of at most 8 bits (every letter, digit and common punctuation) by the byte they
    /// start: `length << 8 | symbol`, 0 for a byte that starts a longer code. One lookup per
    /// symbol for nearly all of a field's bytes, instead of the search through the limits.
    static let shortCodes: [UInt16] = {
        var table = [UInt16](repeating: 0, count: 256)
        for (symbol, entry) in HPACKHuffmanTable.codes.enumerated() where entry.length <= 8 {
            let length = Int(entry.length)
            let prefix = Int(entry.code) << (8 - length)
            for fill in 0..<(1 << (8 - length)) { table[prefix | fill] = UInt16(length << 8 | symbol) }
        }
        return table
    }()

    /// Why a Huffman string is invalid.
    public enum DecodingError: Error, Equatable, Sendable {
        case endOfStringSymbol
        case invalidPadding
    }

    /// Decodes `input`, appending the symbols to `out`.
    public static func decode(_ input: UnsafeRawBufferPointer, into out: inout [UInt8]) throws(DecodingError) {
        var failure: DecodingError?
        let decoded = [UInt8](unsafeUninitializedCapacity: maxDecodedCount(input.count)) { buffer, count in
            do throws(DecodingError) { count = try decode(input, into: buffer) } catch { failure = error; count = 0 }
        }
        if let failure { throw failure }
        out.append(contentsOf: decoded)
    }

    /// The most symbols `count` bytes can hold (every code is at least 5 bits).
    public static func maxDecodedCount(_ count: Int) -> Int { count * 8 / 5 }

    /// Decodes `input` into `out` (at least `maxDecodedCount(input.count)` long); returns how many
    /// symbols were written. A symbol at a time (not a bit at a time): a short code by
    /// `shortCodes`, a longer one's length found from the limits of a 32-bit window over the bits
    /// not yet used. Written straight into the buffer: an array append per symbol checked the
    /// array's uniqueness and capacity every time.
    public static func decode(_ input: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<UInt8>) throws(DecodingError) -> Int {
        precondition(out.count >= maxDecodedCount(input.count), "Huffman output buffer too small")
        let tables = canonical
        let limit = tables.limit
        let short = shortCodes
        var bits: UInt64 = 0    // unused bits, left-aligned
        var count = 0           // how many
        var next = 0
        var written = 0
        while true {
            while count <= 56 && next < input.count {
                bits |= UInt64(input[next]) << UInt64(56 - count)
                count += 8
                next += 1
            }
            guard count > 0 else { return written }
            let entry = short[Int(truncatingIfNeeded: bits >> 56)]
            let shortLength = Int(entry >> 8)
            if shortLength != 0 && shortLength <= count {
                out[written] = UInt8(truncatingIfNeeded: entry)
                written += 1
                bits <<= UInt64(shortLength)
                count -= shortLength
                continue
            }
            let window = bits >> 32
            var length = 5      // the shortest code
            while length < 30 && window >= limit[length] { length += 1 }
            guard length <= count else {
                // Padding (§5.2): fewer than 8 bits, all ones (the start of EOS).
                guard count <= 7, bits >> UInt64(64 - count) == (UInt64(1) << UInt64(count)) - 1 else { throw .invalidPadding }
                return written
            }
            let index = Int(window >> UInt64(32 - length)) - Int(tables.firstCode[length])
            let symbol = tables.symbols[tables.offset[length] + index]
            if symbol == 256 { throw .endOfStringSymbol }
            out[written] = UInt8(symbol)
            written += 1
            bits <<= UInt64(length)
            count -= length
        }
    }

    /// Decodes a byte array (tests and tools).
    public static func decode(_ bytes: [UInt8]) throws(DecodingError) -> [UInt8] {
        var out: [UInt8] = []
        let result: Result<Void, DecodingError> = bytes.withUnsafeBytes { raw in
            do throws(DecodingError) { try decode(raw, into: &out); return .success(()) } catch { return .failure(error) }
        }
        try result.get()
        return out
    }

    /// Length in bytes of the Huffman encoding of `input`.
    public static func encodedLength<C: Collection>(_ input: C) -> Int where C.Element == UInt8 {
        var bits = 0
        for byte in input { bits += Int(HPACKHuffmanTable.codes[Int(byte)].length) }
        return (bits + 7) / 8
    }

    /// Appends the Huffman encoding of `input`, padded with the EOS prefix (ones).
    public static func encode<C: Collection>(_ input: C, into out: inout [UInt8]) where C.Element == UInt8 {
        var buffer: UInt64 = 0
        var pending = 0
        for byte in input {
            let entry = HPACKHuffmanTable.codes[Int(byte)]
            buffer = buffer << UInt64(entry.length) | UInt64(entry.code)
            pending += Int(entry.length)
            while pending >= 8 {
                pending -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt64(pending)))
            }
        }
        if pending > 0 {
            out.append(UInt8(truncatingIfNeeded: buffer << UInt64(8 - pending)) | UInt8(0xff >> pending))
        }
    }
}

/// HPACK integer (RFC 7541 §5.1) and string literal (§5.2) coding.
public enum HPACKPrimitives {
    /// Why a header block is malformed at the primitive level.
    public enum DecodingError: Error, Equatable, Sendable {
        case truncated
        /// An integer that does not fit the decoder's bound (hostile continuation bytes).
        case integerOverflow
        case huffman(HPACKHuffman.DecodingError)
        case stringTooLong(Int)
    }

    /// Largest integer accepted: anything above is an attack (indices, lengths, table sizes are small).
    public static let maxInteger = 1 << 30

    /// Appends `value` with an N-bit prefix; `flags` are the bits above the prefix in the first byte.
    public static func appendInteger(_ value: Int, prefixBits: Int, flags: UInt8, into out: inout [UInt8]) {
        let limit = (1 << prefixBits) - 1
        if value < limit {
            out.append(flags | UInt8(value))
            return
        }
        out.append(flags | UInt8(limit))
        var rest = value - limit
        while rest >= 128 {
            out.append(UInt8(rest & 0x7f) | 0x80)
            rest >>= 7
        }
        out.append(UInt8(rest))
    }

    /// Decodes an integer with an N-bit prefix at `offset`, advancing it.
    public static func decodeInteger(_ input: UnsafeRawBufferPointer, offset: inout Int,
                                     prefixBits: Int) throws(DecodingError) -> Int {
        guard offset < input.count else { throw .truncated }
        let limit = (1 << prefixBits) - 1
        var value = Int(input[offset]) & limit
        offset += 1
        if value < limit { return value }
        var shift = 0
        while true {
            guard offset < input.count else { throw .truncated }
            let byte = input[offset]
            offset += 1
            value += Int(byte & 0x7f) << shift
            guard value <= maxInteger else { throw .integerOverflow }
            if byte & 0x80 == 0 { return value }
            shift += 7
            guard shift <= 28 else { throw .integerOverflow }
        }
    }

    /// Appends a string literal, Huffman-coded unless that is longer (RFC 7541 C.6 codes equal lengths too).
    public static func appendString<C: Collection>(_ bytes: C, huffman: Bool = true, into out: inout [UInt8]) where C.Element == UInt8 {
        let huffmanLength = huffman ? HPACKHuffman.encodedLength(bytes) : Int.max
        if huffmanLength <= bytes.count {
            appendInteger(huffmanLength, prefixBits: 7, flags: 0x80, into: &out)
            HPACKHuffman.encode(bytes, into: &out)
        } else {
            appendInteger(bytes.count, prefixBits: 7, flags: 0, into: &out)
            out.append(contentsOf: bytes)
        }
    }

    /// Decodes a string literal at `offset`, advancing it; strings longer than `maxLength` (after
    /// decoding) are refused before they are materialised, with `offset` already past them.
    public static func decodeString(_ input: UnsafeRawBufferPointer, offset: inout Int,
                                    maxLength: Int) throws(DecodingError) -> [UInt8] {
        guard offset < input.count else { throw .truncated }
        let isHuffman = input[offset] & 0x80 != 0
        let length = try decodeInteger(input, offset: &offset, prefixBits: 7)
        guard length <= input.count - offset else { throw .truncated }
        let raw = UnsafeRawBufferPointer(rebasing: input[offset..<(offset + length)])
        offset += length
        if !isHuffman {
            guard length <= maxLength else { throw .stringTooLong(length) }
            return Array(raw)
        }
        // Huffman codes are at least 5 bits, so the output is at most 8/5 of the input.
        guard length <= maxLength || length * 8 / 30 <= maxLength else { throw .stringTooLong(length * 8 / 30) }
        var failure: HPACKHuffman.DecodingError?
        let capacity = HPACKHuffman.maxDecodedCount(length)
        if capacity <= 512 {
            // Decoded on the stack, then copied into an array of its exact size: an array made by
            // `init(unsafeUninitializedCapacity:)` is allocated through the runtime's generic path
            // (its element type looked up each time), several times the cost of the copy.
            let decoded: [UInt8] = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { buffer in
                do throws(HPACKHuffman.DecodingError) {
                    let count = try HPACKHuffman.decode(raw, into: buffer)
                    return Array(UnsafeBufferPointer(rebasing: buffer[0..<count]))
                } catch {
                    failure = error
                    return []
                }
            }
            if let failure { throw .huffman(failure) }
            guard decoded.count <= maxLength else { throw .stringTooLong(decoded.count) }
            return decoded
        }
        let out = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
            do throws(HPACKHuffman.DecodingError) { count = try HPACKHuffman.decode(raw, into: buffer) } catch {
                failure = error
                count = 0
            }
        }
        if let failure { throw .huffman(failure) }
        guard out.count <= maxLength else { throw .stringTooLong(out.count) }
        return out
    }
}

import Testing
@testable import SwitchyardHTTP

/// The byte sets are masks typed in as hex: each is checked against its grammar written out as a
/// `switch`, for all 256 byte values.
@Suite("ASCII byte sets")
struct ASCIITests {
    @Test func tokenSetIsTchar() {
        func reference(_ b: UInt8) -> Bool {
            switch b {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
            case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E: return true
            default: return false
            }
        }
        for b in UInt8.min...UInt8.max { #expect(ASCII.isTokenChar(b) == reference(b), "byte \(b)") }
    }

    @Test func authoritySetIsUnreservedSubDelimsAndHostPunctuation() {
        func reference(_ b: UInt8) -> Bool {
            switch b {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
            case 0x2D, 0x2E, 0x5F, 0x7E, 0x21, 0x24, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x3B, 0x3D,
                 0x3A, 0x5B, 0x5D, 0x25: return true
            default: return false
            }
        }
        for b in UInt8.min...UInt8.max {
            #expect(ASCII.inSet(b, ASCII.authoritySet) == reference(b), "byte \(b)")
            #expect(withUnsafeBytes(of: b) { RequestLine.isValidAuthority($0) } == reference(b))
        }
    }

    @Test func canonicalPlainSetLeavesOutWhatNeedsALook() {
        for b in UInt8.min...UInt8.max {
            let plain = b != 0 && b < 0x80 && b != 0x25 && b != 0x5C && b != 0x2F && b != 0x2E
            #expect(ASCII.inSet(b, RequestPath.canonicalPlainSet) == plain, "byte \(b)")
        }
    }

    /// `isAlreadyCanonical` against the byte-by-byte rule it replaced, on every path of up to six
    /// bytes over an alphabet of the bytes that matter.
    @Test func isAlreadyCanonicalMatchesTheByteByByteRule() {
        func reference(_ raw: [UInt8]) -> Bool {
            guard raw.first == 0x2F else { return false }
            var previous: UInt8 = 0
            for i in raw.indices {
                let b = raw[i]
                if b == 0x25 || b == 0x5C || b == 0 || b >= 0x80 { return false }
                if b == 0x2F && previous == 0x2F { return false }
                if b == 0x2E && previous == 0x2F {
                    let next = i + 1 < raw.count ? raw[i + 1] : 0x2F
                    if next == 0x2F || next == 0x2E { return false }
                }
                previous = b
            }
            return true
        }
        let alphabet: [UInt8] = [0x2F, 0x2E, 0x61, 0x25, 0x5C, 0, 0x80, 0x7E]
        var path: [UInt8] = [0x2F]
        func walk(_ depth: Int) {
            let got = path.withUnsafeBytes { RequestPath.isAlreadyCanonical($0) }
            #expect(got == reference(path), "\(path)")
            guard depth > 0 else { return }
            for b in alphabet {
                path.append(b)
                walk(depth - 1)
                path.removeLast()
            }
        }
        walk(5)
        #expect([UInt8]().withUnsafeBytes { RequestPath.isAlreadyCanonical($0) } == false)
    }

    /// The word-at-a-time value check finds the byte the byte rule finds (the first one), for
    /// every byte value at every place of values of several lengths.
    @Test func forbiddenValueBytesAreFoundAsByteByByte() {
        func byteRule(_ value: [UInt8]) -> UInt8? { value.first { ASCII.isForbiddenInValue($0) } }
        for length in [1, 7, 8, 9, 16, 17, 30] {
            var clean: [UInt8] = []
            for i in 0..<length { clean.append(UInt8(truncatingIfNeeded: 0x20 + (i * 41) % 0xe0)) }   // 0x20...0xff, DEL included
            for position in 0..<length {
                for byte in 0...255 {
                    var value = clean
                    value[position] = UInt8(byte)
                    let found = value.withUnsafeBytes { ASCII.firstForbiddenInValue($0) }
                    #expect(found == byteRule(value), "byte \(byte) at \(position) of \(length)")
                }
            }
        }
        #expect(ASCII.firstForbiddenInValue(UnsafeRawBufferPointer(start: nil, count: 0)) == nil)
    }
}

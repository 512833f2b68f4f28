import Testing
@testable import SwitchyardWebSocket

@Suite struct WebSocketMaskingTests {
    func naive(_ bytes: [UInt8], key: UInt32, phase: Int) -> [UInt8] {
        let k: [UInt8] = [UInt8(key >> 24), UInt8((key >> 16) & 0xFF), UInt8((key >> 8) & 0xFF), UInt8(key & 0xFF)]
        return bytes.enumerated().map { $0.element ^ k[($0.offset + phase) % 4] }
    }

    @Test func matchesNaiveForAllLengthsAndPhases() {
        let key: UInt32 = 0x37fa_213d
        for length in 0..<41 {
            let data = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            for phase in 0..<4 {
                var copy = data
                let next = WebSocketMasking.apply(key: key, phase: phase, inPlace: &copy)
                #expect(copy == naive(data, key: key, phase: phase), "length \(length) phase \(phase)")
                #expect(next == (phase + length) % 4)
            }
        }
    }

    @Test func unalignedAndSplit() {
        let key: UInt32 = 0xDEAD_BEEF
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0) }
        var whole = data
        WebSocketMasking.apply(key: key, inPlace: &whole)
        // Mask in uneven pieces starting at odd offsets, carrying the phase along.
        var pieces = data
        pieces.withUnsafeMutableBytes { raw in
            var offset = 0
            var phase = 0
            for size in [1, 3, 7, 13, 100, 5, 871] {
                phase = WebSocketMasking.apply(key: key, phase: phase,
                                               inPlace: UnsafeMutableRawBufferPointer(rebasing: raw[offset..<offset + size]))
                offset += size
            }
        }
        #expect(pieces == whole)
        #expect(whole == naive(data, key: key, phase: 0))
        // Masking twice restores the data.
        WebSocketMasking.apply(key: key, inPlace: &whole)
        #expect(whole == data)
    }
}

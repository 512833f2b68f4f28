import Testing
import SwitchyardOS
import SwitchyardWebSocket
@testable import SwitchyardBenchCore

@Suite struct PayloadTests {
    @Test func textPatternIsPrintableSevenBitAndDeterministic() {
        let a = PayloadPattern(size: 4096, binary: false)
        let b = PayloadPattern(size: 4096, binary: false)
        let bytesA = UnsafeRawBufferPointer(start: a.storage, count: a.length)
        let bytesB = UnsafeRawBufferPointer(start: b.storage, count: b.length)
        #expect(bytesA.allSatisfy { $0 >= 0x20 && $0 <= 0x7E })
        #expect(Array(bytesA) == Array(bytesB))
        #expect(a.length == 4096 + PayloadPattern.period)
        // Different seeds differ; every printable character shows up.
        let c = PayloadPattern(size: 4096, binary: false, seed: 42)
        #expect(Array(UnsafeRawBufferPointer(start: c.storage, count: c.length)) != Array(bytesA))
        #expect(Set(bytesA).count == 95)
    }

    @Test func binaryPatternUsesEveryByte() {
        let p = PayloadPattern(size: 65536, binary: true)
        let bytes = UnsafeRawBufferPointer(start: p.storage, count: p.length)
        #expect(Set(bytes).count == 256)
    }

    @Test func consecutiveMessagesDiffer() {
        let p = PayloadPattern(size: 64, binary: false)
        let m0 = Array(UnsafeRawBufferPointer(start: p.payload(connection: 0, message: 0), count: 64))
        let m1 = Array(UnsafeRawBufferPointer(start: p.payload(connection: 0, message: 1), count: 64))
        let c1 = Array(UnsafeRawBufferPointer(start: p.payload(connection: 1, message: 0), count: 64))
        #expect(m0 != m1 && m0 != c1)
        #expect(p.offset(connection: 0, message: UInt64(PayloadPattern.period)) == p.offset(connection: 0, message: 0))
        #expect((0..<10_000).allSatisfy { p.offset(connection: $0 % 97, message: UInt64($0)) < PayloadPattern.period })
    }

    @Test(arguments: [0, 1, 125, 126, 65535, 65536, 70000])
    func clientFrameWriterMatchesEncoder(size: Int) {
        let pattern = PayloadPattern(size: max(size, 1), binary: true)
        let payload = pattern.payload(connection: 3, message: 7)
        let key: UInt32 = 0x1234_ABCD
        let buffer = ByteBuffer(capacity: 16)
        ClientFrameWriter.append(opcode: .binary, payload: payload, count: size, maskKey: key, to: buffer)
        var expected: [UInt8] = []
        WebSocketFrameEncoder.encode(opcode: .binary, payload: UnsafeRawBufferPointer(start: payload, count: size),
                                     maskKey: key, into: &expected)
        #expect(Array(buffer.readable) == expected)
        // Two frames back to back append, they do not overwrite.
        ClientFrameWriter.append(opcode: .text, payload: nil, count: 0, maskKey: key, to: buffer)
        #expect(buffer.readableBytes == expected.count + 6)
    }
}

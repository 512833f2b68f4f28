import Testing
@testable import SwitchyardWebSocket

/// Backend bytes -> text frame payloads: always valid UTF-8, characters split between reads kept
/// whole, bytes that are not UTF-8 replaced by U+FFFD.
@Suite struct UTF8TextChunkerTests {
    private func run(_ pieces: [[UInt8]], finish: Bool = false) -> (chunks: [[UInt8]], replaced: Int) {
        var c = UTF8TextChunker()
        var chunks: [[UInt8]] = []
        var replaced = 0
        for p in pieces {
            var out: [UInt8] = []
            replaced += c.feed(p, into: &out)
            chunks.append(out)
        }
        if finish {
            var out: [UInt8] = []
            replaced += c.finish(into: &out)
            chunks.append(out)
        }
        return (chunks, replaced)
    }

    @Test func asciiAndCompleteCharactersPassUnchanged() {
        let text = Array("héllo ☃ 𝄞\n".utf8)
        let r = run([text])
        #expect(r.chunks == [text] && r.replaced == 0)
    }

    @Test(arguments: 1...9) func aCharacterSplitAnywhereArrivesWhole(split: Int) {
        let text = Array("a☃𝄞é".utf8)   // 1 + 3 + 4 + 2 bytes
        let r = run([Array(text[..<split]), Array(text[split...])])
        #expect(r.chunks.joined().elementsEqual(text) && r.replaced == 0)
        for chunk in r.chunks { #expect(String(validating: chunk, as: UTF8.self) != nil) }
    }

    @Test func oneByteAtATime() {
        let text = Array("𝄞☃é".utf8)
        let r = run(text.map { [$0] })
        #expect(r.chunks.joined().elementsEqual(text) && r.replaced == 0)
        #expect(r.chunks.filter { !$0.isEmpty }.count == 3, "each character leaves once complete")
    }

    @Test(arguments: [
        ([0x61, 0xFF, 0x62], [0x61, 0xEF, 0xBF, 0xBD, 0x62], 1),           // never a UTF-8 byte
        ([0xC0, 0xAF], [0xEF, 0xBF, 0xBD, 0xEF, 0xBF, 0xBD], 2),           // overlong lead, lone continuation
        ([0xED, 0xA0, 0x80], [0xEF, 0xBF, 0xBD, 0xEF, 0xBF, 0xBD, 0xEF, 0xBF, 0xBD], 3),   // surrogate
        ([0xE2, 0x98, 0x41], [0xEF, 0xBF, 0xBD, 0x41], 1),                 // truncated then ASCII
        ([0xF4, 0x90, 0x80, 0x80], Array(repeating: [0xEF, 0xBF, 0xBD], count: 4).flatMap { $0 }, 4),   // > U+10FFFF
    ] as [([UInt8], [UInt8], Int)])
    func invalidBytesBecomeReplacementCharacters(input: [UInt8], expected: [UInt8], count: Int) {
        let r = run([input])
        #expect(r.chunks == [expected] && r.replaced == count)
    }

    @Test func anIncompleteSequenceAtTheEndIsHeldThenReplacedAtFinish() {
        let r = run([[0x41, 0xE2, 0x98]], finish: true)
        #expect(r.chunks == [[0x41], [0xEF, 0xBF, 0xBD]] && r.replaced == 1)
    }
}

import Testing
import SwitchyardHTTP

@Suite struct RangeHeaderTests {
    @Test func satisfiable() {
        #expect(RangeHeader.parse("bytes=0-499", fileSize: 1000) == .satisfiable(start: 0, end: 499))
        #expect(RangeHeader.parse("bytes=500-999", fileSize: 1000) == .satisfiable(start: 500, end: 999))
        #expect(RangeHeader.parse("bytes=500-5000", fileSize: 1000) == .satisfiable(start: 500, end: 999))
        #expect(RangeHeader.parse("bytes=900-", fileSize: 1000) == .satisfiable(start: 900, end: 999))
        #expect(RangeHeader.parse("bytes=-100", fileSize: 1000) == .satisfiable(start: 900, end: 999))
        #expect(RangeHeader.parse("bytes=-5000", fileSize: 1000) == .satisfiable(start: 0, end: 999))
        #expect(RangeHeader.parse(" Bytes=0-0 ", fileSize: 1) == .satisfiable(start: 0, end: 0))
        #expect(RangeHeader.parse("bytes=0-99999999999999999999999", fileSize: 10) == .satisfiable(start: 0, end: 9))
    }

    @Test func unsatisfiable() {
        #expect(RangeHeader.parse("bytes=1000-", fileSize: 1000) == .unsatisfiable)
        #expect(RangeHeader.parse("bytes=1000-2000", fileSize: 1000) == .unsatisfiable)
        #expect(RangeHeader.parse("bytes=-0", fileSize: 1000) == .unsatisfiable)
        #expect(RangeHeader.parse("bytes=0-", fileSize: 0) == .unsatisfiable)
        #expect(RangeHeader.parse("bytes=-5", fileSize: 0) == .unsatisfiable)
        #expect(RangeHeader.parse("bytes=99999999999999999999999-", fileSize: 10) == .unsatisfiable)
    }

    @Test(arguments: [
        "", "bytes", "bytes=", "bytes=-", "items=0-1", "bytes=a-b", "bytes=5-1",
        "bytes=0-1,5-6", "bytes=0-1, 5-6", "bytes=--1", "bytes=1-2-3", "bytes=+1-2", "bytes=0x1-2",
    ])
    func ignored(_ v: String) {
        #expect(RangeHeader.parse(v, fileSize: 1000) == .none, "\(v)")
    }

    @Test func byteRangeHelpers() {
        let r = RangeHeader.parse("bytes=10-19", fileSize: 100).byteRange
        #expect(r == ByteRange(start: 10, end: 19))
        #expect(r?.count == 10)
        #expect(r?.contentRange(fileSize: 100) == "bytes 10-19/100")
        #expect(ByteRange.unsatisfiedContentRange(fileSize: 100) == "bytes */100")
        #expect(RangeHeader.RangeResult.unsatisfiable.byteRange == nil)
    }
}

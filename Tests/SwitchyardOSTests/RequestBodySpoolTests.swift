import Testing
import Glibc
@testable import SwitchyardOS

/// `RequestBodySpool`: memory up to its limit, then an unnamed file in the first usable directory;
/// read back in bounded chunks, byte for byte; nothing left in the directory at any point.
@Suite("request body spool")
struct RequestBodySpoolTests {
    func tempDir() -> String {
        var template = Array("/tmp/spooltest-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        return String(cString: p!)
    }

    func entries(_ dir: String) -> [String] {
        guard let d = opendir(dir) else { return ["<cannot open>"] }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    func readAll(_ spool: RequestBodySpool) throws -> ([UInt8], Int) {
        var out: [UInt8] = []
        var largest = 0
        while try spool.nextChunk({ out.append(contentsOf: $0); largest = max(largest, $0.count) }) {}
        return (out, largest)
    }

    @Test func smallBodyStaysInMemory() throws {
        let spool = RequestBodySpool(directories: ["/nonexistent"], memoryLimit: 100, chunkSize: 30)
        let body = (0..<100).map { UInt8($0) }
        try body.withUnsafeBytes { try spool.append($0) }
        #expect(!spool.isOnDisk && spool.count == 100)
        let (back, largest) = try readAll(spool)
        #expect(back == body && largest == 30 && spool.remaining == 0)
    }

    @Test func largeBodySpillsToAnUnnamedFileAndReadsBackInChunks() throws {
        let dir = tempDir()
        defer { rmdir(dir) }
        // The first directory does not exist: the next one is used (lighttpd's list of upload dirs).
        let spool = RequestBodySpool(directories: ["/nonexistent/dir", dir], memoryLimit: 1000, chunkSize: 4096)
        var body: [UInt8] = []
        var x: UInt32 = 1
        for _ in 0..<100_003 { x = x &* 1103515245 &+ 12345; body.append(UInt8(truncatingIfNeeded: x >> 16)) }
        var i = 0
        for size in [10, 990, 1, 7000, 92_002] {
            try body[i..<i + size].withUnsafeBytes { try spool.append($0) }
            i += size
        }
        #expect(spool.isOnDisk && spool.count == body.count)
        #expect(entries(dir).isEmpty)          // unnamed (O_TMPFILE) or unlinked at once
        let (back, largest) = try readAll(spool)
        #expect(back == body && largest == 4096)
        spool.close()
        #expect(entries(dir).isEmpty)
    }

    @Test func noUsableDirectoryIsAnError() throws {
        let spool = RequestBodySpool(directories: ["/nonexistent/a", "/nonexistent/b"], memoryLimit: 4)
        #expect(throws: SystemError.self) {
            try [UInt8](repeating: 1, count: 5).withUnsafeBytes { try spool.append($0) }
        }
    }

    @Test func closedSpoolRefusesMore() throws {
        let spool = RequestBodySpool(directories: [], memoryLimit: 4)
        spool.close()
        #expect(throws: SystemError.self) { try [UInt8](repeating: 1, count: 2).withUnsafeBytes { try spool.append($0) } }
        #expect(try spool.nextChunk { _ in } == false)
    }
}

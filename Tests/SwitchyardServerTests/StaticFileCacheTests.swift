import Glibc
import Testing
@testable import SwitchyardServer

/// A temporary directory with files for the cache tests, removed at deinit.
private final class TempFiles {
    let root: String

    init() {
        var template = Array("/tmp/sy-filecache-XXXXXX".utf8CString)
        root = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    deinit {
        if let dir = opendir(root) {
            while let e = readdir(dir) {
                let name = withUnsafePointer(to: e.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
                if name != "." && name != ".." { unlink(root + "/" + name) }
            }
            closedir(dir)
        }
        rmdir(root)
    }

    /// Writes `bytes` to `name`; returns the path buffer naming it, an open descriptor and its stat.
    func make(_ name: String, _ bytes: [UInt8]) -> (PathBuffer, Int32, stat) {
        let path = PathBuffer()
        path.set(root: root, path: "/" + name)
        let fd = open(root + "/" + name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        precondition(fd >= 0)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var st = stat()
        fstat(fd, &st)
        return (path, fd, st)
    }
}

private func fields() -> StaticFileFields {
    StaticFileFields(etag: "\"e\"", lastModified: "Thu, 01 Jan 1970 00:00:00 GMT", contentType: "text/plain")
}

/// A clock reading `seconds` after the file's ctime (what `loadBody` compares with).
private func after(_ st: stat, seconds: Int) -> timespec {
    timespec(tv_sec: st.st_ctim.tv_sec + seconds, tv_nsec: st.st_ctim.tv_nsec)
}

@Suite("static file cache")
struct StaticFileCacheTests {
    private final class Scope {}
    private let scope = Scope()

    @Test func settleRule() {
        var st = stat()
        st.st_mtim = timespec(tv_sec: 100, tv_nsec: 500)
        st.st_ctim = timespec(tv_sec: 101, tv_nsec: 200)
        let v = FileValidator(st)
        #expect(!v.isSettled(at: timespec(tv_sec: 102, tv_nsec: 999_999_999), margin: 2))
        #expect(!v.isSettled(at: timespec(tv_sec: 103, tv_nsec: 199), margin: 2))
        #expect(v.isSettled(at: timespec(tv_sec: 103, tv_nsec: 200), margin: 2))
        st.st_mtim = timespec(tv_sec: 102, tv_nsec: 0)  // mtime newer than ctime (utime into the future)
        #expect(!FileValidator(st).isSettled(at: timespec(tv_sec: 103, tv_nsec: 500), margin: 2))
    }

    @Test func bodiesOnlyForSettledSmallFilesAndEveryValidatorCounts() {
        let files = TempFiles()
        let cache = StaticFileCache(maxBodySize: 4096, bodyBudget: 1 << 20)
        let id = ObjectIdentifier(scope)
        let bytes = (0..<1000).map { UInt8($0 % 251) }
        let (path, fd, st) = files.make("a.txt", bytes)
        defer { close(fd) }

        #expect(cache.lookup(path: path, scope: id, file: st) == nil)
        let e = cache.entry(path: path, scope: id, file: st, make: fields)
        #expect(cache.lookup(path: path, scope: id, file: st) === e)
        // Just written: not settled, so no bytes are kept.
        #expect(!cache.loadBody(e, from: fd, openedAt: after(st, seconds: 1)))
        #expect(e.body == nil)
        #expect(cache.loadBody(e, from: fd, openedAt: after(st, seconds: 2)))
        #expect(e.body == bytes)
        #expect(cache.bodyBytes == 1000)

        // Any validator field that differs, another path or other settings: no hit.
        func changed(_ f: (inout stat) -> Void) -> stat { var s = st; f(&s); return s }
        for other in [changed { $0.st_ctim.tv_nsec += 1 }, changed { $0.st_ctim.tv_sec += 1 },
                      changed { $0.st_mtim.tv_nsec += 1 }, changed { $0.st_mtim.tv_sec -= 1 },
                      changed { $0.st_size += 1 }, changed { $0.st_ino += 1 }, changed { $0.st_dev += 1 }] {
            #expect(cache.lookup(path: path, scope: id, file: other) == nil)
        }
        #expect(cache.lookup(path: path, scope: ObjectIdentifier(Scope()), file: st) == nil)
        let otherPath = PathBuffer()
        otherPath.set(root: files.root, path: "/b.txt")
        #expect(cache.lookup(path: otherPath, scope: id, file: st) == nil)

        // A new version replaces the entry and its bytes.
        let newer = changed { $0.st_ctim.tv_nsec += 1 }
        let e2 = cache.entry(path: path, scope: id, file: newer, make: fields)
        #expect(e2 !== e && e2.body == nil && cache.bodyBytes == 0)
    }

    @Test func largeOrShortFilesAreNotCached() {
        let files = TempFiles()
        let cache = StaticFileCache(maxBodySize: 1000, bodyBudget: 1 << 20)
        let id = ObjectIdentifier(scope)
        let (path, fd, st) = files.make("big.bin", [UInt8](repeating: 7, count: 1001))
        defer { close(fd) }
        let e = cache.entry(path: path, scope: id, file: st, make: fields)
        #expect(!cache.loadBody(e, from: fd, openedAt: after(st, seconds: 10)))

        // fstat said 900 bytes; the file has fewer by the time it is read.
        let (path2, fd2, st2) = files.make("short.bin", [UInt8](repeating: 7, count: 500))
        defer { close(fd2) }
        var claimed = st2
        claimed.st_size = 900
        let e2 = cache.entry(path: path2, scope: id, file: claimed, make: fields)
        #expect(!cache.loadBody(e2, from: fd2, openedAt: after(st2, seconds: 10)))
        #expect(e2.body == nil && cache.bodyBytes == 0)
    }

    @Test func budgetEvictsUnreferencedBodiesFirst() {
        let files = TempFiles()
        let cache = StaticFileCache(maxBodySize: 1000, bodyBudget: 3000)
        let id = ObjectIdentifier(scope)
        var made: [(PathBuffer, stat, StaticFileEntry)] = []
        for name in ["a", "b", "c", "d"] {
            let (path, fd, st) = files.make(name, [UInt8](repeating: UInt8(ascii: "x"), count: 1000))
            let e = cache.entry(path: path, scope: id, file: st, make: fields)
            #expect(cache.loadBody(e, from: fd, openedAt: after(st, seconds: 10)))
            close(fd)
            made.append((path, st, e))
            #expect(cache.bodyBytes <= 3000)
            if name == "c" {
                // "a" is used: the sweep for "d" gives it a second chance.
                #expect(cache.lookup(path: made[0].0, scope: id, file: made[0].1) != nil)
            }
        }
        #expect(cache.bodyBytes == 3000)
        let present = made.filter { cache.lookup(path: $0.0, scope: id, file: $0.1) != nil }
        #expect(present.reduce(0) { $0 + ($1.2.body?.count ?? 0) } == cache.bodyBytes)
        if present.count == 4 {  // no two of them share a slot
            #expect(made[0].2.body != nil && made[3].2.body != nil)
            #expect((made[1].2.body == nil) != (made[2].2.body == nil))
        }
    }

    /// A kept HTTP/1.1 answer (head and body) counts in the budget, is replaced for a new
    /// generation without counting twice, and goes with its body when the sweep drops that.
    @Test func keptAnswersCountInTheBudgetAndGoWithTheirBody() {
        let files = TempFiles()
        let cache = StaticFileCache(maxBodySize: 1000, bodyBudget: 5000)
        let id = ObjectIdentifier(scope)
        var paths: [(PathBuffer, stat)] = []
        func load(_ name: String) -> StaticFileEntry {
            let (path, fd, st) = files.make(name, [UInt8](repeating: UInt8(ascii: "y"), count: 1000))
            defer { close(fd) }
            let e = cache.entry(path: path, scope: id, file: st, make: fields)
            #expect(cache.loadBody(e, from: fd, openedAt: after(st, seconds: 10)))
            paths.append((path, st))
            return e
        }
        let a = load("a"), b = load("b")
        #expect(cache.bodyBytes == 2000)
        let answer = [UInt8](repeating: 0x41, count: 100) + a.body!
        #expect(cache.keepAnswer(answer, headLength: 100, generation: 7, for: a))
        #expect(a.http1Answer == answer && a.http1HeadLength == 100 && a.http1AnswerGeneration == 7 && a.answerHasBody)
        #expect(cache.bodyBytes == 3100)
        #expect(cache.keepAnswer(answer, headLength: 100, generation: 8, for: a))   // the next second's
        #expect(cache.bodyBytes == 3100 && a.http1AnswerGeneration == 8)
        #expect(cache.keepAnswer(answer, headLength: 100, generation: 8, for: b))
        #expect(cache.bodyBytes == 4200)
        // "a" is used, "b" is not: a third body makes the sweep drop "b", its answer with it.
        #expect(cache.lookup(path: paths[0].0, scope: id, file: paths[0].1) === a)
        let c = load("c")
        #expect(a.body != nil && c.body != nil)
        #expect(b.body == nil && b.http1Answer.isEmpty && b.http1AnswerGeneration == -1)
        #expect(cache.bodyBytes == 1000 + 1100 + 1000)
        // An entry without a body keeps no answer.
        #expect(!cache.keepAnswer(answer, headLength: 100, generation: 9, for: b))
        #expect(cache.bodyBytes == 3100)
    }

    /// `server.stat-cache-engine = "simple"`: an entry confirmed by a stat in one second is found
    /// by path alone within that second, never in another, for other settings, another path, or
    /// once its body is gone (replaced or evicted).
    @Test func recentEntriesServeOnlyWithinTheirSecond() {
        let files = TempFiles()
        let cache = StaticFileCache(maxBodySize: 1000, bodyBudget: 1000)
        let id = ObjectIdentifier(scope)
        let (path, fd, st) = files.make("r.txt", [UInt8](repeating: 1, count: 600))
        defer { close(fd) }
        let e = cache.entry(path: path, scope: id, file: st, make: fields)
        cache.confirm(e, second: 50)  // no body yet: not worth remembering
        #expect(cache.recent(path: path, scope: id, second: 50) == nil)
        #expect(cache.loadBody(e, from: fd, openedAt: after(st, seconds: 10)))
        cache.confirm(e, second: 50)
        #expect(cache.recent(path: path, scope: id, second: 50) === e)
        #expect(cache.recent(path: path, scope: id, second: 51) == nil)
        #expect(cache.recent(path: path, scope: ObjectIdentifier(Scope()), second: 50) == nil)
        let other = PathBuffer()
        other.set(root: files.root, path: "/r.tx")
        #expect(cache.recent(path: other, scope: id, second: 50) == nil)

        // Another file takes the budget: r.txt's body is evicted, and with it the shortcut.
        let (path2, fd2, st2) = files.make("s.txt", [UInt8](repeating: 2, count: 600))
        defer { close(fd2) }
        let e2 = cache.entry(path: path2, scope: id, file: st2, make: fields)
        _ = cache.lookup(path: path, scope: id, file: st)  // referenced: survives one sweep pass
        #expect(cache.loadBody(e2, from: fd2, openedAt: after(st2, seconds: 10)))
        #expect(e.body == nil)
        #expect(cache.recent(path: path, scope: id, second: 50) == nil)

        // A new version of s.txt replaces its entry: the old one is not served by path any more.
        cache.confirm(e2, second: 60)
        #expect(cache.recent(path: path2, scope: id, second: 60) === e2)
        var newer = st2
        newer.st_ctim.tv_nsec += 1
        _ = cache.entry(path: path2, scope: id, file: newer, make: fields)
        #expect(cache.recent(path: path2, scope: id, second: 60) == nil)
    }
}

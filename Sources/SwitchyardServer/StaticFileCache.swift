import Glibc
import SwitchyardHTTP
import SwitchyardHTTP2

/// The header lines a static response sends for one version of one file, formatted once: on a hot
/// small file the response head is then two bulk copies instead of four fields formatted, sanitised
/// and copied per request.
final class StaticFileFields {
    let etag: String
    let lastModified: String
    /// For `expire.mimetypes`.
    let contentType: String
    /// Content-Type, ETag, Last-Modified and Accept-Ranges lines (200 and 206 responses).
    let full: [UInt8]
    /// ETag and Last-Modified lines (304 responses).
    let validators: [UInt8]
    /// `full` as an HTTP/2 field list (`:status` 200): an h2 stream starts its head from this copy
    /// instead of reading the lines back into fields on every request.
    let h2Full: HTTP2FieldList

    init(etag: String, lastModified: String, contentType: String) {
        self.etag = etag
        self.lastModified = lastModified
        self.contentType = contentType
        let validators = HeaderName.fieldLine("ETag", etag) + HeaderName.fieldLine("Last-Modified", lastModified)
        self.validators = validators
        let full = HeaderName.fieldLine("Content-Type", contentType) + validators
            + HeaderName.fieldLine("Accept-Ranges", "bytes")
        self.full = full
        var list = HTTP2FieldList(status: 200, capacity: full.count)
        full.withUnsafeBytes { HTTP2ResponseFields.appendLines($0, to: &list) }
        self.h2Full = list
    }

    /// The strong validator lighttpd uses: inode, size and mtime in hex.
    static func etag(inode: UInt64, size: Int, mtime: Int) -> String {
        "\"\(String(inode, radix: 16))-\(String(size, radix: 16))-\(String(mtime, radix: 16))\""
    }
}

/// The identity and version of a file as stat(2) reports it: device, inode, size, mtime and ctime
/// to the nanosecond. Two equal validators are taken to mean the same bytes (see `StaticFileCache`).
struct FileValidator: Equatable {
    var device: UInt64
    var inode: UInt64
    var size: Int
    var mtime: Int
    var mtimeNanoseconds: Int
    var ctime: Int
    var ctimeNanoseconds: Int

    init(_ st: stat) {
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        size = Int(st.st_size)
        mtime = Int(st.st_mtim.tv_sec)
        mtimeNanoseconds = Int(st.st_mtim.tv_nsec)
        ctime = Int(st.st_ctim.tv_sec)
        ctimeNanoseconds = Int(st.st_ctim.tv_nsec)
    }

    /// True when both timestamps are at least `margin` seconds older than `now`.
    func isSettled(at now: timespec, margin: Int) -> Bool {
        func older(_ s: Int, _ ns: Int) -> Bool {
            let limit = Int(now.tv_sec) - margin
            return s < limit || (s == limit && ns <= Int(now.tv_nsec))
        }
        return older(mtime, mtimeNanoseconds) && older(ctime, ctimeNanoseconds)
    }
}

/// One version of one file as a static response needs it: its validators, the prebuilt header
/// lines, and for a small file (once it is settled, see `StaticFileCache`) its bytes.
final class StaticFileEntry {
    let validator: FileValidator
    let scope: ObjectIdentifier
    let path: [UInt8]
    let fields: StaticFileFields
    /// The whole file, when cached; shared (not copied) by the output queues sending it.
    fileprivate(set) var body: [UInt8]?
    /// Set on every hit; the eviction sweep gives referenced bodies a second chance.
    fileprivate var referenced = false
    /// The worker's wall-clock second in which a stat(2) of `path` last matched `validator`
    /// (`server.stat-cache-engine = "simple"`); `Int.min` before the first.
    fileprivate var confirmedSecond = Int.min
    /// The whole HTTP/1.1 answer of a plain keep-alive 200 with this file, as the worker built it for
    /// its Date/Server block `http1AnswerGeneration` (`Worker.prepareStaticAnswer`): the head (status
    /// line, the cached fields, Date and Server, Content-Length, the empty line; `http1HeadLength`
    /// bytes), then the file's bytes when there are at most `answerBodyLimit` of them (a larger body
    /// goes from `body` behind the head). Every GET or HEAD of the file within that second sends
    /// these bytes as they are, in one send(2) from here. Counted in the cache's budget and let go
    /// with the body (`StaticFileCache.keepAnswer`).
    fileprivate(set) var http1Answer: [UInt8] = []
    fileprivate(set) var http1HeadLength = 0
    fileprivate(set) var http1AnswerGeneration = -1
    static let answerBodyLimit = 8 * 1024
    /// `http1Answer` ends with the file's bytes.
    var answerHasBody: Bool { http1Answer.count > http1HeadLength }

    init(validator: FileValidator, scope: ObjectIdentifier, path: [UInt8], fields: StaticFileFields) {
        self.validator = validator
        self.scope = scope
        self.path = path
        self.fields = fields
    }
}

/// Per-worker cache of what a static response needs from a file: the header lines (ETag,
/// Last-Modified, Content-Type) for any file, and the bytes of small files, so that a hit on a small
/// file costs one stat(2) and no open/fstat/read/close.
///
/// The rule (as nginx's open_file_cache and lighttpd's stat cache validate, but per request):
/// - Every request makes ONE stat(2) of the resolved path (following symlinks, as open(2) does).
///   An entry is used only when the path bytes, the request settings (`scope`: a conditional may
///   assign another MIME type) and all of device, inode, size, mtime (s + ns) and ctime (s + ns)
///   match. A file replaced by rename has another inode; a write changes mtime and ctime; chmod,
///   chown, ACL changes, link counts and truncate change ctime, so a file that became unreadable is
///   not served from memory: the miss goes through open(2), which answers 403. A path that can no
///   longer be searched fails the stat itself.
/// - File timestamps come from a coarse clock (one tick, up to 1 s on some file systems), so two
///   writes in a row can leave identical validators. Bytes are therefore only cached when the
///   file's mtime and ctime are at least `settleSeconds` older than the moment the file was opened
///   ("racily clean" in git's terms): any later write then gets a newer timestamp. A recently
///   changed file is served through its descriptor, as without the cache, until it settles.
/// - Not covered (as with any stat-validated cache): writes through a shared mmap, which need not
///   update mtime until write-back; file systems whose timestamps are coarser than 1 s; network
///   file systems whose client caches attributes (NFS actimeo) and so can report an old stat.
///
/// Bodies are cached for files up to `maxBodySize`, at most `bodyBudget` bytes per worker; when the
/// budget is reached a clock sweep drops bodies that were not used since the last sweep. Larger files
/// keep only their header lines here and are sent with sendfile(2).
///
/// Direct-mapped by inode: finding an entry costs a multiply instead of hashing the path, and a
/// collision just replaces the older entry (it is rebuilt on the next miss).
///
/// With `server.stat-cache-engine = "simple"` (the default, as in lighttpd) a cached body whose stat
/// matched in the worker's current wall-clock second is served again within that second without
/// another stat(2) (`recent`): a second direct-mapped table, by a hash of the path bytes, finds it
/// before any system call. A change to the file then shows from the next second on; "disable"
/// keeps the stat per request and with it the rule above.
final class StaticFileCache {
    static let maxBodySize = 64 * 1024
    static let bodyBudget = 16 * 1024 * 1024
    static let settleSeconds = 2
    private static let slotCount = 4096
    private var slots = [StaticFileEntry?](repeating: nil, count: StaticFileCache.slotCount)
    /// Entries with a body whose stat was confirmed recently, by path hash (`recent`).
    private var recentSlots = [StaticFileEntry?](repeating: nil, count: StaticFileCache.slotCount)
    private(set) var bodyBytes = 0
    private var hand = 0
    private let maxBodySize: Int
    private let bodyBudget: Int

    init(maxBodySize: Int = StaticFileCache.maxBodySize, bodyBudget: Int = StaticFileCache.bodyBudget) {
        self.maxBodySize = maxBodySize
        self.bodyBudget = bodyBudget
    }

    /// The entry for this path and version, if there is one (hits mark it referenced).
    func lookup(path: PathBuffer, scope: ObjectIdentifier, file st: stat) -> StaticFileEntry? {
        let v = FileValidator(st)
        guard let e = slots[Self.slot(device: v.device, inode: v.inode)], e.validator == v, e.scope == scope,
              path.equals(e.path) else { return nil }
        e.referenced = true
        return e
    }

    /// The entry with a cached body for this path and scope whose stat(2) matched in `second`,
    /// if there is one: served without a system call (`server.stat-cache-engine = "simple"`).
    func recent(path: PathBuffer, scope: ObjectIdentifier, second: Int) -> StaticFileEntry? {
        guard let e = recentSlots[Self.slot(path: path.bytes)], e.confirmedSecond == second, e.scope == scope,
              e.body != nil, path.equals(e.path) else { return nil }
        e.referenced = true
        return e
    }

    /// Notes that a stat(2) of `entry`'s path matched its validator in `second`, so `recent`
    /// finds it for the rest of that second (only entries with a cached body are worth it).
    func confirm(_ entry: StaticFileEntry, second: Int) {
        guard entry.body != nil else { return }
        entry.confirmedSecond = second
        entry.path.withUnsafeBufferPointer { recentSlots[Self.slot(path: $0)] = entry }
    }

    /// The entry for this path and version; `make` builds the header lines for a miss.
    func entry(path: PathBuffer, scope: ObjectIdentifier, file st: stat, make: () -> StaticFileFields) -> StaticFileEntry {
        if let e = lookup(path: path, scope: scope, file: st) { return e }
        let v = FileValidator(st)
        let slot = Self.slot(device: v.device, inode: v.inode)
        if let old = slots[slot], old.body != nil {
            // Replaced: its body is let go here, so `recentSlots` cannot keep serving bytes that
            // the budget no longer counts.
            dropBody(old)
        }
        let e = StaticFileEntry(validator: v, scope: scope, path: Array(path.bytes), fields: make())
        slots[slot] = e
        return e
    }

    /// Reads the file `fd` (opened at `openedAt`, described by `entry`) into the entry when it is
    /// small and settled. False when the body is not cached (the descriptor is untouched then, its
    /// offset included: pread).
    func loadBody(_ entry: StaticFileEntry, from fd: Int32, openedAt: timespec) -> Bool {
        let size = entry.validator.size
        guard entry.body == nil, size <= maxBodySize, size <= bodyBudget,
              entry.validator.isSettled(at: openedAt, margin: Self.settleSeconds) else { return false }
        var complete = true
        let body = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            while initialized < size {
                let n = pread(fd, buffer.baseAddress! + initialized, size - initialized, off_t(initialized))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { complete = false; break }
                initialized += n
            }
        }
        // Shorter than fstat said: the file changed under us; let the descriptor path report it.
        guard complete else { return false }
        makeRoom(for: size)
        bodyBytes += size
        entry.body = body
        return true
    }

    /// Clock sweep: drops bodies not used since the hand last passed them until `size` more fits.
    private func makeRoom(for size: Int) {
        var steps = 0
        while bodyBytes + size > bodyBudget && steps < 2 * Self.slotCount {
            if let e = slots[hand], e.body != nil {
                if e.referenced {
                    e.referenced = false
                } else {
                    dropBody(e)
                }
            }
            hand = (hand + 1) & (Self.slotCount - 1)
            steps += 1
        }
    }

    /// Lets go of `entry`'s body and of the answer made with it.
    private func dropBody(_ entry: StaticFileEntry) {
        bodyBytes -= (entry.body?.count ?? 0) + entry.http1Answer.count
        entry.body = nil
        entry.http1Answer = []
        entry.http1AnswerGeneration = -1
    }

    /// Keeps `answer` (a head of `headLength` bytes, then the body or nothing) as `entry`'s
    /// HTTP/1.1 answer for `generation`, within the budget. False when the entry's body was swept
    /// to make room (no answer is kept then).
    func keepAnswer(_ answer: [UInt8], headLength: Int, generation: Int, for entry: StaticFileEntry) -> Bool {
        bodyBytes -= entry.http1Answer.count
        entry.http1Answer = []
        entry.http1AnswerGeneration = -1
        guard entry.body != nil else { return false }
        makeRoom(for: answer.count)
        guard entry.body != nil else { return false }
        bodyBytes += answer.count
        entry.http1Answer = answer
        entry.http1HeadLength = headLength
        entry.http1AnswerGeneration = generation
        return true
    }

    /// FNV-1a of the path bytes, folded onto the slots.
    private static func slot(path: UnsafeBufferPointer<UInt8>) -> Int {
        var h: UInt64 = 0xcbf29ce484222325
        for b in path { h = (h ^ UInt64(b)) &* 0x100000001B3 }
        return Int(truncatingIfNeeded: (h &* 0x9E3779B97F4A7C15) >> 52) & (slotCount - 1)
    }

    /// Fibonacci hashing of the file identity onto the slots.
    private static func slot(device: UInt64, inode: UInt64) -> Int {
        let h = (inode ^ (device &* 0x100000001B3)) &* 0x9E3779B97F4A7C15
        return Int(truncatingIfNeeded: h >> 52) & (slotCount - 1)
    }
}

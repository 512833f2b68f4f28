import Glibc
import SwitchyardHTTP
import SwitchyardOS

/// Serves files from the document root, small unchanged files from the worker's `StaticFileCache`
/// (at most one stat(2) per request: none within the second of the last with the default
/// `server.stat-cache-engine`), others with sendfile(2): index files, MIME types, ETag and
/// Last-Modified validators (304), a single byte range (206/416), 403 for directories without an
/// index, 405 for methods other than GET/HEAD.
///
/// The whole response is produced in `respond()` (the file itself goes out through the
/// connection's output queue), so this is a short-lived value rather than a `RequestHandler`
/// object: no allocation per request.
struct StaticFileHandler {
    let context: RequestContext
    let connection: any ClientExchange

    func respond() {
        let method = context.head.method
        guard method == "GET" || method == "HEAD" else {
            connection.sendError(method == "OPTIONS" ? 200 : 405, extraHeaders: [("Allow", "GET, HEAD, OPTIONS")])
            return
        }
        let settings = context.settings
        let worker = connection.worker
        let isHead = method == "HEAD"
        let simple = worker.server.statCacheEngine == .simple
        // The same context again (a repeated request) within the second its file was trusted in:
        // the path, the exclusion and the cache lookup would give what they gave then.
        if simple, let (entry, second) = context.recentFile, second == worker.loop.wallSeconds {
            respond(entry: entry, fd: -1, isHead: isHead)
            return
        }
        let path = worker.staticPath
        path.set(root: context.root, path: context.physicalPath)
        // One stat(2) of the path per request (symlinks followed, lighttpd's server.follow-symlink
        // default): an unchanged small file is then served from the worker's cache with no
        // open/fstat/close (StaticFileCache documents the validation rule). A path that does not
        // stat would not open either.
        // server.follow-symlink = "disable": one lstat(2) per component below the root, only then.
        let noFollow = !settings.followSymlinks
        if noFollow && SymlinkPolicy.containsSymlink(path.bytes, after: SymlinkPolicy.rootLength(context.root)) {
            connection.sendError(403)
            return
        }
        // server.stat-cache-engine = "simple": a cached file whose stat matched in this second is
        // served again without one (StaticFileCache.recent).
        if simple, let entry = worker.fileCache.recent(path: path, scope: ObjectIdentifier(settings), second: worker.loop.wallSeconds) {
            if isExcluded(path) { connection.sendError(403); return }
            // Not with follow-symlink disabled: its check above runs for every request.
            if !noFollow { context.recentFile = (entry, worker.loop.wallSeconds) }
            respond(entry: entry, fd: -1, isHead: isHead)
            return
        }
        var pst = stat()
        if path.stat(&pst) < 0 {
            connection.sendError(errno == EACCES ? 403 : 404)
            return
        }
        if let entry = cachedFile(path, pst) {
            if isExcluded(path) { connection.sendError(403); return }
            respond(entry: entry, fd: -1, isHead: isHead)
            return
        }
        let kind = pst.st_mode & S_IFMT
        if kind != S_IFREG && kind != S_IFDIR {
            // A FIFO, socket or device is never served (and opening a FIFO would block the worker).
            connection.sendError(403)
            return
        }
        // A miss: open + fstat as without the cache; the descriptor's stat is the one that counts
        // (the path may have changed since the stat). The clock is read before the open: bytes read
        // now are cached only if the file had settled by then.
        var openedAt = timespec()
        clock_gettime(CLOCK_REALTIME, &openedAt)
        var fd = path.open(O_RDONLY | O_CLOEXEC | (noFollow ? O_NOFOLLOW : 0))
        if fd < 0 {
            connection.sendError(errno == EACCES || errno == ELOOP ? 403 : 404)
            return
        }
        var fst = stat()
        fstat(fd, &fst)
        if (fst.st_mode & S_IFMT) == S_IFDIR {
            close(fd)
            if !context.path.hasSuffix("/") {
                // lighttpd redirects a directory without trailing slash.
                let location = context.path + "/" + (context.query.isEmpty ? "" : "?" + context.query)
                connection.sendError(301, extraHeaders: [("Location", location)])
                return
            }
            switch openIndexFile(in: path, openedAt: &openedAt) {
            case nil:
                connection.sendError(403)
                return
            case .cached(let entry)?:
                if isExcluded(path) { connection.sendError(403); return }
                respond(entry: entry, fd: -1, isHead: isHead)
                return
            case .opened(let index, let ist)?:
                fd = index
                fst = ist
            }
        }
        guard (fst.st_mode & S_IFMT) == S_IFREG else { close(fd); connection.sendError(403); return }
        if isExcluded(path) {
            close(fd)
            connection.sendError(403)
            return
        }
        respond(fd: fd, path: path, stat: fst, openedAt: openedAt, isHead: isHead)
    }

    /// The cached file whose plain 200 is `context`'s whole answer, so that the connection can send
    /// the file's kept head and bytes itself (`HTTP1Connection.answerRepeatedStaticRequest`): a GET
    /// or HEAD answered from this file within the second its stat was trusted in (`recentFile`, as
    /// `respond()` takes it above), without `If-*` or `Range` fields, `expire.*` rules or response
    /// headers of its scope. nil: the handler decides.
    static func wholeCachedAnswer(for context: RequestContext, worker: Worker) -> StaticFileEntry? {
        guard context.plainMethod != .other, let (entry, second) = context.recentFile, second == worker.loop.wallSeconds,
              worker.server.statCacheEngine == .simple, entry.body?.count == entry.validator.size, !context.mayBeConditionalOrRanged,
              context.settings.expire.isEmpty, !context.settings.hasResponseHeaders else { return nil }
        return entry
    }

    private enum IndexFile {
        /// Unchanged and cached: no descriptor.
        case cached(StaticFileEntry)
        case opened(Int32, stat)
    }

    /// The cache entry with the bytes of the regular file `st` describes, if it is cached.
    private func cachedFile(_ path: PathBuffer, _ st: stat) -> StaticFileEntry? {
        guard (st.st_mode & S_IFMT) == S_IFREG,
              let entry = connection.worker.fileCache.lookup(path: path, scope: ObjectIdentifier(context.settings), file: st),
              entry.body != nil else { return nil }
        confirmStat(entry)
        return entry
    }

    /// A stat(2) of `entry`'s path just matched it: with the "simple" stat-cache engine it need not
    /// be stat'ed again this second.
    private func confirmStat(_ entry: StaticFileEntry) {
        let worker = connection.worker
        if worker.server.statCacheEngine == .simple { worker.fileCache.confirm(entry, second: worker.loop.wallSeconds) }
    }

    private func isExcluded(_ path: PathBuffer) -> Bool {
        for ext in context.settings.staticExcludeExtensions where path.hasSuffix(ext) { return true }
        return false
    }

    /// The first of the index files that is a regular file in the directory `path` names; `path`
    /// then names it. Each candidate is stat'ed first, so a cached one needs no open.
    private func openIndexFile(in path: PathBuffer, openedAt: inout timespec) -> IndexFile? {
        let directory = path.count
        for index in context.settings.indexFiles {
            path.truncate(to: directory)
            path.appendComponent(index)
            var ist = stat()
            if path.stat(&ist) < 0 || (ist.st_mode & S_IFMT) != S_IFREG { continue }
            if !context.settings.followSymlinks
                && SymlinkPolicy.containsSymlink(path.bytes, after: SymlinkPolicy.rootLength(context.root)) { continue }
            if let entry = cachedFile(path, ist) { return .cached(entry) }
            clock_gettime(CLOCK_REALTIME, &openedAt)
            let fd = path.open(O_RDONLY | O_CLOEXEC)
            if fd < 0 { continue }
            fstat(fd, &ist)
            if (ist.st_mode & S_IFMT) == S_IFREG { return .opened(fd, ist) }
            close(fd)
        }
        return nil
    }

    /// A regular file opened as `fd` (owned): finds or makes its cache entry, and reads a small,
    /// settled file into it (then the descriptor is closed at once), before responding.
    private func respond(fd: Int32, path: PathBuffer, stat fst: stat, openedAt: timespec, isHead: Bool) {
        let settings = context.settings
        let cache = connection.worker.fileCache
        let entry = cache.entry(path: path, scope: ObjectIdentifier(settings), file: fst) {
            let mtime = Int(fst.st_mtim.tv_sec)
            return StaticFileFields(etag: StaticFileFields.etag(inode: UInt64(fst.st_ino), size: Int(fst.st_size), mtime: mtime),
                                    lastModified: HTTPDate.format(mtime),
                                    contentType: settings.mimeTypes.type(for: path.string))
        }
        if entry.body != nil || cache.loadBody(entry, from: fd, openedAt: openedAt) {
            close(fd)
            confirmStat(entry)
            respond(entry: entry, fd: -1, isHead: isHead)
        } else {
            respond(entry: entry, fd: fd, isHead: isHead)
        }
    }

    /// 304 when a validator matches, else 200 or 206 (single range) or 416. The body comes from the
    /// entry's cached bytes when it has them, else from `fd` with sendfile(2). Takes ownership of
    /// `fd` (-1 when the bytes are cached).
    private func respond(entry: StaticFileEntry, fd: Int32, isHead: Bool) {
        let size = entry.validator.size
        let mtime = entry.validator.mtime
        let fields = entry.fields
        let headers = context.head.headers

        let expire = context.settings.expire.isEmpty ? nil
            : context.settings.expire.rule(path: context.path, contentType: fields.contentType)
        let now = expire == nil ? 0 : Int(time(nil))

        let conditional = context.mayBeConditionalOrRanged
        if conditional && isNotModified(headers, fields: fields, mtime: mtime) {
            if fd >= 0 { close(fd) }
            connection.sendHead(status: 304, framing: .none) { out in
                out.append(fields.validators)
                expire?.appendFields(now: now, mtime: mtime, to: out)
            }
            connection.finishResponse()
            return
        }

        var offset = 0
        var length = size
        var contentRange: String?
        if conditional, let range = headers.first("Range"), ifRangeAllows(headers, etag: fields.etag, lastModified: fields.lastModified) {
            switch RangeHeader.parse(range, fileSize: size) {
            case .none:
                break
            case .satisfiable(let start, let end):
                offset = start
                length = end - start + 1
                contentRange = "bytes \(start)-\(end)/\(size)"
            case .unsatisfiable:
                if fd >= 0 { close(fd) }
                connection.sendError(416, extraHeaders: [("Content-Range", "bytes */\(size)")])
                return
            }
        }
        if contentRange == nil && expire == nil, let body = entry.body {
            if fd >= 0 { close(fd) }
            connection.sendCachedFileAnswer(entry, body: body, isHead: isHead)
            connection.finishResponse()
            return
        }
        let extra: ((ByteBuffer) -> Void)? = contentRange == nil && expire == nil ? nil : { out in
            if let contentRange { HeaderName.appendField("Content-Range", contentRange, to: out) }
            expire?.appendFields(now: now, mtime: mtime, to: out)
        }
        connection.sendStaticHead(status: contentRange == nil ? 200 : 206, framing: .length(length), fields: fields, extra: extra)
        if isHead {
            if fd >= 0 { close(fd) }
        } else if let body = entry.body {
            connection.sendCachedFile(body, offset: offset, count: length)
        } else {
            connection.sendFile(fd: fd, offset: offset, count: length)
        }
        connection.finishResponse()
    }

    /// If-None-Match decides when present; otherwise If-Modified-Since (RFC 9110 13.2.2).
    private func isNotModified(_ headers: HTTPHeaders, fields: StaticFileFields, mtime: Int) -> Bool {
        if let inm = headers.first("If-None-Match") {
            return StaticFileHandler.etagMatches(inm, fields.etag)
        }
        if let ims = headers.first("If-Modified-Since"), let t = HTTPDate.parse(ims) {
            return mtime <= t
        }
        return false
    }

    private func ifRangeAllows(_ headers: HTTPHeaders, etag: String, lastModified: String) -> Bool {
        guard let ifRange = headers.first("If-Range") else { return true }
        return ifRange == etag || ifRange == lastModified
    }

    static func etagMatches(_ header: String, _ etag: String) -> Bool {
        for part in header.split(separator: ",") {
            var t = part.trimmingCharacters(in: " \t")
            if t == "*" { return true }
            if t.hasPrefix("W/") { t = String(t.dropFirst(2)) }
            if t == etag { return true }
        }
        return false
    }

    /// Document root + normalised path; the path never contains ".." (RequestPath.normalize).
    static func join(_ root: String, _ path: String) -> String {
        if root.hasSuffix("/") { return root + path.dropFirst() }
        return root + path
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> String {
        var s = self[...]
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String { self[...].trimmingCharacters(in: set) }
}

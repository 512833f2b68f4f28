import Glibc
import SwitchyardHTTP

/// Serves files from the document root with sendfile(2): index files, MIME types, ETag and
/// Last-Modified validators (304), a single byte range (206/416), 403 for directories without an
/// index, 405 for methods other than GET/HEAD.
///
/// The whole response is produced in `respond()` (the file itself goes out through the
/// connection's output queue), so this is a short-lived value rather than a `RequestHandler`
/// object: no allocation per request.
struct StaticFileHandler {
    let context: RequestContext
    let connection: HTTPConnection

    func respond() {
        let method = context.head.method
        guard method == "GET" || method == "HEAD" else {
            connection.sendError(method == "OPTIONS" ? 200 : 405, extraHeaders: [("Allow", "GET, HEAD, OPTIONS")])
            return
        }
        let settings = context.settings
        let path = connection.worker.staticPath
        path.set(root: settings.documentRoot, path: context.path)
        // open + fstat instead of stat + open: one lookup of the path per request. Symlinks are
        // followed (lighttpd's server.follow-symlink default).
        var fd = path.open(O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            connection.sendError(errno == EACCES ? 403 : 404)
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
            guard let index = openIndexFile(in: path, stat: &fst) else { connection.sendError(403); return }
            fd = index
        }
        guard (fst.st_mode & S_IFMT) == S_IFREG else { close(fd); connection.sendError(403); return }
        for ext in settings.staticExcludeExtensions where path.hasSuffix(ext) {
            close(fd)
            connection.sendError(403)
            return
        }
        respond(fd: fd, path: path, stat: fst, isHead: method == "HEAD")
    }

    /// The first of the index files that is a regular file in the directory `path` names; `path`
    /// and `st` then describe it.
    private func openIndexFile(in path: PathBuffer, stat st: inout stat) -> Int32? {
        let directory = path.count
        for index in context.settings.indexFiles {
            path.truncate(to: directory)
            path.appendComponent(index)
            let fd = path.open(O_RDONLY | O_CLOEXEC)
            if fd < 0 { continue }
            var ist = stat()
            fstat(fd, &ist)
            if (ist.st_mode & S_IFMT) == S_IFREG {
                st = ist
                return fd
            }
            close(fd)
        }
        return nil
    }

    /// 304 when a validator matches, else 200 or 206 (single range) or 416, with sendfile(2) for
    /// the body. Takes ownership of `fd`.
    private func respond(fd: Int32, path: PathBuffer, stat fst: stat, isHead: Bool) {
        let size = Int(fst.st_size)
        let mtime = Int(fst.st_mtim.tv_sec)
        let settings = context.settings
        let fields = connection.worker.fileValidators.lookup(path: path, scope: ObjectIdentifier(settings), file: fst) {
            StaticFileFields(etag: StaticFileFields.etag(inode: UInt64(fst.st_ino), size: size, mtime: mtime),
                             lastModified: HTTPDate.format(mtime),
                             contentType: settings.mimeTypes.type(for: path.string))
        }
        let headers = context.head.headers

        if isNotModified(headers, fields: fields, mtime: mtime) {
            close(fd)
            connection.sendHead(status: 304, framing: .none) { $0.append(fields.validators) }
            connection.finishResponse()
            return
        }

        var offset = 0
        var length = size
        var contentRange: String?
        if let range = headers.first("Range"), ifRangeAllows(headers, etag: fields.etag, lastModified: fields.lastModified) {
            switch RangeHeader.parse(range, fileSize: size) {
            case .none:
                break
            case .satisfiable(let start, let end):
                offset = start
                length = end - start + 1
                contentRange = "bytes \(start)-\(end)/\(size)"
            case .unsatisfiable:
                close(fd)
                connection.sendError(416, extraHeaders: [("Content-Range", "bytes */\(size)")])
                return
            }
        }
        connection.sendHead(status: contentRange == nil ? 200 : 206, framing: .length(length)) { out in
            out.append(fields.full)
            if let contentRange { HeaderName.appendField("Content-Range", contentRange, to: out) }
        }
        if isHead {
            close(fd)
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

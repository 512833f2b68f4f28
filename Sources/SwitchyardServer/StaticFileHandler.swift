import Glibc
import SwitchyardHTTP

/// Serves files from the document root with sendfile(2): index files, MIME types, ETag and
/// Last-Modified validators (304), a single byte range (206/416), 403 for directories without an
/// index, 405 for methods other than GET/HEAD.
final class StaticFileHandler: RequestHandler {
    let context: RequestContext
    unowned let connection: HTTPConnection

    init(context: RequestContext, connection: HTTPConnection) {
        self.context = context
        self.connection = connection
    }

    func start() {
        let method = context.head.method
        guard method == "GET" || method == "HEAD" else {
            connection.sendError(method == "OPTIONS" ? 200 : 405, extraHeaders: [("Allow", "GET, HEAD, OPTIONS")])
            return
        }
        let root = context.settings.documentRoot
        var fsPath = StaticFileHandler.join(root, context.path)
        // open + fstat instead of stat + open: one lookup of the path per request. Symlinks are
        // followed (lighttpd's server.follow-symlink default).
        var fd = open(fsPath, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            connection.sendError(errno == EACCES ? 403 : 404)
            return
        }
        var fst = stat()
        fstat(fd, &fst)
        if (fst.st_mode & S_IFMT) == S_IFDIR {
            close(fd)
            fd = -1
            if !context.path.hasSuffix("/") {
                // lighttpd redirects a directory without trailing slash.
                let location = context.path + "/" + (context.query.isEmpty ? "" : "?" + context.query)
                connection.sendError(301, extraHeaders: [("Location", location)])
                return
            }
            for index in context.settings.indexFiles {
                let candidate = fsPath + (fsPath.hasSuffix("/") ? "" : "/") + index
                let ifd = open(candidate, O_RDONLY | O_CLOEXEC)
                if ifd < 0 { continue }
                var ist = stat()
                fstat(ifd, &ist)
                if (ist.st_mode & S_IFMT) == S_IFREG {
                    fsPath = candidate
                    fst = ist
                    fd = ifd
                    break
                }
                close(ifd)
            }
            if fd < 0 { connection.sendError(403); return }
        }
        guard (fst.st_mode & S_IFMT) == S_IFREG else { close(fd); connection.sendError(403); return }
        for ext in context.settings.staticExcludeExtensions where fsPath.hasSuffix(ext) {
            close(fd)
            connection.sendError(403)
            return
        }
        let size = Int(fst.st_size)
        let mtime = Int(fst.st_mtim.tv_sec)
        let validators = connection.worker.fileValidators.lookup(path: fsPath, scope: ObjectIdentifier(context.settings), inode: UInt64(fst.st_ino), size: size, mtime: mtime) {
            (etag: "\"\(String(UInt64(fst.st_ino), radix: 16))-\(String(size, radix: 16))-\(String(mtime, radix: 16))\"",
             lastModified: HTTPDate.format(mtime),
             contentType: context.settings.mimeTypes.type(for: fsPath))
        }
        let etag = validators.etag
        let lastModified = validators.lastModified
        let headers = context.head.headers

        var head = HTTPResponseHead(status: 200)
        head.headers.add(name: "Content-Type", value: validators.contentType)
        head.headers.add(name: "ETag", value: etag)
        head.headers.add(name: "Last-Modified", value: lastModified)
        head.headers.add(name: "Accept-Ranges", value: "bytes")

        if let inm = headers.first("If-None-Match") {
            if StaticFileHandler.etagMatches(inm, etag) {
                close(fd)
                head.status = 304
                head.headers.remove(name: "Content-Type")
                head.headers.remove(name: "Accept-Ranges")
                connection.sendHead(head, framing: .none)
                connection.finishResponse()
                return
            }
        } else if let ims = headers.first("If-Modified-Since"), let t = HTTPDate.parse(ims), mtime <= t {
            close(fd)
            head.status = 304
            head.headers.remove(name: "Content-Type")
            head.headers.remove(name: "Accept-Ranges")
            connection.sendHead(head, framing: .none)
            connection.finishResponse()
            return
        }

        var offset = 0
        var length = size
        if let range = headers.first("Range"), ifRangeAllows(headers, etag: etag, lastModified: lastModified) {
            switch RangeHeader.parse(range, fileSize: size) {
            case .none:
                break
            case .satisfiable(let start, let end):
                offset = start
                length = end - start + 1
                head.status = 206
                head.headers.add(name: "Content-Range", value: "bytes \(start)-\(end)/\(size)")
            case .unsatisfiable:
                close(fd)
                connection.sendError(416, extraHeaders: [("Content-Range", "bytes */\(size)")])
                return
            }
        }
        connection.sendHead(head, framing: .length(length))
        if method == "HEAD" {
            close(fd)
        } else {
            connection.sendFile(fd: fd, offset: offset, count: length)
        }
        connection.finishResponse()
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

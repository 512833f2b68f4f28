/// Per-worker cache of the strings a static response needs (ETag, Last-Modified, Content-Type),
/// keyed by path and validated against the file's inode, size and mtime on every use, so a changed
/// file is never served with stale validators. Saves the formatting work on hot small files.
final class FileValidatorCache {
    struct Entry {
        var inode: UInt64
        var size: Int
        var mtime: Int
        var scope: ObjectIdentifier
        var values: (etag: String, lastModified: String, contentType: String)
    }
    private var entries: [String: Entry] = [:]
    private let limit = 4096

    /// `scope` identifies the request settings (a conditional may assign another MIME type).
    func lookup(path: String, scope: ObjectIdentifier, inode: UInt64, size: Int, mtime: Int,
                make: () -> (etag: String, lastModified: String, contentType: String)) -> (etag: String, lastModified: String, contentType: String) {
        if let e = entries[path], e.inode == inode, e.size == size, e.mtime == mtime, e.scope == scope { return e.values }
        let values = make()
        if entries.count >= limit { entries.removeAll(keepingCapacity: true) }
        entries[path] = Entry(inode: inode, size: size, mtime: mtime, scope: scope, values: values)
        return values
    }
}

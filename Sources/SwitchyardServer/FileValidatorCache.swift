import Glibc
import SwitchyardHTTP

/// The header lines a static response sends for one version of one file, formatted once: on a hot
/// small file the response head is then two bulk copies instead of four fields formatted, sanitised
/// and copied per request.
final class StaticFileFields {
    let etag: String
    let lastModified: String
    /// Content-Type, ETag, Last-Modified and Accept-Ranges lines (200 and 206 responses).
    let full: [UInt8]
    /// ETag and Last-Modified lines (304 responses).
    let validators: [UInt8]

    init(etag: String, lastModified: String, contentType: String) {
        self.etag = etag
        self.lastModified = lastModified
        let validators = HeaderName.fieldLine("ETag", etag) + HeaderName.fieldLine("Last-Modified", lastModified)
        self.validators = validators
        self.full = HeaderName.fieldLine("Content-Type", contentType) + validators
            + HeaderName.fieldLine("Accept-Ranges", "bytes")
    }

    /// The strong validator lighttpd uses: inode, size and mtime in hex.
    static func etag(inode: UInt64, size: Int, mtime: Int) -> String {
        "\"\(String(inode, radix: 16))-\(String(size, radix: 16))-\(String(mtime, radix: 16))\""
    }
}

/// Per-worker cache of the header lines a static response needs (ETag, Last-Modified,
/// Content-Type), checked against the path, the file's device, inode, size and mtime, and the
/// request settings on every use, so a changed file is never served with stale validators.
///
/// Direct-mapped by inode: finding an entry costs a multiply instead of hashing the path, and a
/// collision just replaces the older entry (the fields are rebuilt on the next miss).
final class FileValidatorCache {
    private struct Entry {
        var device: UInt64
        var inode: UInt64
        var size: Int
        var mtime: Int
        var scope: ObjectIdentifier
        var path: [UInt8]
        var fields: StaticFileFields
    }
    private static let slotCount = 1024
    private var slots = [Entry?](repeating: nil, count: FileValidatorCache.slotCount)

    /// `scope` identifies the request settings (a conditional may assign another MIME type);
    /// `make` builds the fields for a miss.
    func lookup(path: PathBuffer, scope: ObjectIdentifier, file st: stat, make: () -> StaticFileFields) -> StaticFileFields {
        let device = UInt64(st.st_dev), inode = UInt64(st.st_ino)
        let size = Int(st.st_size), mtime = Int(st.st_mtim.tv_sec)
        let slot = Self.slot(device: device, inode: inode)
        if let e = slots[slot], e.inode == inode, e.device == device, e.size == size, e.mtime == mtime, e.scope == scope,
           path.equals(e.path) {
            return e.fields
        }
        let fields = make()
        slots[slot] = Entry(device: device, inode: inode, size: size, mtime: mtime, scope: scope, path: Array(path.bytes), fields: fields)
        return fields
    }

    /// Fibonacci hashing of the file identity onto the slots.
    private static func slot(device: UInt64, inode: UInt64) -> Int {
        let h = (inode ^ (device &* 0x100000001B3)) &* 0x9E3779B97F4A7C15
        return Int(truncatingIfNeeded: h >> 54) & (slotCount - 1)
    }
}

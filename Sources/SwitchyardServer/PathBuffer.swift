import Glibc

/// A file-system path assembled in reused storage (document root + request path, maybe + an index
/// file name) and opened from there. Static requests need the path only as bytes for stat(2),
/// open(2) and to check a cache entry, so building, NUL-terminating and hashing a String per
/// request is avoided; `string` makes one when it is really needed (MIME type of a new file).
final class PathBuffer {
    private var storage: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    /// Length of the path, without the NUL that is always kept after it.
    private(set) var count = 0

    init(capacity: Int = 256) {
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
        storage[0] = 0
    }

    deinit { storage.deallocate() }

    /// The path bytes (no NUL), valid until the next change.
    var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: storage, count: count) }

    var string: String { String(decoding: bytes, as: UTF8.self) }

    /// Document root + normalised request path, joined like `StaticFileHandler.join`.
    func set(root: String, path: String) {
        count = 0
        append(root)
        append(path, droppingFirst: count > 0 && storage[count - 1] == UInt8(ascii: "/"))
    }

    /// Back to an earlier length (e.g. the directory before trying another index file).
    func truncate(to length: Int) {
        precondition(length <= count)
        count = length
        storage[count] = 0
    }

    /// Appends "/name" (no second slash when the path already ends in one).
    func appendComponent(_ name: String) {
        if count == 0 || storage[count - 1] != UInt8(ascii: "/") {
            var slash = UInt8(ascii: "/")
            withUnsafePointer(to: &slash) { append(bytes: UnsafeBufferPointer(start: $0, count: 1)) }
        }
        append(name)
    }

    /// open(2) of the path; -1 with errno set on failure.
    func open(_ flags: Int32) -> Int32 {
        storage.withMemoryRebound(to: CChar.self, capacity: count + 1) { Glibc.open($0, flags) }
    }

    /// stat(2) of the path (symlinks followed, like `open`); -1 with errno set on failure.
    func stat(_ st: inout Glibc.stat) -> Int32 {
        storage.withMemoryRebound(to: CChar.self, capacity: count + 1) { statPath($0, &st) }
    }

    func hasSuffix(_ suffix: String) -> Bool {
        let s = suffix.utf8
        guard s.count <= count else { return false }
        return UnsafeBufferPointer(rebasing: bytes[(count - s.count)...]).elementsEqual(s)
    }

    func equals(_ other: [UInt8]) -> Bool {
        other.count == count && other.withUnsafeBufferPointer { memcmp($0.baseAddress!, storage, count) == 0 }
    }

    private func append(_ s: String, droppingFirst: Bool = false) {
        var s = s
        s.withUTF8 { utf8 in
            append(bytes: droppingFirst ? UnsafeBufferPointer(rebasing: utf8.dropFirst()) : utf8)
        }
    }

    /// Copies the bytes in and keeps the NUL terminator after them.
    private func append(bytes new: UnsafeBufferPointer<UInt8>) {
        if count + new.count + 1 > capacity { grow(to: count + new.count + 1) }
        if let base = new.baseAddress, new.count > 0 { (storage + count).update(from: base, count: new.count) }
        count += new.count
        storage[count] = 0
    }

    private func grow(to minimum: Int) {
        var newCapacity = capacity * 2
        while newCapacity < minimum { newCapacity *= 2 }
        let newStorage = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newStorage.update(from: storage, count: count + 1)
        storage.deallocate()
        storage = newStorage
        capacity = newCapacity
    }
}

/// stat(2) by a name that the `PathBuffer.stat` method does not shadow.
private func statPath(_ path: UnsafePointer<CChar>, _ st: UnsafeMutablePointer<stat>) -> Int32 { stat(path, st) }

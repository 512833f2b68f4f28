import Glibc

/// A growable byte queue with separate read and write cursors, reused for the life of a connection
/// so that steady-state I/O allocates nothing. Reads from a file descriptor land directly in its
/// spare capacity; consumers look at the readable region through a raw pointer.
public final class ByteBuffer {
    public private(set) var storage: UnsafeMutableRawPointer
    public private(set) var capacity: Int
    public private(set) var readIndex = 0
    public private(set) var writeIndex = 0

    /// `capacity` 0: no heap block until the first bytes (`emptyStorage`); else at least 64.
    public init(capacity: Int = 16 * 1024) {
        self.capacity = capacity <= 0 ? 0 : max(capacity, 64)
        self.storage = capacity <= 0 ? ByteBuffer.emptyStorage : UnsafeMutableRawPointer.allocate(byteCount: self.capacity, alignment: 16)
    }

    deinit { if capacity > 0 { storage.deallocate() } }

    /// Where every buffer shrunk to nothing points (capacity 0, never written: `reserve` allocates
    /// first). An idle connection's buffers then hold no heap block at all: a small block kept
    /// per buffer would keep a page of freed handshake memory resident.
    nonisolated(unsafe) private static let emptyStorage = UnsafeMutableRawPointer.allocate(byteCount: 16, alignment: 16)

    public var readableBytes: Int { writeIndex - readIndex }
    public var isEmpty: Bool { readIndex == writeIndex }
    public var readPointer: UnsafeMutableRawPointer { storage + readIndex }

    /// The readable bytes as a buffer pointer, valid until the next mutation.
    public var readable: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage + readIndex, count: writeIndex - readIndex)
    }

    public func consume(_ count: Int) {
        precondition(count <= readableBytes)
        readIndex += count
        if readIndex == writeIndex { readIndex = 0; writeIndex = 0 }
    }

    public func clear() { readIndex = 0; writeIndex = 0 }

    /// Makes room for at least `count` more bytes, compacting before growing.
    public func reserve(_ count: Int) {
        if capacity - writeIndex >= count { return }
        if readIndex > 0 {
            let n = readableBytes
            if n > 0 { memmove(storage, storage + readIndex, n) }
            readIndex = 0
            writeIndex = n
            if capacity - writeIndex >= count { return }
        }
        // A buffer shrunk to nothing (an idle WebSocket's) regrows in one step, to what the
        // bytes need: a quiet WebSocket's small message must not cost it a KiB per buffer until
        // the next idle shrink (a thousand of them keep that much resident between messages).
        // Any other small buffer grows to 1 KiB at once, so piecewise appends do not regrow it.
        var newCapacity = capacity == 0 ? ByteBuffer.smallestGrowth : max(capacity, 1024)
        while newCapacity - writeIndex < count { newCapacity *= 2 }
        let newStorage = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        newStorage.copyMemory(from: storage, byteCount: writeIndex)
        if capacity > 0 { storage.deallocate() }
        storage = newStorage
        capacity = newCapacity
    }

    /// What a buffer shrunk to nothing (capacity 0) grows to at least.
    public static let smallestGrowth = 128

    public var writableBytes: Int { capacity - writeIndex }
    public var writePointer: UnsafeMutableRawPointer { storage + writeIndex }
    public func commit(_ count: Int) { writeIndex += count }

    /// Lets an encoder write straight into spare capacity: `write` gets room for `count` bytes
    /// and returns how many it filled, which become readable. No intermediate copy; inlinable so
    /// that the encoder's work lands in the caller without a closure call.
    @inlinable
    public func append(writing count: Int, _ write: (UnsafeMutableRawBufferPointer) -> Int) {
        reserve(count)
        let written = write(UnsafeMutableRawBufferPointer(start: writePointer, count: count))
        precondition(written >= 0 && written <= count)
        commit(written)
    }

    public func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        reserve(bytes.count)
        (storage + writeIndex).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        writeIndex += bytes.count
    }

    public func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    public func append(_ string: String) {
        var s = string
        s.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// Reads once from `fd` into spare capacity (at least `minimumSpace` bytes are made available).
    public func read(from fd: Int32, minimumSpace: Int = 4096, maximum: Int = Int.max) -> IOResult {
        reserve(minimumSpace)
        let r = Syscall.read(fd, storage + writeIndex, min(capacity - writeIndex, maximum))
        if case .bytes(let n) = r { writeIndex += n }
        return r
    }

    /// Writes the readable bytes to `fd` once; consumes what was written.
    public func write(to fd: Int32) -> IOResult {
        guard readableBytes > 0 else { return .bytes(0) }
        let r = Syscall.send(fd, storage + readIndex, readableBytes)
        if case .bytes(let n) = r { consume(n) }
        return r
    }

    /// Shrinks an idle buffer that grew for a burst back to `target` bytes (0: no heap block at
    /// all, see `emptyStorage`), so idle connections stay small.
    /// Returns the bytes given back (0 when the buffer was not idle or already small).
    @discardableResult
    public func shrinkIfIdle(to target: Int) -> Int {
        guard readableBytes == 0, capacity > target else { return 0 }
        let released = capacity - target
        storage.deallocate()
        capacity = target
        storage = target == 0 ? ByteBuffer.emptyStorage : UnsafeMutableRawPointer.allocate(byteCount: target, alignment: 16)
        readIndex = 0
        writeIndex = 0
        return released
    }
}

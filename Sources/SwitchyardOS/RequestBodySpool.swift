import Glibc
import CSwitchyardShims

/// A request body collected whole before it is sent on, for backends that must be told its length
/// first (SCGI and uwsgi announce CONTENT_LENGTH in their header block) while the client did not
/// say it (HTTP/1.1 chunked, an HTTP/2 request without content-length). lighttpd does the same.
///
/// Memory stays bounded: the first `memoryLimit` bytes are kept in memory; a longer body moves to
/// a temporary file without a name (O_TMPFILE, else created and unlinked at once) in the first of
/// `directories` that takes one (lighttpd's `server.upload-dirs`), so nothing is left on disk
/// whatever happens to the request: the file goes with its descriptor (`close`, or deinit).
/// Reading back goes through one scratch buffer of `chunkSize` bytes; the file is never read whole.
public final class RequestBodySpool {
    public let memoryLimit: Int
    public let chunkSize: Int
    private let directories: [String]
    private var memory: [UInt8] = []
    private var fd: Int32 = -1
    private var scratch: [UInt8] = []
    /// Bytes collected.
    public private(set) var count = 0
    /// Bytes already handed out by `nextChunk`.
    public private(set) var readOffset = 0
    private var closed = false

    public init(directories: [String], memoryLimit: Int = 64 * 1024, chunkSize: Int = 64 * 1024) {
        self.directories = directories
        self.memoryLimit = memoryLimit
        self.chunkSize = max(1, chunkSize)
    }

    deinit { close() }

    /// The body went to a temporary file.
    public var isOnDisk: Bool { fd >= 0 }
    /// Bytes not yet handed out.
    public var remaining: Int { count - readOffset }

    /// Adds body bytes; throws when no temporary file can be made or written (the disk is full).
    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard !closed else { throw SystemError("spool", errno: EBADF, context: "request body spool already closed") }
        guard bytes.count > 0 else { return }
        if fd < 0 && count + bytes.count <= memoryLimit {
            memory.append(contentsOf: bytes)
            count += bytes.count
            return
        }
        if fd < 0 { try spill() }
        try writeAll(bytes, at: count)
        count += bytes.count
    }

    /// Hands the next piece of at most `chunkSize` bytes to `body` and moves past it; false when
    /// everything was handed out already. Throws when the temporary file cannot be read.
    @discardableResult
    public func nextChunk(_ body: (UnsafeRawBufferPointer) -> Void) throws -> Bool {
        let n = min(chunkSize, remaining)
        guard n > 0 else { return false }
        if fd < 0 {
            memory.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[readOffset..<readOffset + n])) }
            readOffset += n
            return true
        }
        if scratch.count < n { scratch = [UInt8](repeating: 0, count: chunkSize) }
        let got = try scratch.withUnsafeMutableBytes { buf -> Int in
            var done = 0
            while done < n {
                let r = pread(fd, buf.baseAddress! + done, n - done, off_t(readOffset + done))
                if r < 0 && errno == EINTR { continue }
                if r < 0 { throw SystemError("pread", context: "request body spool") }
                if r == 0 { throw SystemError("pread", errno: EIO, context: "request body spool ended early") }
                done += r
            }
            return done
        }
        scratch.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[..<got])) }
        readOffset += got
        return true
    }

    /// Lets go of the memory and the file (the file vanishes with its descriptor).
    public func close() {
        closed = true
        memory = []
        scratch = []
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }

    /// Moves what is in memory to a new temporary file.
    private func spill() throws {
        var lastError = SystemError("open", errno: ENOENT, context: "no server.upload-dirs directory")
        for dir in directories where !dir.isEmpty {
            let f = sy_open_unnamed_tmpfile(dir)
            if f >= 0 { fd = f; break }
            lastError = SystemError("open", context: "temporary file in \(dir)")
        }
        guard fd >= 0 else { throw lastError }
        try memory.withUnsafeBytes { try writeAll($0, at: 0) }
        memory = []
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        var done = 0
        while done < bytes.count {
            let r = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if r < 0 && errno == EINTR { continue }
            if r < 0 { throw SystemError("pwrite", context: "request body spool") }
            done += r
        }
    }
}

import Glibc

/// Bytes waiting for the peer (the write queue of a `BufferedStream` and of the client
/// connection), optionally followed by a file region sent with sendfile(2) or by a
/// region of a cached file's bytes sent with sendmsg(2) (shared with the cache, not copied).
/// The connection starts the next pipelined response only after that trailing region is gone, so
/// a single trailing slot keeps responses in order without a segment list.
public final class OutputQueue {
    public let bytes: ByteBuffer

    public init(capacity: Int = 4096) { bytes = ByteBuffer(capacity: capacity) }
    private(set) var fileFD: Int32 = -1
    private(set) var fileOffset = 0
    private(set) var fileRemaining = 0
    /// A cached file's bytes still to send, from `memoryOffset` (empty when there are none).
    private var memory: [UInt8] = []
    private var memoryOffset = 0
    private var memoryRemaining = 0
    /// Total bytes handed to the kernel (for the access log).
    public private(set) var bytesWritten = 0

    public var isEmpty: Bool { bytes.isEmpty && fileRemaining == 0 && memoryRemaining == 0 }

    /// Counts bytes the stream sent from its caller's buffer while the queue was empty.
    func countSentDirectly(_ n: Int) { bytesWritten += n }
    public var backlog: Int { bytes.readableBytes + fileRemaining + memoryRemaining }
    /// A trailing file or cached-bytes region is still queued.
    public var hasFile: Bool { fileFD >= 0 || memoryRemaining > 0 }

    /// Files up to this size are copied into the byte queue instead of being sent with sendfile(2).
    /// Small enough that head + body stay within the 16 KiB the queue keeps between bursts (see
    /// `flush`), so copying never makes it grow and shrink per response.
    public static let copyLimit = 8 * 1024

    /// Queues `count` bytes of the file from `offset`; takes ownership of `fd`. A small region is
    /// read right away (pread) behind the bytes already queued, so the response head and body leave
    /// in one send instead of a send plus a sendfile, as lighttpd does for small files. If the file
    /// turns out shorter than promised, the rest goes the sendfile way, which reports that.
    public func appendFile(fd: Int32, offset: Int, count: Int) {
        precondition(fileFD < 0)
        fileFD = fd
        fileOffset = offset
        fileRemaining = count
        if count > 0 && count <= OutputQueue.copyLimit { copyFileRegion() }
        if fileRemaining == 0 { closeFile() }
    }

    /// Queues `count` bytes of `storage` (a cached file) from `offset`. Up to `copyLimit` they are
    /// copied behind the queued bytes; a larger region is kept by reference and leaves together
    /// with the queued bytes in one sendmsg(2) (gather write).
    public func appendBytes(of storage: [UInt8], offset: Int, count: Int) {
        precondition(!hasFile && offset >= 0 && count >= 0 && offset + count <= storage.count)
        if count <= OutputQueue.copyLimit {
            storage.withUnsafeBytes { bytes.append(UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + count)])) }
            return
        }
        memory = storage
        memoryOffset = offset
        memoryRemaining = count
    }

    private func copyFileRegion() {
        bytes.reserve(fileRemaining)
        while fileRemaining > 0 {
            let n = pread(fileFD, bytes.writePointer, fileRemaining, off_t(fileOffset))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return }
            bytes.commit(n)
            fileOffset += n
            fileRemaining -= n
        }
    }

    private func closeFile() {
        if fileFD >= 0 { close(fileFD) }
        fileFD = -1
        fileRemaining = 0
    }

    /// Writes as much as the transport takes. Returns .wouldBlock when output interest is needed,
    /// .bytes(n) when everything queued is gone, .error on a dead peer. A trailing file region
    /// goes with sendfile(2) where the transport has a kernel path, else through user space in
    /// `fileChunk` pieces.
    public func flush(to transport: ByteTransport) -> IOResult {
        var total = 0
        while true {
            if memoryRemaining > 0 {
                let r = memory.withUnsafeBytes { m in
                    transport.send(bytes.readable, UnsafeRawBufferPointer(rebasing: m[memoryOffset..<(memoryOffset + memoryRemaining)]),
                                   more: false)
                }
                guard case .bytes(let n) = r, n > 0 else { return failure(r) }
                let fromBytes = min(n, bytes.readableBytes)
                if fromBytes > 0 { bytes.consume(fromBytes) }
                memoryOffset += n - fromBytes
                memoryRemaining -= n - fromBytes
                total += n
                bytesWritten += n
                if memoryRemaining == 0 { memory = [] }
                continue
            }
            if !bytes.isEmpty {
                let r = transport.send(bytes.readable, UnsafeRawBufferPointer(start: nil, count: 0), more: fileRemaining > 0)
                guard case .bytes(let n) = r, n > 0 else { return failure(r) }
                bytes.consume(n)
                total += n
                bytesWritten += n
                continue
            }
            guard fileRemaining > 0 else { break }
            if let kernel = transport.kernelPath {
                var off = fileOffset
                switch kernel.sendFile(fileFD, offset: &off, count: min(fileRemaining, 1 << 30)) {
                case .bytes(let n):
                    fileOffset = off
                    fileRemaining -= n
                    total += n
                    bytesWritten += n
                case .wouldBlock:
                    return .wouldBlock
                case .eof:
                    // File shrank under us: the promised length cannot be delivered; the peer must not wait.
                    closeFile()
                    return .error(EIO)
                case .error(let e):
                    closeFile()
                    return .error(e)
                }
            } else if !readFileChunk() {
                closeFile()
                return .error(EIO)
            }
        }
        closeFile()
        bytes.shrinkIfIdle(to: 16 * 1024)
        return .bytes(total)
    }

    /// A piece of the file region for a transport without sendfile: read behind the (empty) byte queue.
    private static let fileChunk = 64 * 1024
    private func readFileChunk() -> Bool {
        let want = min(fileRemaining, OutputQueue.fileChunk)
        bytes.reserve(want)
        while true {
            let n = pread(fileFD, bytes.writePointer, want, off_t(fileOffset))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            bytes.commit(n)
            fileOffset += n
            fileRemaining -= n
            return true
        }
    }

    private func failure(_ r: IOResult) -> IOResult {
        switch r {
        case .wouldBlock: return .wouldBlock
        case .error(let e): return .error(e)
        case .bytes, .eof: return .error(EPIPE)   // a send that moved nothing: the peer is gone
        }
    }

    public func discard() {
        bytes.clear()
        memory = []
        memoryRemaining = 0
        closeFile()
    }

    public func resetCounter() { bytesWritten = 0 }
}

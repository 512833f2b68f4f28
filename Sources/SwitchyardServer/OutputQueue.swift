import Glibc
import SwitchyardOS

/// Bytes waiting for the client, optionally followed by a file region sent with sendfile(2).
/// The connection starts the next pipelined response only after the file region is gone, so a
/// single trailing file slot keeps responses in order without a segment list.
final class OutputQueue {
    let bytes = ByteBuffer(capacity: 4096)
    private(set) var fileFD: Int32 = -1
    private(set) var fileOffset = 0
    private(set) var fileRemaining = 0
    /// Total bytes handed to the kernel (for the access log).
    private(set) var bytesWritten = 0

    var isEmpty: Bool { bytes.isEmpty && fileRemaining == 0 }
    var backlog: Int { bytes.readableBytes + fileRemaining }
    var hasFile: Bool { fileFD >= 0 }

    /// Files up to this size are copied into the byte queue instead of being sent with sendfile(2).
    /// Small enough that head + body stay within the 16 KiB the queue keeps between bursts (see
    /// `flush`), so copying never makes it grow and shrink per response.
    static let copyLimit = 8 * 1024

    /// Queues `count` bytes of the file from `offset`; takes ownership of `fd`. A small region is
    /// read right away (pread) behind the bytes already queued, so the response head and body leave
    /// in one send instead of a send plus a sendfile, as lighttpd does for small files. If the file
    /// turns out shorter than promised, the rest goes the sendfile way, which reports that.
    func appendFile(fd: Int32, offset: Int, count: Int) {
        precondition(fileFD < 0)
        fileFD = fd
        fileOffset = offset
        fileRemaining = count
        if count > 0 && count <= OutputQueue.copyLimit { copyFileRegion() }
        if fileRemaining == 0 { closeFile() }
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

    /// Writes as much as the socket takes. Returns .wouldBlock when output interest is needed,
    /// .bytes(n) when everything queued is gone, .error on a dead peer.
    func flush(to fd: Int32) -> IOResult {
        var total = 0
        while !bytes.isEmpty {
            let flags = Int32(MSG_NOSIGNAL) | (fileRemaining > 0 ? Int32(MSG_MORE) : 0)
            let n = send(fd, bytes.readPointer, bytes.readableBytes, flags)
            if n > 0 {
                bytes.consume(n)
                total += n
                bytesWritten += n
                continue
            }
            let e = errno
            if n < 0 && e == EINTR { continue }
            if n < 0 && (e == EAGAIN || e == EWOULDBLOCK) { return .wouldBlock }
            return .error(e)
        }
        while fileRemaining > 0 {
            var off = fileOffset
            switch Pipe.sendfile(to: fd, from: fileFD, offset: &off, count: min(fileRemaining, 1 << 30)) {
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
        }
        closeFile()
        bytes.shrinkIfIdle(to: 16 * 1024)
        return .bytes(total)
    }

    func discard() {
        bytes.clear()
        closeFile()
    }

    func resetCounter() { bytesWritten = 0 }
}

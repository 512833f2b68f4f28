import Glibc
import CSwitchyardShims

/// The byte channel to one client: what an HTTP connection reads requests from and writes
/// responses to. Plain TCP and unix sockets today (`SocketTransport`); a TLS session or an HTTP/2
/// stream's byte channel are other implementations of the same seam, so no code above this layer
/// touches a client descriptor for I/O.
///
/// The descriptor is still exposed for readiness (the event loop watches it) and addresses
/// (getsockname); moving bytes goes through the transport.
public protocol ByteTransport: AnyObject {
    /// What the event loop watches for this client's readiness.
    var descriptor: Int32 { get }
    /// Reads what is available into `buffer`, growing it to at least `minimumSpace` free bytes.
    func receive(into buffer: ByteBuffer, minimumSpace: Int) -> IOResult
    /// Sends from `first`, then `second` (a gather write; either may be empty). `more`: further
    /// bytes follow at once (MSG_MORE), so a small head need not leave in a packet of its own.
    func send(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer, more: Bool) -> IOResult
    /// Half-close: no more bytes to the client, reading goes on.
    func shutdownOutput()
    /// Closes the channel (the descriptor must already be out of the event loop).
    func close()
    /// The kernel paths (sendfile, splice), or nil when every byte must pass through `send`
    /// (bytes a TLS session has to encrypt).
    var kernelPath: KernelPathTransport? { get }
    /// The transport must write before it can read on (TLS: a handshake message did not fit the
    /// socket): the stream asks for writability and calls `receive` again when it comes.
    var wantsWritability: Bool { get }
}

extension ByteTransport {
    public var wantsWritability: Bool { false }
}

/// Zero-copy capabilities: a plain socket has both, a TLS session whose keys the kernel holds
/// (kTLS) can send files but not give its descriptor up.
public protocol KernelPathTransport: AnyObject {
    /// sendfile(2) from `file` at `offset` (advanced by what was sent).
    func sendFile(_ file: Int32, offset: inout Int, count: Int) -> IOResult
    /// The descriptor can be handed to a splice relay, which then reads and writes it raw.
    var canDetachDescriptor: Bool { get }
    /// Gives up the descriptor to a splice relay: the transport does no more I/O, and does not
    /// close it. Only when `canDetachDescriptor`.
    func detachDescriptor() -> Int32
}

/// A connected, non-blocking stream socket (TCP or unix).
public final class SocketTransport: ByteTransport, KernelPathTransport {
    public private(set) var descriptor: Int32

    /// Takes ownership of `fd`.
    public init(fd: Int32) { descriptor = fd }

    public var kernelPath: KernelPathTransport? { self }
    public var canDetachDescriptor: Bool { true }

    @inline(__always)
    public func receive(into buffer: ByteBuffer, minimumSpace: Int) -> IOResult {
        buffer.read(from: descriptor, minimumSpace: minimumSpace)
    }

    public func send(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer, more: Bool) -> IOResult {
        let flags = Int32(MSG_NOSIGNAL) | (more ? Int32(MSG_MORE) : 0)
        while true {
            let n: Int
            if second.isEmpty || first.isEmpty {
                let only = first.isEmpty ? second : first
                if only.isEmpty { return .bytes(0) }
                n = sy_send(descriptor, only.baseAddress!, only.count, flags)
            } else {
                var iov = (iovec(iov_base: UnsafeMutableRawPointer(mutating: first.baseAddress!), iov_len: first.count),
                           iovec(iov_base: UnsafeMutableRawPointer(mutating: second.baseAddress!), iov_len: second.count))
                n = withUnsafeMutablePointer(to: &iov) {
                    $0.withMemoryRebound(to: iovec.self, capacity: 2) { p in
                        var msg = msghdr(msg_name: nil, msg_namelen: 0, msg_iov: p, msg_iovlen: 2,
                                         msg_control: nil, msg_controllen: 0, msg_flags: 0)
                        return sy_sendmsg(descriptor, &msg, flags)
                    }
                }
            }
            if n >= 0 { return .bytes(n) }
            let e = errno
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
            if e == ENOTSOCK {
                // Not a socket (a test's pipe): plain write(2) of the first region.
                let only = first.isEmpty ? second : first
                return Syscall.write(descriptor, only.baseAddress!, only.count)
            }
            return .error(e)
        }
    }

    public func sendFile(_ file: Int32, offset: inout Int, count: Int) -> IOResult {
        Pipe.sendfile(to: descriptor, from: file, offset: &offset, count: count)
    }

    public func shutdownOutput() { Socket.shutdownWrite(descriptor) }

    public func close() {
        Syscall.close(descriptor)
        descriptor = -1
    }

    public func detachDescriptor() -> Int32 {
        let fd = descriptor
        descriptor = -1
        return fd
    }
}

import Glibc
import COpenSSL

/// A server-side TLS session on a connected, non-blocking socket: the `ByteTransport` a TLS
/// listener's connections use. The handshake runs inside the first `receive` calls (the session
/// starts in accept state), driven by the event loop's readiness like any read; OpenSSL's
/// WANT_WRITE there becomes `wantsWritability`, which the stream turns into output interest.
///
/// Socket BIO, not memory BIOs: OpenSSL reads and writes the descriptor itself, so ciphertext is
/// never copied through an intermediate buffer of ours and no second queue has to be flushed or
/// accounted for. Read-ahead stays off: OpenSSL then holds at most the rest of one decrypted
/// record (which `receive` always takes), never unread ciphertext the kernel would not signal
/// again, so level-triggered epoll stays the whole truth about pending input. The price is two
/// reads per record (header, body) instead of one.
///
/// Kernel TLS: when the context asks for it and the kernel has the `tls` module, OpenSSL hands
/// the keys to the kernel after the handshake. Sending then needs no copy of ours: file regions
/// leave through `SSL_sendfile` (the kernel path). Without it every byte is encrypted here, so
/// file regions go through user space (`OutputQueue`'s copies). Either way an upgraded stream is
/// never handed to a splice relay: a relay reading the socket raw would meet TLS's own records
/// (alerts, key updates), which only OpenSSL may consume.
public final class TLSTransport: ByteTransport, KernelPathTransport {
    public private(set) var descriptor: Int32
    private var ssl: OpaquePointer?
    /// The last receive or send stopped on OpenSSL's WANT_WRITE (a handshake or post-handshake
    /// message that did not fit the socket): call `receive` again once the socket is writable.
    public internal(set) var wantsWritability = false
    /// Why the session failed (OpenSSL's reasons), for the error log; nil while all is well.
    public private(set) var failureReason: String?
    /// A fatal error happened: OpenSSL forbids a close_notify afterwards.
    private var fatal = false
    /// Held for the session's life: OpenSSL keeps the `SSL_CTX` alive itself, but its SNI and
    /// ALPN callbacks point into this object (a `TLSContext`, or a `TLSClientContext`), which a
    /// SIGHUP reload would otherwise free.
    private let context: AnyObject

    /// A server session. Takes ownership of `fd` once it returns (closed by `close`); when it
    /// throws, the caller closes `fd`.
    public convenience init(fd: Int32, context: TLSContext) throws(TLSError) {
        let s = try TLSTransport.newSession(context.handle, fd: fd)
        SSL_set_accept_state(s)
        self.init(ssl: s, fd: fd, context: context)
    }

    init(ssl: OpaquePointer, fd: Int32, context: AnyObject) {
        self.ssl = ssl
        descriptor = fd
        self.context = context
    }

    static func newSession(_ ctx: OpaquePointer, fd: Int32) throws(TLSError) -> OpaquePointer {
        ERR_clear_error()
        guard let s = SSL_new(ctx) else { throw TLSError.openSSL("SSL_new") }
        guard SSL_set_fd(s, fd) == 1 else {
            SSL_free(s)
            throw TLSError.openSSL("SSL_set_fd")
        }
        return s
    }

    /// The `SSL *` (nil once closed), for the client extension.
    var sessionHandle: OpaquePointer? { ssl }

    deinit { if let ssl { SSL_free(ssl) } }

    /// Itself once the kernel encrypts what this session sends (kTLS), else nil.
    public var kernelPath: KernelPathTransport? { isKernelTLSSending ? self : nil }
    public var canDetachDescriptor: Bool { false }

    /// The kernel encrypts what this session sends (kTLS transmit is on).
    public var isKernelTLSSending: Bool {
        if let cached = kernelSendKnown { return cached }
        guard let ssl, isHandshakeComplete else { return false }
        let on = sy_ssl_ktls_send(ssl) != 0
        kernelSendKnown = on
        return on
    }
    private var kernelSendKnown: Bool?
    /// The kernel decrypts what this session receives (kTLS receive; OpenSSL 3.0: TLS 1.2 only).
    public var isKernelTLSReceiving: Bool { ssl.map { isHandshakeComplete && sy_ssl_ktls_recv($0) != 0 } ?? false }

    /// `SSL_sendfile`: the kernel reads the file and encrypts it (kTLS only).
    public func sendFile(_ file: Int32, offset: inout Int, count: Int) -> IOResult {
        guard let ssl else { return .error(EBADF) }
        TLSTransport.emptyErrorQueue()
        let n = SSL_sendfile(ssl, file, off_t(offset), count, 0)
        if n > 0 {
            offset += n
            return .bytes(n)
        }
        if n == 0 { return .eof }
        return outcome(Int32(clamping: n), operation: "write")
    }

    public func detachDescriptor() -> Int32 { preconditionFailure("a TLS session cannot give its descriptor to a relay") }

    public var isHandshakeComplete: Bool { ssl.map { SSL_is_init_finished($0) == 1 } ?? false }
    /// "TLSv1.3" (SSL_PROTOCOL), once the handshake is complete.
    public var protocolVersion: String? {
        guard let ssl, isHandshakeComplete, let v = SSL_get_version(ssl) else { return nil }
        return String(cString: v)
    }
    /// "TLS_AES_256_GCM_SHA384" (SSL_CIPHER), once the handshake is complete.
    public var cipherName: String? {
        guard let ssl, isHandshakeComplete, let c = SSL_get_current_cipher(ssl), let n = SSL_CIPHER_get_name(c) else { return nil }
        return String(cString: n)
    }
    /// The cipher's secret bits (used, possible): SSL_CIPHER_USEKEYSIZE, SSL_CIPHER_ALGKEYSIZE.
    public var cipherBits: (used: Int, possible: Int)? {
        guard let ssl, isHandshakeComplete, let c = SSL_get_current_cipher(ssl) else { return nil }
        var possible: Int32 = 0
        let used = SSL_CIPHER_get_bits(c, &possible)
        return (Int(used), Int(possible))
    }
    /// The ALPN protocol agreed on, nil without one.
    public var negotiatedALPN: String? {
        guard let ssl else { return nil }
        var data: UnsafePointer<UInt8>? = nil
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }
    /// The SNI name the client sent.
    public var serverName: String? {
        guard let ssl, let n = SSL_get_servername(ssl, sy_tlsext_name_type_host_name()) else { return nil }
        return String(cString: n)
    }
    /// The session was resumed (ticket or cache).
    public var isResumed: Bool { ssl.map { SSL_session_reused($0) == 1 } ?? false }

    /// TLS's largest record payload (RFC 8446 5.1).
    static let maxRecordPlaintext: Int32 = 16 * 1024

    /// Decrypts what is available into `buffer`: at least `minimumSpace` room, and whatever
    /// plaintext is left of a record OpenSSL already decrypted (at most one record more), so
    /// nothing waits inside OpenSSL where epoll cannot see it.
    public func receive(into buffer: ByteBuffer, minimumSpace: Int) -> IOResult {
        guard let ssl else { return .error(EBADF) }
        wantsWritability = false
        buffer.reserve(minimumSpace)
        var total = 0
        while true {
            if buffer.writableBytes == 0 {
                let pending = Int(SSL_pending(ssl))
                guard pending > 0 else { return .bytes(total) }
                buffer.reserve(pending)
            }
            TLSTransport.emptyErrorQueue()
            let n = SSL_read(ssl, buffer.writePointer, Int32(clamping: buffer.writableBytes))
            if n > 0 {
                buffer.commit(Int(n))
                total += Int(n)
                // A record shorter than the maximum ends a burst (a request head, a small message):
                // stop without the read that would only say EAGAIN. Nothing is left inside OpenSSL,
                // and level-triggered epoll reports any further record still in the socket.
                if n < TLSTransport.maxRecordPlaintext && SSL_pending(ssl) == 0 { return .bytes(total) }
                continue
            }
            let r = outcome(n, operation: "read")
            if total > 0, case .wouldBlock = r { return .bytes(total) }
            if total > 0, case .eof = r { return .bytes(total) }   // EOF comes again on the next call
            return r
        }
    }

    /// Encrypts and sends from `first` (or `second` when `first` is empty): one record or more per
    /// call. After a `.wouldBlock` the caller offers the same bytes again (more may follow them),
    /// as OpenSSL requires; the queue's head only moves forward, so it does.
    public func send(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer, more: Bool) -> IOResult {
        guard let ssl else { return .error(EBADF) }
        let region = first.isEmpty ? second : first
        guard !region.isEmpty else { return .bytes(0) }
        wantsWritability = false
        TLSTransport.emptyErrorQueue()
        let n = SSL_write(ssl, region.baseAddress!, Int32(clamping: region.count))
        if n > 0 { return .bytes(Int(n)) }
        return outcome(n, operation: "write")
    }

    /// Empties this thread's OpenSSL error queue before an I/O call, as `SSL_get_error` needs
    /// (it reads the queue's first entry). Looking first: `ERR_clear_error` walks all 16 slots
    /// of the queue whether or not any holds an error, ~390 instructions a call against under
    /// 100 to look, and the queue is empty before nearly every call (callgrind, one RFC 8441
    /// stream over TLS: 22.65k -> 21.39k instructions a message).
    @inline(__always)
    static func emptyErrorQueue() {
        if ERR_peek_error() != 0 { ERR_clear_error() }
    }

    /// Maps a failed SSL_read/SSL_write/SSL_do_handshake to the stream's results; keeps the reason for the log.
    func outcome(_ n: Int32, operation: String) -> IOResult {
        let savedErrno = errno
        switch SSL_get_error(ssl, n) {
        case SSL_ERROR_WANT_READ:
            return .wouldBlock
        case SSL_ERROR_WANT_WRITE:
            // A send's own WANT_WRITE needs no flag: its queued bytes already ask for writability.
            if operation != "write" { wantsWritability = true }
            return .wouldBlock
        case SSL_ERROR_ZERO_RETURN:
            return .eof   // close_notify
        case SSL_ERROR_SYSCALL:
            // The socket failed (a reset, a broken pipe) or the peer left without a TLS EOF: the
            // same as on a plain connection, so no log line of its own.
            ERR_clear_error()
            if savedErrno == EAGAIN || savedErrno == EINTR { return .wouldBlock }
            fatal = true
            return savedErrno == 0 ? .eof : .error(savedErrno)
        default:
            let reasons = TLSError.drainErrorQueue()
            let phase = isHandshakeComplete ? "TLS \(operation)" : "TLS handshake"
            failureReason = "\(phase) failed: \(reasons.isEmpty ? "protocol error" : reasons)"
            fatal = true
            return .error(EPROTO)
        }
    }

    /// Sends close_notify (when the session got that far), then half-closes the socket.
    public func shutdownOutput() {
        if let ssl, isHandshakeComplete, !fatal {
            ERR_clear_error()
            _ = SSL_shutdown(ssl)   // best effort: a full socket buffer just loses the alert
            ERR_clear_error()
        }
        if descriptor >= 0 { Socket.shutdownWrite(descriptor) }
    }

    public func close() {
        if let ssl { SSL_free(ssl) }
        ssl = nil
        if descriptor >= 0 { Syscall.close(descriptor) }
        descriptor = -1
    }
}

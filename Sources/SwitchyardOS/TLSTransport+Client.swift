import Glibc
import COpenSSL

/// The client side of a `TLSTransport` (the load generator's https:// and wss:// connections):
/// the same non-blocking socket-BIO session in connect state, an explicit `handshake()` step so
/// a caller can time and count handshakes, and sessions saved for resumption.
extension TLSTransport {
    /// A client session on a connected (or connecting) non-blocking socket. `serverName` goes out
    /// as SNI; `session`, from an earlier connection to the same server, asks for an abbreviated
    /// handshake (the server may still decline: see `isResumed`). Takes ownership of `fd` once
    /// it returns; when it throws, the caller closes `fd`.
    public convenience init(fd: Int32, client: TLSClientContext, serverName: String?, resuming session: TLSSession? = nil) throws(TLSError) {
        let s = try TLSTransport.newSession(client.handle, fd: fd)
        SSL_set_connect_state(s)
        if let serverName, !serverName.isEmpty, !TLSTransport.isAddressLiteral(serverName) {
            _ = sy_ssl_set_tlsext_host_name(s, serverName)
        }
        if !client.alpnWire.isEmpty {
            _ = client.alpnWire.withUnsafeBufferPointer { SSL_set_alpn_protos(s, $0.baseAddress, UInt32($0.count)) }
        }
        if let session { _ = SSL_set_session(s, session.handle) }
        self.init(ssl: s, fd: fd, context: client)
    }

    /// Advances the handshake: `.bytes(0)` once it is complete, `.wouldBlock` while it waits for
    /// the peer (with `wantsWritability` set when it waits for the socket to drain instead),
    /// `.error` (reason in `failureReason`) or `.eof` when it failed.
    public func handshake() -> IOResult {
        guard let ssl = sessionHandle else { return .error(EBADF) }
        wantsWritability = false
        ERR_clear_error()
        let r = SSL_do_handshake(ssl)
        if r == 1 { return .bytes(0) }
        return outcome(r, operation: "handshake")
    }

    /// The session to resume a later connection with: after the handshake, and for TLS 1.3 after
    /// some data was read (the server's tickets follow the handshake). nil when none is resumable.
    ///
    /// A copy, not the live session: OpenSSL marks a session not resumable when the connection
    /// that holds it is freed without a close_notify of ours (`ssl_clear_bad_session`), which is
    /// how the load generator closes; the copy stays valid whatever happens to this connection.
    public var session: TLSSession? {
        guard let ssl = sessionHandle, let live = SSL_get1_session(ssl) else { return nil }
        defer { SSL_SESSION_free(live) }
        guard SSL_SESSION_is_resumable(live) == 1, let copy = SSL_SESSION_dup(live) else { return nil }
        return TLSSession(taking: copy)
    }

    /// SNI carries host names only (RFC 6066 3): never an IP address literal.
    static func isAddressLiteral(_ name: String) -> Bool {
        name.contains(":") || name.allSatisfy { $0 == "." || $0.isNumber }
    }
}

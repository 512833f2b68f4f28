import COpenSSL

/// The client side of TLS: an `SSL_CTX` for outgoing connections (the load generator's https://
/// and wss:// connections), the counterpart of the server's `TLSContext`. Same protocol floor
/// (TLS 1.2) and write mode, so `TLSTransport` drives both sides with the same code.
///
/// The peer's certificate chain is checked only when `caFile` is given (its host name is not
/// matched): a load generator measuring its own test server has nothing to gain from
/// verification but its cost.
public final class TLSClientContext: @unchecked Sendable {
    /// The `SSL_CTX *` (shared by every connection made with it; OpenSSL locks what it shares).
    public let handle: OpaquePointer
    /// ALPN offered in the ClientHello (wire form), e.g. `http/1.1`.
    let alpnWire: [UInt8]

    public init(caFile: String? = nil, cipherList: String? = nil, alpnProtocols: [String] = ["http/1.1"]) throws(TLSError) {
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(TLS_client_method()) else { throw TLSError.openSSL("SSL_CTX_new") }
        handle = ctx
        alpnWire = TLSContextOptions(certificateFile: "", alpnProtocols: alpnProtocols).alpnWire
        _ = sy_ssl_ctx_set_min_proto(ctx, sy_tls1_2_version())
        _ = SSL_CTX_set_options(ctx, sy_ssl_op_no_renegotiation() | sy_ssl_op_no_compression() | sy_ssl_op_ignore_unexpected_eof())
        _ = sy_ssl_ctx_set_mode(ctx, sy_ssl_mode_partial_moving())
        // Sessions are kept by the caller (`TLSTransport.session`), not in OpenSSL's client cache.
        if let caFile {
            guard SSL_CTX_load_verify_locations(ctx, caFile, nil) == 1 else { throw TLSError.openSSL("CA file \(caFile): cannot load") }
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
        } else {
            SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nil)
        }
        if let cipherList, SSL_CTX_set_cipher_list(ctx, cipherList) != 1 {
            throw TLSError.openSSL("cipher list \"\(cipherList)\": no usable cipher")
        }
    }

    deinit { SSL_CTX_free(handle) }
}

/// A TLS session a client saved (`TLSTransport.session`) to resume the next connection with
/// (`TLSTransport(fd:client:serverName:resuming:)`): an abbreviated handshake, no certificate.
public final class TLSSession: @unchecked Sendable {
    /// The `SSL_SESSION *` (one reference, released on deinit).
    let handle: OpaquePointer

    init(taking handle: OpaquePointer) { self.handle = handle }

    /// OpenSSL's view: the server gave a ticket or session id it will accept.
    public var isResumable: Bool { SSL_SESSION_is_resumable(handle) == 1 }
    /// The server issued a ticket (TLS 1.3 resumes only with one).
    public var hasTicket: Bool { SSL_SESSION_has_ticket(handle) == 1 }
    /// "TLSv1.3".
    public var protocolVersion: Int32 { SSL_SESSION_get_protocol_version(handle) }

    deinit { SSL_SESSION_free(handle) }
}

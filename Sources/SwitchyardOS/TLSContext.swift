import Glibc
import COpenSSL

/// One OpenSSL `SSL_CTX`: a certificate and key, the protocol range, ciphers, ALPN, session
/// tickets, and the certificates other server names (SNI) switch to. Made once at start from
/// `TLSContextOptions` and shared by every event loop's connections: OpenSSL locks what a
/// context shares (its reference count and session cache), and nothing here changes after
/// `setServerNames`, which runs before the first connection.
///
/// Defaults: TLS 1.2 and 1.3 only (a `MinProtocol` conf command can change that), no
/// renegotiation, no compression, kernel TLS when the kernel offers it, stateless session tickets (the key is per context, so a ticket
/// issued by one loop resumes on another), ALPN `http/1.1`.
public final class TLSContext: @unchecked Sendable {
    /// The `SSL_CTX *`.
    public let handle: OpaquePointer
    public let options: TLSContextOptions
    /// Other names' contexts, tried in order by the SNI callback; the first match wins.
    public private(set) var serverNames: [ServerName] = []
    private let alpn: UnsafeMutablePointer<sy_alpn_list>
    private let alpnBytes: UnsafeMutablePointer<UInt8>

    public struct ServerName: Sendable {
        public let matches: @Sendable (String) -> Bool
        public let context: TLSContext
        public init(matches: @escaping @Sendable (String) -> Bool, context: TLSContext) {
            self.matches = matches
            self.context = context
        }
    }

    public init(_ options: TLSContextOptions) throws(TLSError) {
        self.options = options
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(TLS_server_method()) else { throw TLSError.openSSL("SSL_CTX_new") }
        handle = ctx
        let wire = options.alpnWire
        alpnBytes = .allocate(capacity: max(1, wire.count))
        alpnBytes.initialize(from: wire, count: wire.count)
        alpn = .allocate(capacity: 1)
        alpn.initialize(to: sy_alpn_list(wire: alpnBytes, length: UInt32(wire.count)))
        try configure()
    }

    deinit {
        SSL_CTX_free(handle)
        alpn.deallocate()
        alpnBytes.deallocate()
    }

    private func configure() throws(TLSError) {
        _ = sy_ssl_ctx_set_min_proto(handle, sy_tls1_2_version())
        var op = sy_ssl_op_no_renegotiation() | sy_ssl_op_no_compression() | sy_ssl_op_ignore_unexpected_eof()
        if options.honorCipherOrder { op |= sy_ssl_op_cipher_server_preference() }
        // Kernel TLS where the kernel has it (lighttpd does the same); `Options => "-KTLS"` turns
        // it off, `"KTLS"` asks for it regardless (OpenSSL then falls back quietly).
        if KernelTLS.isAvailable { op |= sy_ssl_op_enable_ktls() }
        _ = SSL_CTX_set_options(handle, op)
        // Partial writes: a record at a time, from a queue that may move between retries.
        _ = sy_ssl_ctx_set_mode(handle, sy_ssl_mode_partial_moving())
        _ = sy_ssl_ctx_set_session_cache_mode(handle, Int(sy_ssl_sess_cache_server()))
        let sessionContext: [UInt8] = Array("switchyard".utf8)
        _ = SSL_CTX_set_session_id_context(handle, sessionContext, UInt32(sessionContext.count))
        // A resumption with a ticket younger than half its lifetime gets no replacement ticket, as
        // in lighttpd: re-issuing one costs as much CPU as the rest of a resumed handshake's server
        // side over ours (callgrind: 2.49M -> 2.29M instructions per resumed handshake; lighttpd 2.28M).
        _ = sy_ssl_ctx_reuse_fresh_tickets(handle)
        sy_ssl_ctx_set_alpn(handle, alpn)
        try loadCertificate()
        if let ca = options.caFile, SSL_CTX_load_verify_locations(handle, ca, nil) != 1 {
            throw TLSError.openSSL("ssl.ca-file \(ca): cannot load")
        }
        if let ciphers = options.cipherList, SSL_CTX_set_cipher_list(handle, ciphers) != 1 {
            throw TLSError.openSSL("ssl.cipher-list \"\(ciphers)\": no usable cipher")
        }
        try applyConfCommands()
    }

    private func loadCertificate() throws(TLSError) {
        let cert = options.certificateFile
        guard SSL_CTX_use_certificate_chain_file(handle, cert) == 1 else {
            throw TLSError.openSSL("ssl.pemfile \(cert): cannot load the certificate chain")
        }
        let keyFile = options.privateKeyFile ?? cert
        let keyKey = options.privateKeyFile == nil ? "ssl.pemfile" : "ssl.privkey"
        guard SSL_CTX_use_PrivateKey_file(handle, keyFile, SSL_FILETYPE_PEM) == 1 else {
            let reasons = TLSError.drainErrorQueue()
            if reasons.contains("mismatch") {   // OpenSSL compares it with the certificate while loading
                throw TLSError("\(keyKey) \(keyFile): the private key does not match the certificate in \(cert)")
            }
            throw TLSError("\(keyKey) \(keyFile): cannot load the private key: \(reasons)")
        }
        guard SSL_CTX_check_private_key(handle) == 1 else {
            throw TLSError.openSSL("\(keyKey) \(keyFile): the private key does not match the certificate in \(cert)")
        }
    }

    /// `ssl.openssl.ssl-conf-cmd`: OpenSSL's own parser for MinProtocol, Options, Ciphersuites...
    private func applyConfCommands() throws(TLSError) {
        guard !options.confCommands.isEmpty else { return }
        guard let cctx = SSL_CONF_CTX_new() else { throw TLSError.openSSL("SSL_CONF_CTX_new") }
        defer { SSL_CONF_CTX_free(cctx) }
        _ = SSL_CONF_CTX_set_flags(cctx, sy_ssl_conf_flag_file() | sy_ssl_conf_flag_server()
                                   | sy_ssl_conf_flag_certificate() | sy_ssl_conf_flag_show_errors())
        SSL_CONF_CTX_set_ssl_ctx(cctx, handle)
        for command in options.confCommands {
            let r = SSL_CONF_cmd(cctx, command.name, command.value)
            if r == -2 { throw TLSError.openSSL("ssl.openssl.ssl-conf-cmd: unknown command \"\(command.name)\"") }
            if r <= 0 {
                throw TLSError.openSSL("ssl.openssl.ssl-conf-cmd: \"\(command.name)\" => \"\(command.value)\" rejected")
            }
        }
        guard SSL_CONF_CTX_finish(cctx) == 1 else { throw TLSError.openSSL("ssl.openssl.ssl-conf-cmd") }
    }

    /// OpenSSL will try to hand a finished handshake's keys to the kernel (SSL_OP_ENABLE_KTLS).
    public var requestsKernelTLS: Bool { SSL_CTX_get_options(handle) & sy_ssl_op_enable_ktls() != 0 }

    /// The lowest protocol version accepted (OpenSSL's constant: 0x0303 is TLS 1.2, 0x0304 TLS 1.3).
    public var minimumProtocolVersion: Int32 { sy_ssl_ctx_get_min_proto(handle) }

    /// Installs the SNI table (before the first connection; see the type's comment).
    public func setServerNames(_ names: [ServerName]) {
        serverNames = names
        guard !names.isEmpty else { return }
        _ = sy_ssl_ctx_set_tlsext_servername_callback(handle, tlsServerNameCallback)
        _ = sy_ssl_ctx_set_tlsext_servername_arg(handle, Unmanaged.passUnretained(self).toOpaque())
    }

    /// The context for `name` (lower-cased by the caller), nil for this one's own certificate.
    public func context(forServerName name: String) -> TLSContext? {
        serverNames.first(where: { $0.matches(name) })?.context
    }
}

/// OpenSSL's SNI hook: switches the session to the context whose names match; an unknown name
/// keeps the listener's own certificate (as lighttpd does).
private let tlsServerNameCallback: @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int32>?, UnsafeMutableRawPointer?) -> Int32 = { ssl, _, arg in
    guard let ssl, let arg, let raw = SSL_get_servername(ssl, sy_tlsext_name_type_host_name()) else {
        return sy_ssl_tlsext_err_ok()
    }
    let context = Unmanaged<TLSContext>.fromOpaque(arg).takeUnretainedValue()
    let name = String(cString: raw).lowercased()
    if let other = context.context(forServerName: name) { _ = SSL_set_SSL_CTX(ssl, other.handle) }
    return sy_ssl_tlsext_err_ok()
}

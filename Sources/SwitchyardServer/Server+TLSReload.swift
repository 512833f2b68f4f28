import SwitchyardOS

extension Server {
    /// The slot a listener configured as `text` hands its connections, nil for plain HTTP.
    func tlsSlot(forSocket text: String, isMain: Bool) -> TLSContextSlot? {
        tlsSlots[isMain ? nil : text]
    }

    /// SIGHUP: every TLS listener's certificates and keys are read again (the configuration file
    /// is not: only the files its `ssl.*` keys name). All or nothing: if any file is missing,
    /// unreadable, not PEM or a key that does not match its certificate, nothing is replaced and
    /// the error log says why, so a half-copied renewal never reaches clients. On success new
    /// handshakes use the new contexts; open connections keep the one they started with. Session
    /// tickets and cached sessions belong to a context, so clients resume no earlier session after
    /// a reload (a full handshake, once).
    func reloadCertificates() {
        guard !tlsSlots.isEmpty else { return }
        let fresh: TLSSettings
        do {
            fresh = try TLSSettings(document: document)
        } catch {
            errorLog.error("tls", "SIGHUP: certificates not reloaded, the loaded ones stay in use: \(error)")
            return
        }
        for warning in fresh.warnings { errorLog.warning("tls", "\(warning)") }
        var replaced = 0
        for (socket, slot) in tlsSlots {
            let context = socket == nil ? fresh.main : fresh.sockets[socket!]
            guard let context else { continue }
            slot.replace(with: context)
            replaced += 1
        }
        errorLog.info("tls", "SIGHUP: certificates reloaded for \(replaced) TLS listener(s); open connections keep theirs")
    }

    /// One line at start when TLS listeners exist: whether the kernel can do TLS (`tls` among the
    /// TCP upper-layer protocols) and whether the listeners ask OpenSSL for it, so whoever reads
    /// the log knows if static files over TLS leave by `sendfile` or by user-space copies.
    func logKernelTLSStatus() {
        guard !tlsSlots.isEmpty else { return }
        let available = KernelTLS.isAvailable
        let requested = tlsSlots.values.filter { $0.context.requestsKernelTLS }.count
        let kernel = available ? "kernel TLS is available (the tls module is loaded)"
                               : "kernel TLS is not available (no tls in /proc/sys/net/ipv4/tcp_available_ulp)"
        let use: String
        switch (available, requested) {
        case (false, 0): use = "Switchyard encrypts in user space: TLS responses use copies, not sendfile"
        case (true, 0): use = "kTLS is off (ssl.openssl.ssl-conf-cmd Options -KTLS): TLS responses use copies, not sendfile"
        case (true, _): use = "kTLS is on for \(requested) of \(tlsSlots.count) TLS listener(s): files leave by SSL_sendfile where the cipher allows"
        case (false, _): use = "kTLS was asked for, OpenSSL falls back to user space: TLS responses use copies, not sendfile"
        }
        errorLog.info("tls", "\(kernel); \(use)")
    }
}

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

    /// One line at start when TLS listeners exist: whether the kernel could do TLS (`tls` among
    /// the TCP upper-layer protocols) and that Switchyard encrypts in user space either way, so
    /// static files and upgraded streams are copied instead of `sendfile`/`splice`d (see README).
    func logKernelTLSStatus() {
        guard !tlsSlots.isEmpty else { return }
        let available = KernelTLS.isAvailable
        errorLog.info("tls", "kernel TLS \(available ? "is available (the tls module is loaded)" : "is not available (no tls in /proc/sys/net/ipv4/tcp_available_ulp)"); "
                      + "Switchyard encrypts in user space (kTLS is not implemented): TLS responses use copies, not sendfile/splice")
    }
}

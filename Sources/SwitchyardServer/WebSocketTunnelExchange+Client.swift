import SwitchyardOS
import SwitchyardWebSocket

/// Client -> backend: frames decoded and reassembled (with the RFC 6455 checks of
/// `WebSocketMessageAssembler`), data payloads written to the backend, control frames answered.
extension WebSocketTunnelExchange {
    func upgradedData(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard phase == .open else { return true }
        inbound.append(contentsOf: bytes)
        processInbound()
        return !inboundPaused
    }

    /// Decodes every complete frame in `inbound`, stopping when the backend is behind.
    func processInbound() {
        var offset = 0
        defer {
            if offset > 0 && phase == .open {
                if offset == inbound.count { inbound.removeAll(keepingCapacity: true) } else { inbound.removeFirst(offset) }
            }
            if inbound.isEmpty && inbound.capacity > 64 * 1024 { inbound = [] }
        }
        while phase == .open && !inboundPaused && offset < inbound.count {
            let start = offset
            let decoded = inbound.withUnsafeBytes { raw in
                Result { () throws(WebSocketProtocolError) in try decoder.decode(UnsafeRawBufferPointer(rebasing: raw[start...])) }
            }
            guard case .success(let result) = decoded else {
                if case .failure(let error) = decoded { protocolFailure(error) }
                return
            }
            guard let (frame, consumed) = result else { return }
            offset += consumed
            keepalive.peerActive(now: worker.loop.now)
            do {
                if let message = try assembler.push(frame) { handle(message) }
            } catch {
                protocolFailure(error)
                return
            }
        }
    }

    private func handle(_ message: WebSocketMessage) {
        guard let stream, let connection else { return }
        switch message {
        case .text(let payload), .binary(let payload):
            var bytes = payload
            if acceptance.subprotocol == "base64" {
                bytes.removeAll(keepingCapacity: true)
                do {
                    try base64In.decode(payload, into: &bytes)
                    try base64In.finish()
                } catch {
                    base64In = Base64StreamDecoder()
                    protocolFailure(.invalidPayload("base64 subprotocol: \(error.reason)"))
                    return
                }
            }
            if bytes.isEmpty { return }
            if !bytes.withUnsafeBytes({ stream.send($0) }) { waitingForBackend = true }
        case .ping(let payload):
            frameBuffer.removeAll(keepingCapacity: true)
            WebSocketFrameEncoder.encode(opcode: .pong, payload: payload, into: &frameBuffer)
            if !frameBuffer.withUnsafeBytes({ connection.sendRaw($0) }) { waitingForClient = true }
        case .pong(let payload):
            keepalive.pongReceived(payload, now: worker.loop.now)
        case .close(let code, _):
            // Echo the code (RFC 6455 5.5.1); an empty CLOSE gets an empty one back.
            if settings.debug > 0 { worker.errorLog.info(label, "client CLOSE \(code.map(String.init) ?? "(no code)")") }
            frameBuffer.removeAll(keepingCapacity: true)
            let payload = code.map { WebSocketFrameEncoder.closePayload(code: $0, reason: "") } ?? []
            WebSocketFrameEncoder.encode(opcode: .close, payload: payload, into: &frameBuffer)
            frameBuffer.withUnsafeBytes { _ = connection.sendRaw($0) }
            endBackend()
            finish()
            connection.finishUpgraded()
        }
    }

    /// The client broke RFC 6455 (or sent a message over the limit): CLOSE with the error's code.
    private func protocolFailure(_ error: WebSocketProtocolError) {
        worker.errorLog.info(label, "closing: \(error)")
        close(code: error.closeCode, reason: String(error.reason.prefix(100)))
    }

    /// The client's FIN without a CLOSE, or the first step of a graceful server stop (the worker
    /// ends every upgraded stream's input shortly before its deadline): the latter gets CLOSE 1001.
    func upgradedClientEOF() {
        guard phase == .open else { return }
        if worker.isStopping {
            close(code: 1001, reason: "server stopping")
            return
        }
        stream?.endBody(upgraded: true)
    }
}

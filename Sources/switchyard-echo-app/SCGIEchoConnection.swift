import SwitchyardOS
import SwitchyardGatewayCodecs

/// One SCGI connection = one request. After the header netstring and CONTENT_LENGTH body bytes,
/// an upgraded request's socket carries the raw WebSocket stream in both directions until EOF;
/// frames are unmasked in place in the input buffer and the replies encoded into the output
/// buffer. A plain request gets its answer, its body echoed, and the connection is closed.
final class SCGIEchoConnection: EchoConnection {
    private enum Phase {
        case header
        /// Plain request: echo this many more body bytes.
        case body(remaining: Int)
        /// Upgraded request: skip this many declared body bytes, then the WebSocket stream.
        case skip(remaining: Int)
        case webSocket
        case done
    }

    private var phase = Phase.header
    private var decoder = SCGIRequestDecoder()

    override func inputReceived() {
        while !closed && !inBuffer.isEmpty {
            switch phase {
            case .header:
                let parsed: (env: CGIEnvironment, consumed: Int)?
                do {
                    parsed = try decoder.feed(inBuffer.readable)
                } catch {
                    // The socket itself is fine: say why, so the client sees a 400, not a 502.
                    log.error("malformed SCGI request, answering 400: \(error)")
                    phase = .done
                    outBuffer.append(EchoRequest.rejected(status: "400 Bad Request",
                                                          reason: "malformed SCGI request: \(error)").responseHead())
                    closeAfterFlush()
                    return
                }
                guard let (env, consumed) = parsed else {
                    inBuffer.consume(inBuffer.readableBytes)  // the decoder kept a copy
                    return
                }
                inBuffer.consume(consumed)
                begin(env)
            case .body(let remaining):
                let n = min(remaining, inBuffer.readableBytes)
                outBuffer.append(UnsafeRawBufferPointer(start: inBuffer.readPointer, count: n))
                inBuffer.consume(n)
                setBody(remaining - n)
            case .skip(let remaining):
                let n = min(remaining, inBuffer.readableBytes)
                inBuffer.consume(n)
                phase = remaining - n > 0 ? .skip(remaining: remaining - n) : .webSocket
            case .webSocket:
                if echoRawFrames() { finish() }
                return  // what is left is a partial frame
            case .done:
                inBuffer.clear()
                return
            }
        }
    }

    private func begin(_ env: CGIEnvironment) {
        let declared = max(Int(env["CONTENT_LENGTH"] ?? "0") ?? 0, 0)  // the decoder checked it is decimal
        let request = EchoRequest(env)
        outBuffer.append(request.responseHead())
        switch request {
        case .webSocket:
            phase = declared > 0 ? .skip(remaining: declared) : .webSocket
        case .plain(_, _, let length):
            setBody(length ?? 0)  // SCGI always declares CONTENT_LENGTH (the decoder checked it)
        case .rejected(let status, let reason):
            log.error("request refused with \(status): \(reason)")
            finish()
        }
    }

    private func setBody(_ remaining: Int) {
        if remaining > 0 {
            phase = .body(remaining: remaining)
        } else {
            finish()
        }
    }

    private func finish() {
        phase = .done
        closeAfterFlush()
    }

    override func inputEnded() {
        if case .header = phase {
            closeNow()  // nothing asked, nothing to answer
        } else {
            finish()
        }
    }
}

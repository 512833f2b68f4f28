import Glibc
import SwitchyardOS
import SwitchyardGatewayCodecs

/// A FastCGI 1.0 responder connection: any number of multiplexed requests (FCGI_MPXS_CONNS=1),
/// each with its own CGI process, including long-lived upgraded ones whose STDIN records keep
/// flowing after the declared body until the empty STDIN record.
///
/// Flow control on the shared connection:
/// - CGI -> front end: when the socket's output queue passes its high watermark the stdout of
///   every CGI on this connection is paused, and resumed below the low watermark.
/// - front end -> CGI: a STDIN record always goes to its request's queue; when that queue is
///   over its bound, record processing and socket reads stop until it drains. This blocks the
///   other requests on the connection too (head-of-line blocking): accepted, because the only
///   alternative is unbounded buffering, and a front end that needs independence can open more
///   connections.
///
/// Malformed records (bad version, bad request id class, wrong fixed sizes, undecodable PARAMS)
/// drop the connection with a log line; its CGIs are terminated.
final class FastCGIBridgeConnection: BridgeConnection, BridgeSocketDelegate {
    /// PARAMS beyond this are refused (the connection is dropped).
    static let maxParamsBytes = 1 << 20

    let context: BridgeContext
    let socket: BridgeSocket
    private var decoder = FastCGIRecordDecoder()
    private var requests: [UInt16: FastCGIRequestState] = [:]
    /// Request whose stdin queue is full: records wait in the socket buffer until it drains.
    private var blockedOn: UInt16?
    private var stdoutPaused = false
    private var processing = false
    /// Requests that got STDIN bytes in the current `processRecords` batch.
    private var stdinTouched: [FastCGIRequestState] = []
    /// No more requests: a non-keep-conn request ended, or the connection is being dropped.
    private var closing = false

    init(fd: Int32, context: BridgeContext) {
        self.context = context
        // Room for a few maximal records (8 + 65535 + 255 each): a WebSocket frame split over
        // several STDIN records is usually in hand whole and goes to the CGI in one write.
        socket = BridgeSocket(fd: fd, loop: context.loop, inputLimit: 4 * FastCGIRecordDecoder.maxRecordLength)
        socket.delegate = self
        context.adopt(self)
        socket.start()
    }

    // MARK: records in

    func socketReceived(_ socket: BridgeSocket) { processRecords() }

    private func processRecords() {
        guard !processing else { return }
        processing = true
        defer { processing = false }
        let input = socket.inBuffer
        defer {
            // STDIN records of one batch were only queued: one write per CGI for all of them.
            for state in stdinTouched where requests[state.requestId] === state { state.runner.flushStdin() }
            stdinTouched.removeAll(keepingCapacity: true)
        }
        do {
            while !closing && blockedOn == nil {
                guard let (header, content, consumed) = try decoder.next(input.readable) else { break }
                let bytes = UnsafeRawBufferPointer(rebasing: input.readable[content])
                try handle(header, bytes)
                // Ending the connection empties the input buffer: nothing left to consume.
                if closing || socket.closed { return }
                input.consume(consumed)
            }
        } catch {
            drop("malformed FastCGI input: \(error)")
            return
        }
        if blockedOn != nil { socket.pauseInput() }
    }

    private func handle(_ header: FastCGIRecordDecoder.Header, _ content: UnsafeRawBufferPointer) throws {
        let id = header.requestId
        guard let type = header.knownType else {
            context.log.error("unknown FastCGI record type \(header.type)")
            var out: [UInt8] = []
            FastCGIRecordEncoder.unknownType(header.type, into: &out)
            socket.outBuffer.append(out)
            socket.flush()
            return
        }
        switch type {
        case .getValues:
            answerGetValues(content)
        case .beginRequest:
            let begin = FastCGIBeginRequest(content: content)!  // size checked by the decoder
            guard requests[id] == nil else {
                context.log.error("BEGIN_REQUEST for active request id \(id) ignored")
                return
            }
            guard begin.role == FastCGIRole.responder.rawValue else {
                endRequest(id, appStatus: 0, status: .unknownRole, keepConnection: begin.keepConnection)
                return
            }
            requests[id] = FastCGIRequestState(requestId: id, keepConnection: begin.keepConnection,
                                               context: context, connection: self)
        case .abortRequest:
            guard let state = requests.removeValue(forKey: id) else { return }
            state.runner.abort()
            if blockedOn == id { blockedOn = nil; socket.resumeInput() }
            endRequest(id, appStatus: 0, status: .requestComplete, keepConnection: state.keepConnection)
        case .params:
            guard let state = requests[id], !state.paramsComplete else { return }
            if content.isEmpty {
                state.paramsComplete = true
                let env: CGIEnvironment
                do { env = try state.params.withUnsafeBytes { try FastCGINameValuePairs.decodeEnvironment($0) } }
                state.params = []
                start(state, env)
            } else {
                guard state.params.count + content.count <= FastCGIBridgeConnection.maxParamsBytes else {
                    throw FastCGIError(.pairTooLong, "PARAMS of request \(id) exceed \(FastCGIBridgeConnection.maxParamsBytes) bytes")
                }
                state.params.append(contentsOf: content)
            }
        case .stdin:
            guard let state = requests[id], !state.stdinComplete else { return }
            if content.isEmpty {
                state.stdinComplete = true
                state.runner.closeStdin()
            } else {
                state.runner.writeStdin(content, flush: false)
                if !stdinTouched.contains(where: { $0 === state }) { stdinTouched.append(state) }
                if !state.runner.stdinHasRoom { blockedOn = id }
            }
        case .data:
            break  // filter role only; we never accept that role
        case .endRequest, .stdout, .stderr, .getValuesResult, .unknownType:
            context.log.error("unexpected \(type) record from the front end ignored")
        }
    }

    private func answerGetValues(_ content: UnsafeRawBufferPointer) {
        let max = String(context.options.maxChildren)
        var answer: [(String, String)] = []
        try? FastCGINameValuePairs.forEachPair(content) { name, _ in
            switch String(decoding: name, as: UTF8.self) {
            case "FCGI_MAX_CONNS": answer.append(("FCGI_MAX_CONNS", max))
            case "FCGI_MAX_REQS": answer.append(("FCGI_MAX_REQS", max))
            case "FCGI_MPXS_CONNS": answer.append(("FCGI_MPXS_CONNS", "1"))
            default: break
            }
        }
        var out: [UInt8] = []
        FastCGIRecordEncoder.getValuesResult(answer, into: &out)
        socket.outBuffer.append(out)
        socket.flush()
    }

    private func start(_ state: FastCGIRequestState, _ env: CGIEnvironment) {
        guard context.canSpawn else {
            context.log.error("too many CGI processes (\(context.options.maxChildren)): request overloaded")
            requests[state.requestId] = nil
            state.runner.abort()
            endRequest(state.requestId, appStatus: 0, status: .overloaded, keepConnection: state.keepConnection)
            return
        }
        do {
            try state.runner.start(environment: env)
        } catch {
            context.log.error("\(error.message) -> \(error.status)")
            requests[state.requestId] = nil
            state.runner.abort()
            error.cgiResponse.withUnsafeBytes { appendStdout(state.requestId, $0) }
            endRequest(state.requestId, appStatus: 0, status: .requestComplete, keepConnection: state.keepConnection, endStdout: true)
            return
        }
        state.started = true
        if stdoutPaused { state.runner.pauseStdout() }
    }

    // MARK: records out

    func requestStdout(_ state: FastCGIRequestState, _ bytes: UnsafeRawBufferPointer) {
        guard !socket.closed else { return }
        if !bytes.isEmpty { appendStdout(state.requestId, bytes) }
        socket.flush()
        if socket.isBehind && !stdoutPaused {
            stdoutPaused = true
            for r in requests.values { r.runner.pauseStdout() }
        }
    }

    func socketWritable(_ socket: BridgeSocket) {
        guard stdoutPaused else { return }
        stdoutPaused = false
        for r in requests.values { r.runner.resumeStdout() }
    }

    func requestStdinDrained(_ state: FastCGIRequestState) {
        guard blockedOn == state.requestId else { return }
        blockedOn = nil
        socket.resumeInput()
        processRecords()
    }

    func requestFinished(_ state: FastCGIRequestState, appStatus: UInt32) {
        guard requests[state.requestId] === state else { return }
        requests[state.requestId] = nil
        state.runner.release()
        if blockedOn == state.requestId { blockedOn = nil; socket.resumeInput() }
        endRequest(state.requestId, appStatus: appStatus, status: .requestComplete, keepConnection: state.keepConnection, endStdout: true)
        if !closing && blockedOn == nil && socket.inBuffer.readableBytes > 0 { processRecords() }
    }

    /// Empty STDOUT (when a response was started) + END_REQUEST; closes the connection after it
    /// unless the front end asked to keep it.
    private func endRequest(_ id: UInt16, appStatus: UInt32, status: FastCGIProtocolStatus, keepConnection: Bool, endStdout: Bool = false) {
        guard !socket.closed else { return }
        if endStdout { appendStdout(id, UnsafeRawBufferPointer(start: nil, count: 0)) }
        socket.outBuffer.append(writing: FastCGIRecordEncoder.endRequestLength) {
            FastCGIRecordEncoder.endRequest(requestId: id, appStatus: appStatus, protocolStatus: status, into: $0)
        }
        socket.flush()
        if !keepConnection || (requests.isEmpty && context.shuttingDown) { finish() }
    }

    /// STDOUT records carrying `bytes` (the empty record, which ends the stream, when empty),
    /// written straight into the output buffer.
    private func appendStdout(_ id: UInt16, _ bytes: UnsafeRawBufferPointer) {
        socket.outBuffer.append(writing: FastCGIRecordEncoder.streamLength(contentLength: bytes.count)) {
            FastCGIRecordEncoder.stream(.stdout, requestId: id, body: bytes, into: $0)
        }
    }

    // MARK: end

    /// FastCGI ends each stdin with an empty record, so a front end that closes the connection
    /// (lighttpd and nginx never half-close it) has gone away: its CGIs are terminated.
    func socketReadClosed(_ socket: BridgeSocket) {
        if !requests.isEmpty { context.log.error("front end closed the connection with \(requests.count) request(s) running") }
        finish()
    }

    func beginShutdown() {
        if requests.isEmpty { finish() }
    }

    private func finish() {
        guard !closing else { return }
        closing = true
        for r in requests.values { r.runner.abort() }
        requests.removeAll()
        socket.finishAfterFlush(linger: context.shuttingDown ? 0.2 : 5)
    }

    private func drop(_ reason: String) {
        context.log.error("\(reason); dropping connection")
        closing = true
        socket.closeNow(error: nil)
    }

    func socketClosed(_ socket: BridgeSocket, error: Int32?) {
        if let error, !requests.isEmpty {
            context.log.error("front end connection lost: \(String(cString: strerror(error)))")
        }
        closing = true
        for r in requests.values { r.runner.abort() }
        requests.removeAll()
        context.release(self)
    }
}

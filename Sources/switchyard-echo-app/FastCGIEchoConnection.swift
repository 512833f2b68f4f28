import SwitchyardOS
import SwitchyardGatewayCodecs

/// A FastCGI connection from the gateway, carrying any number of concurrent requests
/// (FCGI_MPXS_CONNS=1), each with its own WebSocket state.
///
/// Records are decoded in place from the input buffer. STDIN content of an upgraded request is
/// unmasked and echoed straight from there; only a trailing partial frame is copied to the
/// request's carry-over buffer. Replies go out as STDOUT records in the shared output buffer.
/// A WebSocket ends at the empty STDIN (client FIN) or after our CLOSE reply: empty STDOUT and
/// END_REQUEST; STDIN still in flight for it is then ignored. Without FCGI_KEEP_CONN the
/// connection is closed once its last request ended. Malformed records drop the connection.
final class FastCGIEchoConnection: EchoConnection {
    private var decoder = FastCGIRecordDecoder()
    private var requests: [UInt16: FastCGIEchoRequest] = [:]
    private var closeWhenIdle = false

    override func inputReceived() {
        while !closed && !discarding {
            let next: (header: FastCGIRecordDecoder.Header, content: Range<Int>, consumed: Int)?
            do {
                next = try decoder.next(inBuffer.readable)
            } catch {
                fail("\(error)")
                return
            }
            guard let (header, range, consumed) = next else { return }
            let content = UnsafeMutableRawBufferPointer(start: inBuffer.readPointer + range.lowerBound, count: range.count)
            // Consuming only moves the cursors: the content stays valid, because nothing below
            // writes to the input buffer before the next iteration.
            inBuffer.consume(consumed)
            handle(header, content)
        }
    }

    private func handle(_ header: FastCGIRecordDecoder.Header, _ content: UnsafeMutableRawBufferPointer) {
        let id = header.requestId
        guard let type = header.knownType else {
            answerUnknownType(header.type)
            return
        }
        switch type {
        case .beginRequest:
            guard let body = FastCGIBeginRequest(content: UnsafeRawBufferPointer(content)) else {
                fail("FCGI_BEGIN_REQUEST body of \(content.count) bytes")
                return
            }
            begin(id, body)
        case .params:
            guard let request = requests[id], request.phase == .params else { return }
            if content.isEmpty {
                paramsComplete(request)
            } else if request.params.count + content.count > FastCGIEchoRequest.maxParamsBytes {
                fail("FCGI_PARAMS of request \(id) longer than \(FastCGIEchoRequest.maxParamsBytes) bytes")
            } else {
                request.params.append(contentsOf: UnsafeRawBufferPointer(content))
            }
        case .stdin:
            guard let request = requests[id] else { return }  // ended or aborted: drop what was in flight
            switch request.phase {
            case .params:
                fail("FCGI_STDIN before the end of FCGI_PARAMS for request \(id)")
            case .plain:
                if content.isEmpty {
                    end(request)
                } else {
                    appendStdout(id, UnsafeRawBufferPointer(content))
                }
            case .webSocket:
                if content.isEmpty { end(request) } else { echo(request, content) }
            }
        case .abortRequest:
            if let request = requests[id] { end(request) }
        case .data:
            break
        case .getValues:
            answerGetValues(UnsafeRawBufferPointer(content))
        case .endRequest, .stdout, .stderr, .getValuesResult, .unknownType:
            fail("record type \(type) is for an application to send, not a web server")
        }
    }

    // MARK: requests

    private func begin(_ id: UInt16, _ begin: FastCGIBeginRequest) {
        guard requests[id] == nil else {
            fail("FCGI_BEGIN_REQUEST for request \(id), which is still active")
            return
        }
        guard begin.role == FastCGIRole.responder.rawValue else {
            appendEndRequest(id, .unknownRole)
            if !begin.keepConnection { closeWhenIdle = true; closeIfIdle() }
            return
        }
        requests[id] = FastCGIEchoRequest(id: id, keepConnection: begin.keepConnection)
    }

    private func paramsComplete(_ request: FastCGIEchoRequest) {
        let env: CGIEnvironment
        do {
            env = try request.params.withUnsafeBytes { bytes throws(FastCGIError) in
                try FastCGINameValuePairs.decodeEnvironment(bytes)
            }
        } catch {
            fail("FCGI_PARAMS of request \(request.id): \(error)")
            return
        }
        request.params = []
        let kind = EchoRequest(env)
        kind.responseHead().withUnsafeBytes { appendStdout(request.id, $0) }
        switch kind {
        case .webSocket: request.phase = .webSocket
        case .plain: request.phase = .plain
        case .rejected(let status, let reason):
            // Answered and ended now: STDIN still in flight for it is dropped (the request is gone).
            log.error("request \(request.id) refused with \(status): \(reason)")
            end(request)
        }
    }

    private func echo(_ request: FastCGIEchoRequest, _ content: UnsafeMutableRawBufferPointer) {
        var sink = FastCGIReplySink(out: outBuffer, requestId: request.id)
        let echo = server.echo
        if !request.hasCarry {
            // The common case: whole frames inside this record, echoed from the input buffer.
            let result = echo.process(content, into: &sink)
            if result.ended { end(request); return }
            if result.consumed < content.count {
                request.carry.append(UnsafeRawBufferPointer(rebasing: content[result.consumed...]))
            }
        } else {
            let carry = request.carry
            carry.append(UnsafeRawBufferPointer(content))
            let result = echo.process(UnsafeMutableRawBufferPointer(start: carry.readPointer, count: carry.readableBytes), into: &sink)
            carry.consume(result.consumed)
            if result.ended { end(request) }
        }
    }

    /// Ends a request: empty STDOUT, END_REQUEST; closes the connection after the last request
    /// when FCGI_KEEP_CONN was not set.
    private func end(_ request: FastCGIEchoRequest) {
        requests[request.id] = nil
        appendStdout(request.id, UnsafeRawBufferPointer(start: nil, count: 0))
        appendEndRequest(request.id, .requestComplete)
        if !request.keepConnection { closeWhenIdle = true }
        closeIfIdle()
    }

    /// STDOUT records carrying `bytes`, or the empty one that ends the stream.
    private func appendStdout(_ id: UInt16, _ bytes: UnsafeRawBufferPointer) {
        outBuffer.append(writing: FastCGIRecordEncoder.streamLength(contentLength: bytes.count)) {
            FastCGIRecordEncoder.stream(.stdout, requestId: id, body: bytes, into: $0)
        }
    }

    private func appendEndRequest(_ id: UInt16, _ status: FastCGIProtocolStatus) {
        outBuffer.append(writing: FastCGIRecordEncoder.endRequestLength) {
            FastCGIRecordEncoder.endRequest(requestId: id, appStatus: 0, protocolStatus: status, into: $0)
        }
    }

    private func closeIfIdle() {
        if closeWhenIdle && requests.isEmpty { closeAfterFlush() }
    }

    // MARK: management records

    private func answerGetValues(_ content: UnsafeRawBufferPointer) {
        var answers: [(String, String)] = []
        do {
            try FastCGINameValuePairs.forEachPair(content) { name, _ in
                switch String(decoding: name, as: UTF8.self) {
                case "FCGI_MAX_CONNS": answers.append(("FCGI_MAX_CONNS", "1000"))
                case "FCGI_MAX_REQS": answers.append(("FCGI_MAX_REQS", "1000"))
                case "FCGI_MPXS_CONNS": answers.append(("FCGI_MPXS_CONNS", "1"))
                default: break
                }
            }
        } catch {
            fail("FCGI_GET_VALUES: \(error)")
            return
        }
        var out: [UInt8] = []
        FastCGIRecordEncoder.getValuesResult(answers, into: &out)
        outBuffer.append(out)
    }

    private func answerUnknownType(_ type: UInt8) {
        var out: [UInt8] = []
        FastCGIRecordEncoder.unknownType(type, into: &out)
        outBuffer.append(out)
    }

    // MARK: ending

    private func fail(_ reason: String) {
        log.error("malformed FastCGI input, dropping the connection: \(reason)")
        closeNow()
    }

    override func inputEnded() {
        requests.removeAll()
        closeAfterFlush()
    }

    override func trimBuffers() {
        super.trimBuffers()
        for request in requests.values { request.trim() }
    }

    override func connectionClosed() {
        requests.removeAll()
    }
}

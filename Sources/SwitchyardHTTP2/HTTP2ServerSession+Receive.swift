/// Input: the client preface, then frames (RFC 9113 §3.4, §4, §6), dispatched by type.
extension HTTP2ServerSession {
    /// Feeds received bytes; returns what happened (the bytes of `.data` events are not kept:
    /// for callers that only look at the other events).
    public mutating func receive(_ bytes: UnsafeRawBufferPointer, now: UInt64 = 0) -> [HTTP2Event] {
        var events: [HTTP2Event] = []
        var payloads: [UInt8] = []
        receive(bytes, now: now, into: &events, payloads: &payloads)
        return events
    }

    /// Feeds received bytes (`now`: a monotonic clock in milliseconds, read only by the flood
    /// limits). Appends what happened to `events` and the request body bytes of its `.data` events
    /// to `payloads`. Both arrays are the caller's: the I/O layer passes the same ones back each
    /// time (emptied, their capacity kept), and a call nested in its handling of the events gets
    /// other ones, so no event ever points into bytes that moved.
    public mutating func receive(_ bytes: UnsafeRawBufferPointer, now: UInt64 = 0, into events: inout [HTTP2Event],
                                 payloads: inout [UInt8]) {
        swap(&payloads, &payloadSink)
        receiveFrames(bytes, now: now, into: &events)
        swap(&payloads, &payloadSink)
    }

    public mutating func receive(_ bytes: [UInt8], now: UInt64 = 0) -> [HTTP2Event] {
        bytes.withUnsafeBytes { receive($0, now: now) }
    }

    public mutating func receive(_ bytes: [UInt8], now: UInt64 = 0, payloads: inout [UInt8]) -> [HTTP2Event] {
        var events: [HTTP2Event] = []
        bytes.withUnsafeBytes { receive($0, now: now, into: &events, payloads: &payloads) }
        return events
    }

    private mutating func receiveFrames(_ bytes: UnsafeRawBufferPointer, now: UInt64, into events: inout [HTTP2Event]) {
        guard !isTerminated else { return }
        self.now = now
        do throws(HTTP2Error) {
            var input = bytes
            if prefaceMatched < HTTP2Protocol.clientPreface.count {
                input = try matchPreface(input)
            }
            if inbound.isEmpty {
                // Common case: frames decoded straight from the caller's bytes, only a tail kept.
                let used = try processFrames(input, &events)
                if !isTerminated { inbound.append(contentsOf: input[used...]) }
            } else {
                inbound.append(contentsOf: input)
                let buffered = inbound
                let result: Result<Int, HTTP2Error> = buffered.withUnsafeBytes { raw in
                    do throws(HTTP2Error) { return .success(try processFrames(raw, &events)) } catch { return .failure(error) }
                }
                let used = try result.get()
                if !isTerminated { inbound.removeFirst(min(used, inbound.count)) }
            }
        } catch {
            fail(error, &events)
        }
    }

    /// Ends the connection: GOAWAY with the error, then nothing more is processed.
    mutating func fail(_ error: HTTP2Error, _ events: inout [HTTP2Event]) {
        guard !isTerminated else { return }
        let debug = Array(error.reason.utf8.prefix(256))
        write(.goAway(lastStreamID: highestPeerStreamID, code: error.code, debugData: debug), stream: 0)
        terminalError = error
        inbound = []
        pendingHeaders = nil
        events.append(.connectionError(error))
    }

    private mutating func matchPreface(_ input: UnsafeRawBufferPointer) throws(HTTP2Error) -> UnsafeRawBufferPointer {
        let preface = HTTP2Protocol.clientPreface
        var index = 0
        while index < input.count && prefaceMatched < preface.count {
            guard input[index] == preface[prefaceMatched] else {
                throw .connection(.protocolError, "invalid connection preface")
            }
            index += 1
            prefaceMatched += 1
        }
        return UnsafeRawBufferPointer(rebasing: input[index...])
    }

    /// Decodes and handles every complete frame in `input`; returns the bytes used.
    private mutating func processFrames(_ input: UnsafeRawBufferPointer, _ events: inout [HTTP2Event]) throws(HTTP2Error) -> Int {
        var offset = 0
        while !isTerminated {
            let rest = UnsafeRawBufferPointer(rebasing: input[offset...])
            // A request's HEADERS (a whole block, the usual case) is decoded where it lies.
            if pendingHeaders == nil && receivedPeerSettings, let headers = try frameDecoder.completeHeaderBlock(rest) {
                offset += headers.consumed
                do throws(HTTP2Error) {
                    try checkBlockSize(streamID: headers.streamID, headers.fragment.count)
                    try finishHeaderBlock(streamID: headers.streamID, bytes: headers.fragment, endStream: headers.endStream,
                                          priority: headers.priority, &events)
                } catch where error.scope == .stream {
                    try streamError(error, &events)
                }
                continue
            }
            // So is a DATA frame (a relayed message, a body chunk): no frame value, no payload array.
            if pendingHeaders == nil && receivedPeerSettings, let data = frameDecoder.completeDataFrame(rest) {
                offset += data.consumed
                do throws(HTTP2Error) {
                    try receiveData(streamID: data.streamID, data.payload, endStream: data.endStream,
                                    flowControlledLength: data.payload.count, &events)
                } catch where error.scope == .stream {
                    try streamError(error, &events)
                }
                continue
            }
            let decoded: (frame: HTTP2Frame, consumed: Int)?
            do throws(HTTP2Error) {
                decoded = try frameDecoder.decode(rest)
            } catch where error.scope == .stream {
                // A frame-local stream error (bad PRIORITY size, zero stream WINDOW_UPDATE): its
                // length is in its header, so skip it and reset only that stream.
                try streamError(error, &events)
                offset += HTTP2Protocol.frameHeaderLength + (Int(rest[0]) << 16 | Int(rest[1]) << 8 | Int(rest[2]))
                continue
            }
            guard let (frame, consumed) = decoded else { break }
            offset += consumed
            do throws(HTTP2Error) {
                try process(frame, &events)
            } catch where error.scope == .stream {
                try streamError(error, &events)
            }
        }
        return offset
    }

    private mutating func process(_ frame: HTTP2Frame, _ events: inout [HTTP2Event]) throws(HTTP2Error) {
        if pendingHeaders != nil {
            try continueHeaderBlock(frame, &events)
            return
        }
        if !receivedPeerSettings {
            guard case .settings(ack: false, _) = frame.payload else {
                throw .connection(.protocolError, "the first frame after the preface must be SETTINGS")
            }
        }
        switch frame.payload {
        case .data(let data):
            try receiveData(streamID: frame.streamID, data, &events)
        case .headers(let headers):
            try startHeaderBlock(streamID: frame.streamID, headers, &events)
        case .priority(let priority):
            // Accepted and ignored (RFC 9113 §5.3.2), but a stream cannot depend on itself.
            if priority.dependency == frame.streamID {
                throw .stream(frame.streamID, .protocolError, "stream depends on itself")
            }
        case .rstStream(let code):
            try receiveReset(streamID: frame.streamID, code: code, &events)
        case .settings(let ack, let settings):
            if ack { isAwaitingSettingsAck = false } else { try applySettings(settings, &events) }
        case .pushPromise:
            throw .connection(.protocolError, stream: frame.streamID, "PUSH_PROMISE from a client")
        case .ping(let ack, let opaque):
            try receivePing(ack: ack, opaque: opaque, &events)
        case .goAway(let lastStreamID, let code, let debugData):
            peerWentAway = true
            events.append(.goAway(lastStreamID: lastStreamID, code: code, debugData: debugData))
        case .windowUpdate(let increment):
            try receiveWindowUpdate(streamID: frame.streamID, increment: Int(increment), &events)
        case .continuation:
            throw .connection(.protocolError, stream: frame.streamID, "CONTINUATION without HEADERS")
        case .unknown:
            return   // §5.5: unknown frame types are ignored
        }
    }

    /// Applies the peer's SETTINGS and acknowledges them (`acknowledge` false: the HTTP2-Settings
    /// of an h2c upgrade, which the 101 acknowledges).
    mutating func applySettings(_ settings: [HTTP2Setting], _ events: inout [HTTP2Event],
                                acknowledge: Bool = true) throws(HTTP2Error) {
        receivedPeerSettings = true
        for setting in settings {
            let value = Int(setting.value)
            switch setting.identifier {
            case HTTP2Setting.headerTableSize:
                peerSettings.headerTableSize = value
                hpackEncoder.setPeerMaxTableSize(value)
            case HTTP2Setting.initialWindowSize:
                // §6.9.2: every stream's send window moves by the difference.
                let delta = value - peerSettings.initialWindowSize
                peerSettings.initialWindowSize = value
                for id in streams.keys {
                    guard streams[id]!.sendWindow.grow(by: delta) else {
                        throw .connection(.flowControlError, "SETTINGS_INITIAL_WINDOW_SIZE overflows stream \(id)'s window")
                    }
                }
                if delta > 0 { events.append(.windowOpened(streamID: 0)) }
            case HTTP2Setting.maxFrameSize:
                peerSettings.maxFrameSize = value
            case HTTP2Setting.maxHeaderListSize:
                peerSettings.maxHeaderListSize = value
            case HTTP2Setting.maxConcurrentStreams:
                peerSettings.maxConcurrentStreams = value
            case HTTP2Setting.enableConnectProtocol:
                peerSettings.enableConnectProtocol = value == 1
            default:
                continue   // ENABLE_PUSH (we never push) and unknown settings
            }
        }
        if acknowledge { try writeControlAnswer(.settings(ack: true, []), stream: 0) }
        events.append(.settings(settings))
    }

    private mutating func receivePing(ack: Bool, opaque: UInt64, _ events: inout [HTTP2Event]) throws(HTTP2Error) {
        guard ack else {
            try writeControlAnswer(.ping(ack: true, opaque: opaque), stream: 0)
            return
        }
        events.append(.pingAcknowledged(opaque: opaque))
        if case .draining(let drainOpaque) = shutdown, drainOpaque == opaque {
            // One round trip after the first GOAWAY: every stream the client started is here now.
            write(.goAway(lastStreamID: highestPeerStreamID, code: .noError, debugData: []), stream: 0)
            shutdown = .goAwaySent(lastStreamID: highestPeerStreamID)
        }
    }

    private mutating func receiveReset(streamID: UInt32, code: HTTP2ErrorCode, _ events: inout [HTTP2Event]) throws(HTTP2Error) {
        guard streamID <= highestPeerStreamID else {
            throw .connection(.protocolError, stream: streamID, "RST_STREAM on idle stream \(streamID)")
        }
        guard streams[streamID] != nil else { return }
        removeStream(streamID, consumerDone: true)
        events.append(.streamReset(streamID: streamID, code: code, byPeer: true))
        try countReset()
    }

    /// Rapid reset (CVE-2023-44487): too many streams ended early in the window ends the connection.
    mutating func countReset() throws(HTTP2Error) {
        guard resetCounter.record(now: now) else {
            throw .connection(.enhanceYourCalm, "more than \(limits.maxResetsPerWindow) stream resets in \(limits.resetWindowMilliseconds) ms")
        }
    }

    private mutating func receiveWindowUpdate(streamID: UInt32, increment: Int, _ events: inout [HTTP2Event]) throws(HTTP2Error) {
        if streamID == 0 {
            guard connectionSendWindow.grow(by: increment) else {
                throw .connection(.flowControlError, "connection send window above 2^31-1")
            }
            events.append(.windowOpened(streamID: 0))
            return
        }
        guard streamID <= highestPeerStreamID else {
            throw .connection(.protocolError, stream: streamID, "WINDOW_UPDATE on idle stream \(streamID)")
        }
        guard streams[streamID] != nil else { return }
        guard streams[streamID]!.sendWindow.grow(by: increment) else {
            throw .stream(streamID, .flowControlError, "stream send window above 2^31-1")
        }
        events.append(.windowOpened(streamID: streamID))
    }

    /// A stream error: RST_STREAM, the stream forgotten, the consumer told if it knew the stream.
    mutating func streamError(_ error: HTTP2Error, _ events: inout [HTTP2Event]) throws(HTTP2Error) {
        let known = streams[error.streamID] != nil
        try writeControlAnswer(.rstStream(error.code), stream: error.streamID)
        recentlyReset.insert(error.streamID)
        removeStream(error.streamID, consumerDone: true)
        if known { events.append(.streamReset(streamID: error.streamID, code: error.code, byPeer: false)) }
    }
}

import SwitchyardHTTP2

/// The load generator's HTTP/2 client for WebSockets over extended CONNECT (RFC 8441), sans-I/O:
/// bytes from the server go in (`receive`), events come out, and the bytes to send collect in
/// `output`. Built from the gateway's own codec pieces (frame decoder/encoder, HPACK), so the
/// benchmark needs no HTTP/2 library; only what a WebSocket client needs is here: preface and
/// SETTINGS, CONNECT with `:protocol websocket`, DATA both ways within the peer's windows, and
/// WINDOW_UPDATEs for what it received (every half window, so 64 B round trips cost no extra frame).
public struct H2WebSocketClient {
    public enum Event: Equatable, Sendable {
        /// The server's first SETTINGS arrived (`connectProtocolEnabled` is known from then on).
        case settings
        /// The response HEADERS of a CONNECT: `200` opens the tunnel.
        case opened(stream: UInt32, status: Int)
        /// One WebSocket data message (text or binary, one frame: the echo sends them whole).
        case message(stream: UInt32, payload: [UInt8])
        /// The stream ended: END_STREAM (code nil), RST_STREAM, or a WebSocket close frame (.noError).
        case closed(stream: UInt32, code: HTTP2ErrorCode?)
        case goAway(lastStreamID: UInt32, code: HTTP2ErrorCode)
    }

    public struct Failure: Error, Equatable, CustomStringConvertible {
        public var description: String
        public init(_ d: String) { description = d }
    }

    struct Stream {
        var sendWindow: Int
        /// WebSocket bytes not yet sent for want of window.
        var pending: [UInt8] = []
        /// Received WebSocket bytes not yet a whole frame.
        var webSocketInput: [UInt8] = []
        /// Received DATA bytes not yet returned with a WINDOW_UPDATE.
        var unacknowledged = 0
    }

    /// Bytes to send; the I/O layer takes them (`takeOutput`).
    public private(set) var output: [UInt8] = []
    public private(set) var connectProtocolEnabled = false
    public private(set) var settingsReceived = false
    /// Our stream and connection receive window (advertised in SETTINGS and the first WINDOW_UPDATE).
    public let receiveWindow: Int
    var decoder = HTTP2FrameDecoder()
    var encoder = HPACKEncoder()
    var headerDecoder = HPACKDecoder()
    var input: [UInt8] = []
    var streams: [UInt32: Stream] = [:]
    var nextStreamID: UInt32 = 1
    var peerInitialWindow = HTTP2Protocol.defaultWindowSize
    var peerMaxFrameSize = HTTP2Protocol.defaultMaxFrameSize
    var connectionSendWindow = HTTP2Protocol.defaultWindowSize
    var connectionUnacknowledged = 0
    /// A header block waiting for its CONTINUATION frames.
    var headerBlock: (stream: UInt32, fragment: [UInt8], endStream: Bool)? = nil

    /// Starts the connection: preface, SETTINGS (no push, `receiveWindow` per stream) and a
    /// connection WINDOW_UPDATE up to `receiveWindow`.
    public init(receiveWindow: Int = 1 << 20) {
        self.receiveWindow = receiveWindow
        output = HTTP2Protocol.clientPreface
        HTTP2FrameEncoder.encode(HTTP2Frame(streamID: 0, payload: .settings(ack: false, [
            HTTP2Setting(HTTP2Setting.enablePush, 0), HTTP2Setting(HTTP2Setting.initialWindowSize, UInt32(receiveWindow)),
        ])), into: &output)
        if receiveWindow > HTTP2Protocol.defaultWindowSize {
            windowUpdate(stream: 0, UInt32(receiveWindow - HTTP2Protocol.defaultWindowSize))
        }
    }

    public mutating func takeOutput() -> [UInt8] {
        defer { output.removeAll(keepingCapacity: true) }
        return output
    }

    public var openStreams: Int { streams.count }

    /// Sends an extended CONNECT for a WebSocket at `path`; its stream id. The server must have
    /// allowed it first (RFC 8441 §3: wait for SETTINGS_ENABLE_CONNECT_PROTOCOL = 1).
    public mutating func openWebSocket(authority: String, path: String, scheme: String = "https") throws(Failure) -> UInt32 {
        guard connectProtocolEnabled else { throw Failure("the server did not send SETTINGS_ENABLE_CONNECT_PROTOCOL = 1") }
        let id = nextStreamID
        nextStreamID += 2
        let fields = [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", scheme), (":path", path),
                      (":authority", authority), ("sec-websocket-version", "13")]
            .map { HPACKHeaderField(name: Array($0.0.utf8), value: Array($0.1.utf8)) }
        var block: [UInt8] = []
        encoder.encode(fields, into: &block)
        HTTP2FrameEncoder.encode(HTTP2Frame(streamID: id, payload: .headers(HTTP2HeadersPayload(fragment: block, endStream: false, endHeaders: true))),
                                 into: &output)
        streams[id] = Stream(sendWindow: peerInitialWindow)
        return id
    }

    /// Queues one masked binary WebSocket message on `stream` and sends what the windows allow.
    public mutating func send(message: [UInt8], on stream: UInt32, maskKey: UInt32) {
        guard streams[stream] != nil else { return }
        streams[stream]!.pending += Self.maskedFrame(opcode: 0x2, payload: message, maskKey: maskKey)
        flush(stream)
    }

    /// Ends `stream` with RST_STREAM(CANCEL) (the client is done with it).
    public mutating func cancel(stream: UInt32) {
        guard streams.removeValue(forKey: stream) != nil else { return }
        HTTP2FrameEncoder.encode(HTTP2Frame(streamID: stream, payload: .rstStream(.cancel)), into: &output)
    }

    /// Bytes from the server; the events they complete. Throws on a connection error (the
    /// benchmark reports it; there is no recovery).
    public mutating func receive(_ bytes: UnsafeRawBufferPointer) throws(Failure) -> [Event] {
        input.append(contentsOf: bytes)
        var events: [Event] = []
        var offset = 0
        defer { input.removeFirst(offset) }
        while true {
            let decoded: (frame: HTTP2Frame, consumed: Int)?
            do {
                decoded = try input.withUnsafeBytes { raw throws(HTTP2Error) in
                    try decoder.decode(UnsafeRawBufferPointer(rebasing: raw[offset...]))
                }
            } catch {
                throw Failure("bad frame from the server: \(error)")
            }
            guard let (frame, consumed) = decoded else { break }
            offset += consumed
            try handle(frame, into: &events)
        }
        acknowledgeReceived()
        return events
    }

    mutating func handle(_ frame: HTTP2Frame, into events: inout [Event]) throws(Failure) {
        if headerBlock != nil {
            guard case .continuation = frame.payload else { throw Failure("frame other than CONTINUATION inside a header block") }
        }
        let id = frame.streamID
        switch frame.payload {
        case .settings(let ack, let settings):
            guard !ack else { return }
            apply(settings)
            HTTP2FrameEncoder.encode(HTTP2Frame(streamID: 0, payload: .settings(ack: true, [])), into: &output)
            if !settingsReceived {
                settingsReceived = true
                events.append(.settings)
            }
        case .ping(let ack, let opaque):
            if !ack { HTTP2FrameEncoder.encode(HTTP2Frame(streamID: 0, payload: .ping(ack: true, opaque: opaque)), into: &output) }
        case .windowUpdate(let increment):
            if id == 0 {
                connectionSendWindow += Int(increment)
                for s in streams.keys.sorted() where !(streams[s]?.pending.isEmpty ?? true) { flush(s) }
            } else if streams[id] != nil {
                streams[id]!.sendWindow += Int(increment)
                flush(id)
            }
        case .headers(let h):
            headerBlock = (id, h.fragment, h.endStream)
            if h.endHeaders { try endHeaderBlock(into: &events) }
        case .continuation(let fragment, let endHeaders):
            guard headerBlock?.stream == id else { throw Failure("CONTINUATION without its HEADERS") }
            headerBlock!.fragment += fragment
            if endHeaders { try endHeaderBlock(into: &events) }
        case .data(let d):
            connectionUnacknowledged += d.flowControlledLength
            guard streams[id] != nil else { return }
            streams[id]!.unacknowledged += d.flowControlledLength
            streams[id]!.webSocketInput += d.bytes
            try deliverMessages(id, into: &events)
            if d.endStream, streams.removeValue(forKey: id) != nil { events.append(.closed(stream: id, code: nil)) }
        case .rstStream(let code):
            if streams.removeValue(forKey: id) != nil { events.append(.closed(stream: id, code: code)) }
        case .goAway(let last, let code, _):
            events.append(.goAway(lastStreamID: last, code: code))
        case .priority, .pushPromise, .unknown:
            return
        }
    }

    mutating func apply(_ settings: [HTTP2Setting]) {
        for s in settings {
            switch s.identifier {
            case HTTP2Setting.enableConnectProtocol: connectProtocolEnabled = s.value == 1
            case HTTP2Setting.maxFrameSize: peerMaxFrameSize = Int(s.value)
            case HTTP2Setting.headerTableSize: encoder.setPeerMaxTableSize(Int(s.value))
            case HTTP2Setting.initialWindowSize:
                let delta = Int(s.value) - peerInitialWindow
                peerInitialWindow = Int(s.value)
                for k in streams.keys { streams[k]!.sendWindow += delta }
            default: break
            }
        }
    }

    mutating func endHeaderBlock(into events: inout [Event]) throws(Failure) {
        guard let (id, fragment, endStream) = headerBlock else { return }
        headerBlock = nil
        let fields: [HPACKHeaderField]
        do { fields = try headerDecoder.decode(fragment).fields } catch { throw Failure("bad header block: \(error)") }
        guard streams[id] != nil else { return }
        if let status = fields.first(where: { $0.name == Array(":status".utf8) }).flatMap({ Int(String(decoding: $0.value, as: UTF8.self)) }) {
            events.append(.opened(stream: id, status: status))
        }
        if endStream, streams.removeValue(forKey: id) != nil { events.append(.closed(stream: id, code: nil)) }
    }

    mutating func deliverMessages(_ id: UInt32, into events: inout [Event]) throws(Failure) {
        var used = 0
        defer { if used > 0 { streams[id]?.webSocketInput.removeFirst(used) } }
        guard let bytes = streams[id]?.webSocketInput else { return }
        while let frame = Self.parseFrame(bytes, from: used) {
            used += frame.consumed
            switch frame.opcode {
            case 0x1, 0x2: events.append(.message(stream: id, payload: frame.payload))
            case 0x8:
                streams[id] = nil
                events.append(.closed(stream: id, code: .noError))
                used = 0
                return
            default: continue   // ping/pong/continuations: the echo sends none
            }
        }
    }

    /// One WebSocket frame at `start` of `bytes` (a server's frames are unmasked; a masked one is
    /// unmasked all the same); nil while incomplete.
    public static func parseFrame(_ bytes: [UInt8], from start: Int = 0) -> (opcode: UInt8, payload: [UInt8], consumed: Int)? {
        guard bytes.count - start >= 2 else { return nil }
        let opcode = bytes[start] & 0x0F, masked = bytes[start + 1] & 0x80 != 0
        var length = Int(bytes[start + 1] & 0x7F), header = 2
        if length == 126 || length == 127 {
            let n = length == 126 ? 2 : 8
            guard bytes.count - start >= 2 + n else { return nil }
            length = 0
            for i in 0..<n { length = length << 8 | Int(bytes[start + 2 + i]) }
            header += n
        }
        let keyAt = start + header
        if masked { header += 4 }
        guard length >= 0, bytes.count - start >= header + length else { return nil }
        var payload = Array(bytes[(start + header)..<(start + header + length)])
        if masked {
            for i in payload.indices { payload[i] ^= bytes[keyAt + i % 4] }
        }
        return (opcode, payload, header + length)
    }

    /// A client frame (RFC 6455 §5.2: FIN, masked with `maskKey`).
    public static func maskedFrame(opcode: UInt8, payload: [UInt8], maskKey: UInt32) -> [UInt8] {
        var out: [UInt8] = [0x80 | opcode]
        if payload.count <= 125 {
            out.append(0x80 | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            out += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            out.append(0x80 | 127)
            for i in (0..<8).reversed() { out.append(UInt8(truncatingIfNeeded: payload.count >> (8 * i))) }
        }
        let key = (0..<4).map { UInt8(truncatingIfNeeded: maskKey >> (24 - 8 * $0)) }
        out += key
        for (i, b) in payload.enumerated() { out.append(b ^ key[i % 4]) }
        return out
    }

    /// Sends `stream`'s pending bytes as far as both windows and the frame size allow.
    mutating func flush(_ id: UInt32) {
        guard var s = streams[id] else { return }
        var sent = 0
        while sent < s.pending.count {
            let n = min(s.pending.count - sent, s.sendWindow, connectionSendWindow, peerMaxFrameSize)
            guard n > 0 else { break }
            s.pending.withUnsafeBytes { raw in
                HTTP2FrameEncoder.appendData(streamID: id, UnsafeRawBufferPointer(rebasing: raw[sent..<(sent + n)]), endStream: false, into: &output)
            }
            sent += n
            s.sendWindow -= n
            connectionSendWindow -= n
        }
        s.pending.removeFirst(sent)
        streams[id] = s
    }

    /// WINDOW_UPDATE for whatever reached half a window since the last one.
    mutating func acknowledgeReceived() {
        let half = receiveWindow / 2
        if connectionUnacknowledged >= half {
            windowUpdate(stream: 0, UInt32(connectionUnacknowledged))
            connectionUnacknowledged = 0
        }
        for (id, s) in streams where s.unacknowledged >= half {
            windowUpdate(stream: id, UInt32(s.unacknowledged))
            streams[id]!.unacknowledged = 0
        }
    }

    mutating func windowUpdate(stream: UInt32, _ increment: UInt32) {
        HTTP2FrameEncoder.encode(HTTP2Frame(streamID: stream, payload: .windowUpdate(increment: increment)), into: &output)
    }
}

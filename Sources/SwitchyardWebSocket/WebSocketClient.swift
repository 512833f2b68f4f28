import Glibc

/// Blocking WebSocket client over one TCP socket, for integration tests and tools.
///
/// Plain blocking `read`/`send` with an optional `SO_RCVTIMEO`/`SO_SNDTIMEO` timeout keep test code
/// linear and make every wire event observable: nothing is answered automatically (no auto-pong,
/// no automatic close reply), and `sendRaw` can put any bytes on the wire for fault tests.
/// Not thread-safe; use one client per thread.
public final class WebSocketClient {
    public struct Options {
        /// Sent as `Origin` when set. The seed `ws_echo.py` needs one.
        public var origin: String? = nil
        /// Sent after the standard handshake headers, in order.
        public var extraHeaders: [(String, String)] = []
        /// Accept masked server frames (the seed `ws_echo.py` masks its echoes) and any close code.
        public var lenient: Bool = false
        /// Receive/send timeout (also bounds `connect`); 0 or less = wait forever.
        public var timeoutSeconds: Double = 10
        /// Offered in `Sec-WebSocket-Protocol` when not empty.
        public var subprotocols: [String] = []
        /// Verify `Sec-WebSocket-Accept`; off to talk to deliberately broken servers.
        public var checkAccept: Bool = true
        /// Largest single frame payload accepted.
        public var maxPayload: Int = 16 << 20 + 1024
        /// Fail text messages and close reasons that are not UTF-8 (1007).
        public var validateUTF8: Bool = true
        /// Set `TCP_NODELAY` so small frames are not delayed by Nagle's algorithm.
        public var noDelay: Bool = true
        public init() {}
    }

    public typealias HandshakeResponse = WebSocketHandshakeResponse

    public enum ClientError: Error, CustomStringConvertible {
        case connectFailed(String)
        /// The server answered with a status other than 101.
        case handshakeRejected(HandshakeResponse)
        case badAccept(expected: String, got: String?)
        /// Status 101, but a header rule of RFC 6455 4.1 is broken (Upgrade, Connection, extensions, protocol).
        case invalidHandshake(String, HandshakeResponse)
        case io(String)
        case protocolError(WebSocketProtocolError)
        /// The socket timeout expired.
        case timeout
        /// The peer closed the connection (EOF at a frame boundary), or the socket was closed locally.
        case closed

        public var description: String {
            switch self {
            case .connectFailed(let s): return "connect failed: \(s)"
            case .handshakeRejected(let r): return "handshake rejected: \(r.statusLine)"
            case .badAccept(let expected, let got): return "bad Sec-WebSocket-Accept: expected \(expected), got \(got ?? "none")"
            case .invalidHandshake(let s, _): return "invalid handshake response: \(s)"
            case .io(let s): return "I/O error: \(s)"
            case .protocolError(let e): return e.description
            case .timeout: return "timed out"
            case .closed: return "connection closed"
            }
        }
    }

    public let url: WebSocketURL
    public let options: Options
    /// The server's handshake response.
    public private(set) var handshake: HandshakeResponse
    /// The request that was sent (key included).
    public let request: WebSocketClientHandshake
    /// Mask key of the last received frame (nil = unmasked, as RFC 6455 requires of servers).
    public private(set) var lastReceivedMaskKey: UInt32? = nil
    /// How many received frames were masked (only possible with `lenient`).
    public private(set) var maskedFramesReceived = 0
    /// A CLOSE frame has been received from the peer.
    public private(set) var receivedClose = false
    /// A CLOSE frame has been sent.
    public private(set) var sentClose = false
    /// The socket, or -1 once closed.
    public private(set) var fileDescriptor: Int32 = -1

    private var decoder: WebSocketFrameDecoder
    private var assembler: WebSocketMessageAssembler
    private var random = FastRandom()
    private var output: [UInt8] = []
    // Receive buffer: bytes readStart..<readEnd are unconsumed.
    private var storage: UnsafeMutableRawPointer
    private var capacity: Int
    private var readStart = 0
    private var readEnd = 0

    /// Connects to `url` (e.g. "ws://127.0.0.1:8080/path?x", "ws://[::1]:8080/") and performs the
    /// opening handshake with a random key. Bytes the server sent after its head are kept as frames.
    public init(url: String, options: Options = .init()) throws(ClientError) {
        guard let parsed = WebSocketURL(string: url) else { throw .connectFailed("invalid ws:// URL: \(url)") }
        self.url = parsed
        self.options = options
        self.request = WebSocketClientHandshake(host: parsed.hostHeader, path: parsed.path, origin: options.origin,
                                                key: WebSocketHandshake.generateKey(),
                                                extraHeaders: options.extraHeaders, subprotocols: options.subprotocols)
        self.handshake = HandshakeResponse(statusLine: "", status: 0, headers: [], rawHead: "")
        self.decoder = WebSocketFrameDecoder(role: .client, maxPayload: options.maxPayload, lenient: options.lenient)
        self.assembler = WebSocketMessageAssembler(maxMessageSize: max(options.maxPayload, 64 << 20),
                                                   validateUTF8: options.validateUTF8,
                                                   validateCloseCodes: !options.lenient)
        self.capacity = 64 << 10
        self.storage = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        do {
            try connect()
            try performHandshake()
        } catch {
            closeSocket()
            throw error
        }
    }

    deinit {
        closeSocket()
        storage.deallocate()
    }

    // MARK: Sending

    /// Sends one frame, masked with a fresh random key.
    public func send(_ opcode: WebSocketOpcode, _ payload: [UInt8], fin: Bool = true) throws(ClientError) {
        output.removeAll(keepingCapacity: true)
        let key = UInt32(truncatingIfNeeded: random.next())
        WebSocketFrameEncoder.encode(opcode: opcode, payload: payload, fin: fin, maskKey: key, into: &output)
        try writeAll(output)
        if opcode == .close { sentClose = true }
    }

    /// Sends a single-frame text message.
    public func send(text: String) throws(ClientError) {
        try send(.text, Array(text.utf8))
    }

    /// Writes `bytes` as they are: split frames, unmasked frames, garbage.
    public func sendRaw(_ bytes: [UInt8]) throws(ClientError) {
        try writeAll(bytes)
    }

    // MARK: Receiving

    /// The next single frame, as it arrived (fragments and control frames are not combined).
    public func receiveFrame() throws(ClientError) -> WebSocketFrame {
        while true {
            let input = UnsafeRawBufferPointer(start: storage + readStart, count: readEnd - readStart)
            let header: WebSocketFrameHeader?
            do { header = try decoder.decodeHeader(input) } catch { throw .protocolError(error) }
            if let header, input.count >= header.frameLength {
                let decoded: (frame: WebSocketFrame, consumed: Int)?
                do { decoded = try decoder.decode(input) } catch { throw .protocolError(error) }
                guard let (frame, consumed) = decoded else { break }
                readStart += consumed
                if readStart == readEnd { readStart = 0; readEnd = 0 }
                lastReceivedMaskKey = frame.maskKey
                if frame.maskKey != nil { maskedFramesReceived += 1 }
                if frame.opcode == .close { receivedClose = true }
                return frame
            }
            let missing = header.map { $0.frameLength - input.count } ?? 1
            try fill(minimumFree: max(missing, 4096))
        }
        throw .io("decoder inconsistency")
    }

    /// The next message: data fragments are reassembled; control frames (also those arriving
    /// between fragments) are returned as they come. Nothing is answered automatically.
    public func receiveMessage() throws(ClientError) -> WebSocketMessage {
        while true {
            let frame = try receiveFrame()
            do {
                if let message = try assembler.push(frame) { return message }
            } catch {
                throw .protocolError(error)
            }
        }
    }

    // MARK: Closing

    /// Sends CLOSE (unless already sent), waits for the peer's CLOSE or EOF, then closes the socket.
    /// Returns the peer's CLOSE as a message, or nil on EOF or if it had already been received.
    @discardableResult
    public func close(code: UInt16 = 1000, reason: String = "") throws(ClientError) -> WebSocketMessage? {
        guard fileDescriptor >= 0 else { throw .closed }
        defer { closeSocket() }
        if !sentClose {
            do {
                try send(.close, WebSocketFrameEncoder.closePayload(code: code, reason: reason))
            } catch {
                // The peer may already be gone after its own CLOSE.
                if !receivedClose { throw error }
            }
        }
        if receivedClose { return nil }
        while true {
            let frame: WebSocketFrame
            do {
                frame = try receiveFrame()
            } catch {
                if case .closed = error { return nil }
                throw error
            }
            if frame.opcode == .close {
                do {
                    return try WebSocketMessageAssembler.closeMessage(frame.payload, validateCodes: !options.lenient,
                                                                      validateUTF8: options.validateUTF8)
                } catch {
                    throw .protocolError(error)
                }
            }
        }
    }

    /// Half-closes the connection (sends FIN); reading still works.
    public func shutdownWrite() {
        if fileDescriptor >= 0 { _ = Glibc.shutdown(fileDescriptor, Int32(SHUT_WR)) }
    }

    /// Closes the socket without any WebSocket closing handshake.
    public func closeSocket() {
        if fileDescriptor >= 0 {
            _ = Glibc.close(fileDescriptor)
            fileDescriptor = -1
        }
    }

    // MARK: Connection setup

    private func connect() throws(ClientError) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>? = nil
        let rc = getaddrinfo(url.host, String(url.port), &hints, &list)
        guard rc == 0 else {
            throw .connectFailed("getaddrinfo(\(url.host)): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no addresses for \(url.host)"
        var entry = list
        while let ai = entry {
            entry = ai.pointee.ai_next
            let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), ai.pointee.ai_protocol)
            if fd < 0 { lastError = "socket: \(Self.errnoString())"; continue }
            configure(fd)
            if Glibc.connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 {
                fileDescriptor = fd
                return
            }
            let e = errno
            lastError = e == EINPROGRESS || e == EAGAIN ? "connect to \(url.hostHeader) timed out"
                : "connect to \(url.hostHeader): \(Self.errnoString(e))"
            _ = Glibc.close(fd)
        }
        throw .connectFailed(lastError)
    }

    private func configure(_ fd: Int32) {
        if options.timeoutSeconds > 0 {
            let seconds = options.timeoutSeconds.rounded(.down)
            var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((options.timeoutSeconds - seconds) * 1_000_000))
            if tv.tv_sec == 0 && tv.tv_usec == 0 { tv.tv_usec = 1 }
            let size = socklen_t(MemoryLayout<timeval>.size)
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, size)
            _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, size)
        }
        if options.noDelay {
            var one: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    private func performHandshake() throws(ClientError) {
        try writeAll(request.requestBytes())
        while true {
            let input = UnsafeRawBufferPointer(start: storage + readStart, count: readEnd - readStart)
            switch WebSocketClientHandshake.parseResponse(input) {
            case .needMore:
                do {
                    try fill(minimumFree: 4096)
                } catch {
                    switch error {
                    case .closed: throw .io("connection closed before the handshake response was complete")
                    case .io(let s) where s.hasPrefix("connection closed"):
                        throw .io("connection closed before the handshake response was complete")
                    default: throw error
                    }
                }
            case .invalid(let reason):
                throw .io("invalid handshake response: \(reason)")
            case .done(let response, let consumed):
                readStart += consumed
                if readStart == readEnd { readStart = 0; readEnd = 0 }
                handshake = response
                guard response.status == 101 else { throw .handshakeRejected(response) }
                if options.checkAccept {
                    let got = response.header("Sec-WebSocket-Accept")
                    if got != request.expectedAccept { throw .badAccept(expected: request.expectedAccept, got: got) }
                }
                if let problem = request.validate(response, checkAccept: false) {
                    throw .invalidHandshake(problem, response)
                }
                return
            }
        }
    }

    // MARK: Raw I/O

    /// Reads at least one byte into the buffer after making room for `minimumFree` bytes.
    private func fill(minimumFree: Int) throws(ClientError) {
        guard fileDescriptor >= 0 else { throw .closed }
        ensureFree(minimumFree)
        while true {
            let n = Glibc.read(fileDescriptor, storage + readEnd, capacity - readEnd)
            if n > 0 { readEnd += n; return }
            if n == 0 {
                throw readEnd > readStart ? .io("connection closed in the middle of a frame") : .closed
            }
            let e = errno
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { throw .timeout }
            throw .io("read: \(Self.errnoString(e))")
        }
    }

    private func ensureFree(_ wanted: Int) {
        if capacity - readEnd >= wanted { return }
        if readStart > 0 {
            let count = readEnd - readStart
            if count > 0 { memmove(storage, storage + readStart, count) }
            readStart = 0
            readEnd = count
        }
        if capacity - readEnd >= wanted { return }
        let newCapacity = max(capacity * 2, readEnd + wanted)
        let bigger = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        if readEnd > 0 { bigger.copyMemory(from: storage, byteCount: readEnd) }
        storage.deallocate()
        storage = bigger
        capacity = newCapacity
    }

    private func writeAll(_ bytes: [UInt8]) throws(ClientError) {
        guard fileDescriptor >= 0 else { throw .closed }
        let fd = fileDescriptor
        let failure: ClientError? = bytes.withUnsafeBytes { raw -> ClientError? in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if n >= 0 { offset += n; continue }
                let e = errno
                if e == EINTR { continue }
                if e == EAGAIN || e == EWOULDBLOCK { return .timeout }
                return .io("send: \(Self.errnoString(e))")
            }
            return nil
        }
        if let failure { throw failure }
    }

    private static func errnoString(_ e: Int32 = errno) -> String {
        "\(String(cString: strerror(e))) (errno \(e))"
    }
}

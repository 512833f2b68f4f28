@testable import SwitchyardHTTP2

/// A scripted HTTP/2 client for the session tests: builds frames (with its own HPACK encoder) and
/// reads back what the server wrote (with its own HPACK decoder).
struct HTTP2TestClient {
    var encoder = HPACKEncoder()
    var decoder = HPACKDecoder()
    var session: HTTP2ServerSession

    /// The session's queries the I/O layer asks in place are `mutating` (see
    /// `HTTP2ServerSession.hasOutput`); a test's `#expect` reads them from a copy.
    var canClose: Bool { var copy = session; return copy.canClose }
    func sendWindow(_ streamID: UInt32) -> Int { var copy = session; return copy.sendWindow(streamID: streamID) }
    var now: UInt64 = 0

    init(limits: HTTP2Limits = HTTP2Limits()) {
        session = HTTP2ServerSession(limits: limits)
    }

    static func frame(_ payload: HTTP2Frame.Payload, stream: UInt32, padding: Int? = nil) -> [UInt8] {
        var out: [UInt8] = []
        HTTP2FrameEncoder.encode(HTTP2Frame(streamID: stream, payload: payload), padding: padding, into: &out)
        return out
    }

    func preface(settings: [HTTP2Setting] = []) -> [UInt8] {
        HTTP2Protocol.clientPreface + Self.frame(.settings(ack: false, settings), stream: 0)
    }

    mutating func block(_ pairs: [(String, String)]) -> [UInt8] {
        var out: [UInt8] = []
        encoder.encode(pairs.map { HPACKHeaderField(name: $0.0, value: $0.1) }, into: &out)
        return out
    }

    static func get(_ path: String = "/") -> [(String, String)] {
        [(":method", "GET"), (":scheme", "https"), (":authority", "example.com"), (":path", path)]
    }

    mutating func headers(_ stream: UInt32, _ pairs: [(String, String)], endStream: Bool = true) -> [UInt8] {
        Self.frame(.headers(HTTP2HeadersPayload(fragment: block(pairs), endStream: endStream, endHeaders: true)), stream: stream)
    }

    static func data(_ stream: UInt32, _ bytes: [UInt8], endStream: Bool = false, padding: Int? = nil) -> [UInt8] {
        frame(.data(HTTP2DataPayload(bytes: bytes, endStream: endStream)), stream: stream, padding: padding)
    }

    /// Every request body byte the session reported, in order (`.data` events are ranges in it).
    var payloads: [UInt8] = []

    /// Feeds bytes to the session.
    mutating func send(_ bytes: [UInt8]) -> [HTTP2Event] {
        session.receive(bytes, now: now, payloads: &payloads)
    }

    /// The bytes of a `.data` event of this client's.
    func bytes(_ range: Range<Int>) -> [UInt8] { Array(payloads[range]) }

    /// A session past the preface and SETTINGS exchange, its output drained.
    static func connected(limits: HTTP2Limits = HTTP2Limits(), settings: [HTTP2Setting] = []) -> HTTP2TestClient {
        var client = HTTP2TestClient(limits: limits)
        _ = client.send(client.preface(settings: settings))
        _ = client.session.takeOutput()
        return client
    }

    /// Frames the server wrote since the last call.
    mutating func received() -> [HTTP2Frame] {
        Self.frames(session.takeOutput())
    }

    static func frames(_ bytes: [UInt8]) -> [HTTP2Frame] {
        let decoder = HTTP2FrameDecoder(maxFrameSize: HTTP2Protocol.maxAllowedFrameSize)
        var frames: [HTTP2Frame] = []
        var offset = 0
        bytes.withUnsafeBytes { raw in
            while offset < raw.count, let (frame, used) = try? decoder.decode(UnsafeRawBufferPointer(rebasing: raw[offset...])) {
                frames.append(frame)
                offset += used
            }
        }
        precondition(offset == bytes.count, "server output does not decode as frames")
        return frames
    }

    /// Decodes a header block the server sent.
    mutating func decodeBlock(_ fragment: [UInt8]) -> [(String, String)] {
        ((try? decoder.decode(fragment))?.fields ?? []).map { ($0.nameString, $0.valueString) }
    }
}

extension Array where Element == HTTP2Frame {
    /// The GOAWAY error code, if a GOAWAY is among the frames.
    var goAwayCode: HTTP2ErrorCode? {
        for frame in self { if case .goAway(_, let code, _) = frame.payload { return code } }
        return nil
    }

    /// The RST_STREAM code sent on `stream`, if any.
    func resetCode(_ stream: UInt32) -> HTTP2ErrorCode? {
        for frame in self where frame.streamID == stream { if case .rstStream(let code) = frame.payload { return code } }
        return nil
    }

    func windowUpdates(_ stream: UInt32) -> [UInt32] {
        compactMap { frame in
            if frame.streamID == stream, case .windowUpdate(let increment) = frame.payload { return increment }
            return nil
        }
    }
}

extension Array where Element == HTTP2Event {
    var requests: [(UInt32, HTTP2RequestHead)] {
        compactMap { if case .request(let id, let head, _) = $0 { return (id, head) } else { return nil } }
    }

    var connectionError: HTTP2Error? {
        for event in self { if case .connectionError(let error) = event { return error } }
        return nil
    }
}

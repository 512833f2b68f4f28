/// Writes HTTP/2 frames (RFC 9113 §4.1, §6) into a byte buffer the I/O layer sends.
///
/// Stateless: the caller (the session) decides sizes and splits; `encode` only refuses nothing,
/// so frames that the session never sends (PUSH_PROMISE, padding) can still be produced by tests.
public enum HTTP2FrameEncoder {
    /// Appends the 9-byte frame header, as one append (not nine, each checking the capacity).
    public static func appendHeader(length: Int, type: UInt8, flags: UInt8, streamID: UInt32, into out: inout [UInt8]) {
        let id = streamID & HTTP2Protocol.maxStreamID
        let header: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (
            UInt8(truncatingIfNeeded: length >> 16), UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length),
            type, flags,
            UInt8(truncatingIfNeeded: id >> 24), UInt8(truncatingIfNeeded: id >> 16), UInt8(truncatingIfNeeded: id >> 8),
            UInt8(truncatingIfNeeded: id))
        withUnsafeBytes(of: header) { out.append(contentsOf: $0) }
    }

    /// Appends `frame`; `padding` (0–255 bytes, only for DATA, HEADERS and PUSH_PROMISE) adds a
    /// Pad Length byte and that many zero bytes.
    public static func encode(_ frame: HTTP2Frame, padding: Int? = nil, into out: inout [UInt8]) {
        var flags: UInt8 = 0
        var body: [UInt8] = []
        let type: UInt8
        switch frame.payload {
        case .data(let data):
            type = HTTP2FrameType.data
            if data.endStream { flags |= HTTP2Flags.endStream }
            body = data.bytes
        case .headers(let headers):
            type = HTTP2FrameType.headers
            if headers.endStream { flags |= HTTP2Flags.endStream }
            if headers.endHeaders { flags |= HTTP2Flags.endHeaders }
            if let priority = headers.priority {
                flags |= HTTP2Flags.priority
                appendPriority(priority, into: &body)
            }
            body += headers.fragment
        case .priority(let priority):
            type = HTTP2FrameType.priority
            appendPriority(priority, into: &body)
        case .rstStream(let code):
            type = HTTP2FrameType.rstStream
            appendUInt32(code.rawValue, into: &body)
        case .settings(let ack, let settings):
            type = HTTP2FrameType.settings
            if ack { flags |= HTTP2Flags.ack }
            for setting in settings {
                body.append(UInt8(setting.identifier >> 8))
                body.append(UInt8(truncatingIfNeeded: setting.identifier))
                appendUInt32(setting.value, into: &body)
            }
        case .pushPromise(let promised, let fragment, let endHeaders):
            type = HTTP2FrameType.pushPromise
            if endHeaders { flags |= HTTP2Flags.endHeaders }
            appendUInt32(promised, into: &body)
            body += fragment
        case .ping(let ack, let opaque):
            type = HTTP2FrameType.ping
            if ack { flags |= HTTP2Flags.ack }
            appendUInt32(UInt32(truncatingIfNeeded: opaque >> 32), into: &body)
            appendUInt32(UInt32(truncatingIfNeeded: opaque), into: &body)
        case .goAway(let lastStreamID, let code, let debugData):
            type = HTTP2FrameType.goAway
            appendUInt32(lastStreamID, into: &body)
            appendUInt32(code.rawValue, into: &body)
            body += debugData
        case .windowUpdate(let increment):
            type = HTTP2FrameType.windowUpdate
            appendUInt32(increment, into: &body)
        case .continuation(let fragment, let endHeaders):
            type = HTTP2FrameType.continuation
            if endHeaders { flags |= HTTP2Flags.endHeaders }
            body = fragment
        case .unknown(let unknownType, let unknownFlags, let payload):
            type = unknownType
            flags = unknownFlags
            body = payload
        }
        if let padding, [HTTP2FrameType.data, HTTP2FrameType.headers, HTTP2FrameType.pushPromise].contains(type) {
            flags |= HTTP2Flags.padded
            let pad = min(max(padding, 0), 255)
            appendHeader(length: body.count + 1 + pad, type: type, flags: flags, streamID: frame.streamID, into: &out)
            out.append(UInt8(pad))
            out += body
            out += repeatElement(0, count: pad)
            return
        }
        appendHeader(length: body.count, type: type, flags: flags, streamID: frame.streamID, into: &out)
        out += body
    }

    /// A DATA frame straight from the caller's bytes (the hot path: no intermediate frame value).
    public static func appendData(streamID: UInt32, _ bytes: UnsafeRawBufferPointer, endStream: Bool, into out: inout [UInt8]) {
        appendHeader(length: bytes.count, type: HTTP2FrameType.data, flags: endStream ? HTTP2Flags.endStream : 0,
                     streamID: streamID, into: &out)
        out.append(contentsOf: bytes)
    }

    static func appendPriority(_ priority: HTTP2Priority, into out: inout [UInt8]) {
        appendUInt32(priority.dependency & 0x7fff_ffff | (priority.exclusive ? 0x8000_0000 : 0), into: &out)
        out.append(priority.weight)
    }

    @inline(__always)
    static func appendUInt32(_ value: UInt32, into out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: value >> 24))
        out.append(UInt8(truncatingIfNeeded: value >> 16))
        out.append(UInt8(truncatingIfNeeded: value >> 8))
        out.append(UInt8(truncatingIfNeeded: value))
    }
}

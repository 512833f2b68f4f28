/// Sans-I/O frame decoder (RFC 9113 §4.1, §6): bytes in, one frame (or "need more") out.
///
/// It checks everything that can be checked from a single frame: its length against the
/// advertised SETTINGS_MAX_FRAME_SIZE (§4.2), the fixed payload sizes, the stream id 0 / non-0 rule
/// of each type, padding (§6.1), zero WINDOW_UPDATE increments and SETTINGS values (§6.5.2).
/// Sequencing (CONTINUATION, stream states) is the session's job. A frame's length is known from
/// its first 3 bytes, so an oversized frame is refused before its payload is buffered.
public struct HTTP2FrameDecoder: Sendable {
    /// Largest payload accepted (our SETTINGS_MAX_FRAME_SIZE).
    public var maxFrameSize: Int

    public init(maxFrameSize: Int = HTTP2Protocol.defaultMaxFrameSize) {
        self.maxFrameSize = maxFrameSize
    }

    /// Decodes the frame at the start of `input`; nil until it is complete.
    public func decode(_ input: UnsafeRawBufferPointer) throws(HTTP2Error) -> (frame: HTTP2Frame, consumed: Int)? {
        guard input.count >= HTTP2Protocol.frameHeaderLength else { return nil }
        let length = Int(input[0]) << 16 | Int(input[1]) << 8 | Int(input[2])
        let type = input[3], flags = input[4]
        let streamID = readUInt32(input, 5) & HTTP2Protocol.maxStreamID
        guard length <= maxFrameSize else {
            throw .connection(.frameSizeError, stream: streamID, "frame of \(length) bytes exceeds SETTINGS_MAX_FRAME_SIZE \(maxFrameSize)")
        }
        let total = HTTP2Protocol.frameHeaderLength + length
        guard input.count >= total else { return nil }
        let body = UnsafeRawBufferPointer(rebasing: input[HTTP2Protocol.frameHeaderLength..<total])
        let payload = try decodePayload(type: type, flags: flags, streamID: streamID, body)
        return (HTTP2Frame(streamID: streamID, payload: payload), total)
    }

    /// Convenience for tests: decodes the frame at the start of `bytes`.
    public func decode(_ bytes: [UInt8]) throws(HTTP2Error) -> (frame: HTTP2Frame, consumed: Int)? {
        let result: Result<(frame: HTTP2Frame, consumed: Int)?, HTTP2Error> = bytes.withUnsafeBytes { raw in
            do throws(HTTP2Error) { return .success(try decode(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    private func decodePayload(type: UInt8, flags: UInt8, streamID: UInt32,
                               _ body: UnsafeRawBufferPointer) throws(HTTP2Error) -> HTTP2Frame.Payload {
        switch type {
        case HTTP2FrameType.data:
            try requireStream(streamID, "DATA")
            let content = try unpad(body, flags: flags, streamID: streamID)
            return .data(HTTP2DataPayload(bytes: Array(content), endStream: flags & HTTP2Flags.endStream != 0,
                                          flowControlledLength: body.count))
        case HTTP2FrameType.headers:
            let (content, priority) = try headersParts(flags: flags, streamID: streamID, body)
            return .headers(HTTP2HeadersPayload(fragment: Array(content), endStream: flags & HTTP2Flags.endStream != 0,
                                                endHeaders: flags & HTTP2Flags.endHeaders != 0, priority: priority))
        case HTTP2FrameType.priority:
            try requireStream(streamID, "PRIORITY")
            guard body.count == 5 else { throw .stream(streamID, .frameSizeError, "PRIORITY payload of \(body.count) bytes") }
            return .priority(Self.priority(body))
        case HTTP2FrameType.rstStream:
            try requireStream(streamID, "RST_STREAM")
            guard body.count == 4 else { throw .connection(.frameSizeError, stream: streamID, "RST_STREAM payload of \(body.count) bytes") }
            return .rstStream(HTTP2ErrorCode(readUInt32(body, 0)))
        case HTTP2FrameType.settings:
            return try decodeSettings(flags: flags, streamID: streamID, body)
        case HTTP2FrameType.pushPromise:
            try requireStream(streamID, "PUSH_PROMISE")
            let content = try unpad(body, flags: flags, streamID: streamID, fixedFields: 4)
            guard content.count >= 4 else { throw .connection(.frameSizeError, stream: streamID, "PUSH_PROMISE too short") }
            return .pushPromise(promisedStreamID: readUInt32(content, 0) & HTTP2Protocol.maxStreamID,
                                fragment: Array(content[4...]), endHeaders: flags & HTTP2Flags.endHeaders != 0)
        case HTTP2FrameType.ping:
            try requireConnection(streamID, "PING")
            guard body.count == 8 else { throw .connection(.frameSizeError, "PING payload of \(body.count) bytes") }
            return .ping(ack: flags & HTTP2Flags.ack != 0, opaque: UInt64(readUInt32(body, 0)) << 32 | UInt64(readUInt32(body, 4)))
        case HTTP2FrameType.goAway:
            try requireConnection(streamID, "GOAWAY")
            guard body.count >= 8 else { throw .connection(.frameSizeError, "GOAWAY payload of \(body.count) bytes") }
            return .goAway(lastStreamID: readUInt32(body, 0) & HTTP2Protocol.maxStreamID,
                           code: HTTP2ErrorCode(readUInt32(body, 4)), debugData: Array(body[8...]))
        case HTTP2FrameType.windowUpdate:
            guard body.count == 4 else { throw .connection(.frameSizeError, stream: streamID, "WINDOW_UPDATE payload of \(body.count) bytes") }
            let increment = readUInt32(body, 0) & 0x7fff_ffff
            if increment == 0 {
                throw streamID == 0 ? .connection(.protocolError, "WINDOW_UPDATE with increment 0")
                                    : .stream(streamID, .protocolError, "WINDOW_UPDATE with increment 0")
            }
            return .windowUpdate(increment: increment)
        case HTTP2FrameType.continuation:
            try requireStream(streamID, "CONTINUATION")
            return .continuation(fragment: Array(body), endHeaders: flags & HTTP2Flags.endHeaders != 0)
        default:
            return .unknown(type: type, flags: flags, payload: Array(body))
        }
    }

    /// A complete HEADERS frame that carries a whole header block (END_HEADERS set): its fragment
    /// as a view into `input`, checked as `decode` checks it. The session decodes a request's block
    /// right there, without the fragment array (an allocation and a copy) that `decode` makes.
    /// nil for anything else (another type, a block continued in CONTINUATION frames, a frame not
    /// complete yet or too large): `decode` handles those.
    public func completeHeaderBlock(_ input: UnsafeRawBufferPointer) throws(HTTP2Error) -> HTTP2HeaderBlockView? {
        guard input.count >= HTTP2Protocol.frameHeaderLength, input[3] == HTTP2FrameType.headers,
              input[4] & HTTP2Flags.endHeaders != 0 else { return nil }
        let length = Int(input[0]) << 16 | Int(input[1]) << 8 | Int(input[2])
        let total = HTTP2Protocol.frameHeaderLength + length
        guard length <= maxFrameSize, input.count >= total else { return nil }
        let flags = input[4]
        let streamID = readUInt32(input, 5) & HTTP2Protocol.maxStreamID
        let body = UnsafeRawBufferPointer(rebasing: input[HTTP2Protocol.frameHeaderLength..<total])
        let (fragment, priority) = try headersParts(flags: flags, streamID: streamID, body)
        return HTTP2HeaderBlockView(streamID: streamID, fragment: fragment, endStream: flags & HTTP2Flags.endStream != 0,
                                    priority: priority, consumed: total)
    }

    /// A complete, unpadded DATA frame on a stream: its payload as a view into `input`. The
    /// session hands the bytes on from there, without the frame value and payload array `decode`
    /// makes. nil for anything else (another type, padding, stream 0, a frame not complete yet or
    /// too large): `decode` handles those, errors included.
    public func completeDataFrame(_ input: UnsafeRawBufferPointer) -> HTTP2DataFrameView? {
        guard input.count >= HTTP2Protocol.frameHeaderLength, input[3] == HTTP2FrameType.data,
              input[4] & HTTP2Flags.padded == 0 else { return nil }
        let length = Int(input[0]) << 16 | Int(input[1]) << 8 | Int(input[2])
        let total = HTTP2Protocol.frameHeaderLength + length
        let streamID = readUInt32(input, 5) & HTTP2Protocol.maxStreamID
        guard length <= maxFrameSize, input.count >= total, streamID != 0 else { return nil }
        return HTTP2DataFrameView(streamID: streamID,
                                  payload: UnsafeRawBufferPointer(rebasing: input[HTTP2Protocol.frameHeaderLength..<total]),
                                  endStream: input[4] & HTTP2Flags.endStream != 0, consumed: total)
    }

    /// A HEADERS payload taken apart: the fragment (padding and priority removed) and the priority.
    private func headersParts(flags: UInt8, streamID: UInt32,
                              _ body: UnsafeRawBufferPointer) throws(HTTP2Error) -> (UnsafeRawBufferPointer, HTTP2Priority?) {
        try requireStream(streamID, "HEADERS")
        let hasPriority = flags & HTTP2Flags.priority != 0
        var content = try unpad(body, flags: flags, streamID: streamID, fixedFields: hasPriority ? 5 : 0)
        var priority: HTTP2Priority?
        if hasPriority {
            guard content.count >= 5 else { throw .connection(.frameSizeError, stream: streamID, "HEADERS too short for its priority") }
            priority = Self.priority(content)
            content = UnsafeRawBufferPointer(rebasing: content[5...])
        }
        return (content, priority)
    }

    private func decodeSettings(flags: UInt8, streamID: UInt32, _ body: UnsafeRawBufferPointer) throws(HTTP2Error) -> HTTP2Frame.Payload {
        try requireConnection(streamID, "SETTINGS")
        let ack = flags & HTTP2Flags.ack != 0
        if ack && body.count != 0 { throw .connection(.frameSizeError, "SETTINGS ACK with a payload") }
        guard body.count % 6 == 0 else { throw .connection(.frameSizeError, "SETTINGS payload of \(body.count) bytes") }
        var settings: [HTTP2Setting] = []
        settings.reserveCapacity(body.count / 6)
        var offset = 0
        while offset < body.count {
            let setting = HTTP2Setting(UInt16(body[offset]) << 8 | UInt16(body[offset + 1]), readUInt32(body, offset + 2))
            try Self.validate(setting)
            settings.append(setting)
            offset += 6
        }
        return .settings(ack: ack, settings)
    }

    /// §6.5.2 value ranges (RFC 8441 §3 for ENABLE_CONNECT_PROTOCOL).
    static func validate(_ setting: HTTP2Setting) throws(HTTP2Error) {
        switch setting.identifier {
        case HTTP2Setting.enablePush where setting.value > 1:
            throw .connection(.protocolError, "SETTINGS_ENABLE_PUSH \(setting.value)")
        case HTTP2Setting.enableConnectProtocol where setting.value > 1:
            throw .connection(.protocolError, "SETTINGS_ENABLE_CONNECT_PROTOCOL \(setting.value)")
        case HTTP2Setting.initialWindowSize where setting.value > UInt32(HTTP2Protocol.maxWindowSize):
            throw .connection(.flowControlError, "SETTINGS_INITIAL_WINDOW_SIZE \(setting.value)")
        case HTTP2Setting.maxFrameSize
            where setting.value < UInt32(HTTP2Protocol.defaultMaxFrameSize) || setting.value > UInt32(HTTP2Protocol.maxAllowedFrameSize):
            throw .connection(.protocolError, "SETTINGS_MAX_FRAME_SIZE \(setting.value)")
        default:
            return
        }
    }

    private func requireStream(_ streamID: UInt32, _ name: String) throws(HTTP2Error) {
        if streamID == 0 { throw .connection(.protocolError, "\(name) on stream 0") }
    }

    private func requireConnection(_ streamID: UInt32, _ name: String) throws(HTTP2Error) {
        if streamID != 0 { throw .connection(.protocolError, stream: streamID, "\(name) on stream \(streamID)") }
    }

    /// Strips §6.1 padding: a Pad Length byte, then that many bytes at the end. Padding may not eat
    /// into the fields before the fragment (`fixedFields`: HEADERS' priority, §6.2; the promised
    /// id, §6.6): "padding that exceeds the size remaining for the fragment" is PROTOCOL_ERROR too.
    private func unpad(_ body: UnsafeRawBufferPointer, flags: UInt8, streamID: UInt32,
                       fixedFields: Int = 0) throws(HTTP2Error) -> UnsafeRawBufferPointer {
        guard flags & HTTP2Flags.padded != 0 else { return body }
        guard body.count >= 1 + fixedFields else { throw .connection(.frameSizeError, stream: streamID, "padded frame too short") }
        let padLength = Int(body[0])
        guard padLength < body.count - fixedFields else {
            throw .connection(.protocolError, stream: streamID, "padding of \(padLength) bytes in a \(body.count)-byte payload")
        }
        return UnsafeRawBufferPointer(rebasing: body[1..<(body.count - padLength)])
    }

    private static func priority(_ bytes: UnsafeRawBufferPointer) -> HTTP2Priority {
        let word = readUInt32(bytes, 0)
        return HTTP2Priority(exclusive: word & 0x8000_0000 != 0, dependency: word & 0x7fff_ffff, weight: bytes[4])
    }
}

@inline(__always)
func readUInt32(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
    UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
}

/// A HEADERS frame with a whole header block, its fragment still in the decoder's input
/// (`HTTP2FrameDecoder.completeHeaderBlock`): valid only as long as that input is.
public struct HTTP2HeaderBlockView {
    public var streamID: UInt32
    public var fragment: UnsafeRawBufferPointer
    public var endStream: Bool
    public var priority: HTTP2Priority?
    /// The frame's size, header included.
    public var consumed: Int
}

/// An unpadded DATA frame, its payload still in the decoder's input
/// (`HTTP2FrameDecoder.completeDataFrame`): valid only as long as that input is.
public struct HTTP2DataFrameView {
    public var streamID: UInt32
    public var payload: UnsafeRawBufferPointer
    public var endStream: Bool
    /// The frame's size, header included.
    public var consumed: Int
}

import Testing
@testable import SwitchyardHTTP2

/// Frame layout and per-frame checks (RFC 9113 §4.1, §4.2, §6).
struct HTTP2FrameCodecTests {
    func decode(_ bytes: [UInt8], maxFrameSize: Int = 16_384) throws(HTTP2Error) -> HTTP2Frame? {
        try HTTP2FrameDecoder(maxFrameSize: maxFrameSize).decode(bytes)?.frame
    }

    func decodeError(_ bytes: [UInt8]) -> HTTP2Error? {
        do { _ = try decode(bytes); return nil } catch { return error }
    }

    static let samples: [HTTP2Frame] = [
        HTTP2Frame(streamID: 1, payload: .data(HTTP2DataPayload(bytes: [1, 2, 3], endStream: true))),
        HTTP2Frame(streamID: 3, payload: .headers(HTTP2HeadersPayload(fragment: [0x82, 0x84], endStream: false, endHeaders: true,
                                                                      priority: HTTP2Priority(exclusive: true, dependency: 1, weight: 200)))),
        HTTP2Frame(streamID: 5, payload: .priority(HTTP2Priority(exclusive: false, dependency: 3, weight: 15))),
        HTTP2Frame(streamID: 7, payload: .rstStream(.cancel)),
        HTTP2Frame(streamID: 0, payload: .settings(ack: false, [HTTP2Setting(HTTP2Setting.enableConnectProtocol, 1),
                                                                HTTP2Setting(0x99, 12345)])),
        HTTP2Frame(streamID: 0, payload: .settings(ack: true, [])),
        HTTP2Frame(streamID: 9, payload: .pushPromise(promisedStreamID: 2, fragment: [0x82], endHeaders: true)),
        HTTP2Frame(streamID: 0, payload: .ping(ack: true, opaque: 0xdead_beef_0102_0304)),
        HTTP2Frame(streamID: 0, payload: .goAway(lastStreamID: 11, code: .enhanceYourCalm, debugData: Array("calm".utf8))),
        HTTP2Frame(streamID: 0, payload: .windowUpdate(increment: 65_535)),
        HTTP2Frame(streamID: 13, payload: .continuation(fragment: [0x86], endHeaders: false)),
        HTTP2Frame(streamID: 15, payload: .unknown(type: 0xfa, flags: 0x3, payload: [9, 9])),
    ]

    @Test func everyFrameTypeRoundTrips() throws {
        for frame in Self.samples {
            var bytes: [UInt8] = []
            HTTP2FrameEncoder.encode(frame, into: &bytes)
            let result = try HTTP2FrameDecoder().decode(bytes)
            #expect(result?.frame == frame)
            #expect(result?.consumed == bytes.count)
            // Every proper prefix asks for more bytes.
            for cut in 0..<bytes.count { #expect(try HTTP2FrameDecoder().decode(Array(bytes[0..<cut])) == nil) }
        }
    }

    @Test func goldenBytes() {
        var bytes: [UInt8] = []
        HTTP2FrameEncoder.encode(HTTP2Frame(streamID: 0, payload: .ping(ack: true, opaque: 1)), into: &bytes)
        #expect(bytes == [0, 0, 8, 6, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
        bytes = []
        HTTP2FrameEncoder.encode(HTTP2Frame(streamID: 3, payload: .rstStream(.refusedStream)), into: &bytes)
        #expect(bytes == [0, 0, 4, 3, 0, 0, 0, 0, 3, 0, 0, 0, 7])
    }

    @Test func paddingIsStrippedAndCounted() throws {
        var bytes: [UInt8] = []
        HTTP2FrameEncoder.encode(HTTP2Frame(streamID: 1, payload: .data(HTTP2DataPayload(bytes: [7, 7], endStream: false))),
                                 padding: 5, into: &bytes)
        #expect(bytes[4] == HTTP2Flags.padded && bytes.count == 9 + 1 + 2 + 5)
        guard case .data(let data)? = try decode(bytes)?.payload else { Issue.record("not DATA"); return }
        #expect(data.bytes == [7, 7] && data.flowControlledLength == 8)
        bytes = []
        HTTP2FrameEncoder.encode(HTTP2Frame(streamID: 1, payload: .headers(HTTP2HeadersPayload(fragment: [0x82], endStream: true,
                                 endHeaders: true, priority: HTTP2Priority(exclusive: false, dependency: 0, weight: 1)))),
                                 padding: 3, into: &bytes)
        guard case .headers(let headers)? = try decode(bytes)?.payload else { Issue.record("not HEADERS"); return }
        #expect(headers.fragment == [0x82] && headers.priority?.weight == 1)
    }

    /// The session's in-place view of a whole header block reads a HEADERS frame as `decode` does
    /// (padding, priority, flags, the checks), and leaves everything else to `decode`.
    @Test func completeHeaderBlockIsDecodeInPlace() throws {
        let decoder = HTTP2FrameDecoder()
        func view(_ bytes: [UInt8]) throws(HTTP2Error) -> HTTP2HeaderBlockView? {
            let result: Result<HTTP2HeaderBlockView?, HTTP2Error> = bytes.withUnsafeBytes { raw in
                do throws(HTTP2Error) { return .success(try decoder.completeHeaderBlock(raw)) } catch { return .failure(error) }
            }
            return try result.get()
        }
        let priority = HTTP2Priority(exclusive: true, dependency: 3, weight: 9)
        for (padding, prio, endStream) in [(nil, nil, true), (4, nil, false), (nil, priority, true), (2, priority, false)] as [(Int?, HTTP2Priority?, Bool)] {
            var bytes: [UInt8] = []
            let payload = HTTP2HeadersPayload(fragment: [0x82, 0x86, 0x84], endStream: endStream, endHeaders: true, priority: prio)
            HTTP2FrameEncoder.encode(HTTP2Frame(streamID: 5, payload: .headers(payload)), padding: padding, into: &bytes)
            bytes += [0, 0, 0]   // the next frame's first bytes
            let got = try #require(try view(bytes))
            #expect(Array(got.fragment) == payload.fragment && got.priority == prio && got.endStream == endStream)
            #expect(got.streamID == 5 && got.consumed == bytes.count - 3)
            guard case .headers(let decoded)? = try decode(bytes)?.payload else { Issue.record("not HEADERS"); return }
            #expect(decoded.fragment == Array(got.fragment) && decoded.priority == got.priority)
            #expect(try view(Array(bytes[..<(bytes.count - 4)])) == nil, "incomplete")
        }
        var continued: [UInt8] = []
        HTTP2FrameEncoder.encode(HTTP2Frame(streamID: 1, payload: .headers(HTTP2HeadersPayload(fragment: [0x82], endStream: true,
                                                                                              endHeaders: false))), into: &continued)
        #expect(try view(continued) == nil, "a block continued in CONTINUATION frames")
        var ping: [UInt8] = []
        HTTP2FrameEncoder.encode(HTTP2Frame(streamID: 0, payload: .ping(ack: false, opaque: 1)), into: &ping)
        #expect(try view(ping) == nil)
        var onStreamZero: [UInt8] = []
        HTTP2FrameEncoder.encode(HTTP2Frame(streamID: 0, payload: .headers(HTTP2HeadersPayload(fragment: [0x82], endStream: true,
                                                                                              endHeaders: true))), into: &onStreamZero)
        #expect(throws: HTTP2Error.self) { try view(onStreamZero) }
    }

    /// The session's in-place view of an unpadded DATA frame reads it as `decode` does, and leaves
    /// padded frames, stream 0, oversized and incomplete frames (and their errors) to `decode`.
    @Test func completeDataFrameIsDecodeInPlace() throws {
        let decoder = HTTP2FrameDecoder(maxFrameSize: 16_384)
        func view(_ bytes: [UInt8]) -> HTTP2DataFrameView? {
            bytes.withUnsafeBytes { raw in decoder.completeDataFrame(raw) }
        }
        for (body, endStream, stream) in [([UInt8](), true, UInt32(1)), ([1, 2, 3], false, 7), (Array(repeating: 9, count: 16_384), true, 0x7fff_ffff)] {
            var bytes: [UInt8] = []
            body.withUnsafeBytes { HTTP2FrameEncoder.appendData(streamID: stream, $0, endStream: endStream, into: &bytes) }
            var encoded: [UInt8] = []
            HTTP2FrameEncoder.encode(HTTP2Frame(streamID: stream, payload: .data(HTTP2DataPayload(bytes: body, endStream: endStream))),
                                     into: &encoded)
            #expect(bytes == encoded, "appendData writes the frame encode writes")
            bytes += [0, 0]   // the next frame's first bytes
            let got = try #require(view(bytes))
            #expect(Array(got.payload) == body && got.endStream == endStream && got.streamID == stream && got.consumed == bytes.count - 2)
            guard case .data(let decoded)? = try decode(bytes)?.payload else { Issue.record("not DATA"); return }
            #expect(decoded.bytes == body && decoded.endStream == endStream)
            #expect(view(Array(bytes[..<(bytes.count - 3)])) == nil, "incomplete")
        }
        var padded: [UInt8] = []
        HTTP2FrameEncoder.encode(HTTP2Frame(streamID: 1, payload: .data(HTTP2DataPayload(bytes: [1], endStream: false))), padding: 2,
                                 into: &padded)
        #expect(view(padded) == nil, "padded: decode's")
        var onStreamZero: [UInt8] = []
        HTTP2FrameEncoder.appendData(streamID: 0, UnsafeRawBufferPointer(start: nil, count: 0), endStream: false, into: &onStreamZero)
        #expect(view(onStreamZero) == nil, "stream 0: decode's connection error")
        #expect(throws: HTTP2Error.self) { try decode(onStreamZero) }
        let oversized: [UInt8] = [0, 0x40, 0x01, 0, 0, 0, 0, 0, 1] + [UInt8](repeating: 0, count: 16_385)
        #expect(view(oversized) == nil, "too large: decode's FRAME_SIZE_ERROR")
        #expect(throws: HTTP2Error.self) { try decode(oversized) }
    }

    @Test func malformedFrames() {
        func raw(_ type: UInt8, flags: UInt8 = 0, stream: UInt32, _ payload: [UInt8]) -> [UInt8] {
            var out: [UInt8] = []
            HTTP2FrameEncoder.appendHeader(length: payload.count, type: type, flags: flags, streamID: stream, into: &out)
            return out + payload
        }
        let cases: [(String, [UInt8], HTTP2ErrorCode, HTTP2Error.Scope)] = [
            ("DATA on stream 0", raw(0, stream: 0, [1]), .protocolError, .connection),
            ("padding >= payload", raw(0, flags: HTTP2Flags.padded, stream: 1, [3, 0, 0]), .protocolError, .connection),
            ("padded without pad length", raw(0, flags: HTTP2Flags.padded, stream: 1, []), .frameSizeError, .connection),
            ("HEADERS on stream 0", raw(1, flags: 4, stream: 0, [0x82]), .protocolError, .connection),
            ("HEADERS short priority", raw(1, flags: HTTP2Flags.priority, stream: 1, [0, 0]), .frameSizeError, .connection),
            // §6.2: padding that reaches into the priority fields (PROTOCOL_ERROR; FRAME_SIZE_ERROR before the fix).
            ("HEADERS padding over its priority", raw(1, flags: HTTP2Flags.padded | HTTP2Flags.priority | 4, stream: 1,
                                                      [3, 0, 0, 0, 0, 16, 0x82]), .protocolError, .connection),
            ("PUSH_PROMISE padding over its promised id", raw(5, flags: HTTP2Flags.padded | 4, stream: 1, [2, 0, 0, 0, 2]),
             .protocolError, .connection),
            ("PRIORITY of 4 bytes", raw(2, stream: 1, [0, 0, 0, 0]), .frameSizeError, .stream),
            ("RST_STREAM of 3 bytes", raw(3, stream: 1, [0, 0, 0]), .frameSizeError, .connection),
            ("RST_STREAM on stream 0", raw(3, stream: 0, [0, 0, 0, 0]), .protocolError, .connection),
            ("SETTINGS on stream 1", raw(4, stream: 1, []), .protocolError, .connection),
            ("SETTINGS ACK with payload", raw(4, flags: 1, stream: 0, [0, 1, 0, 0, 0, 0]), .frameSizeError, .connection),
            ("SETTINGS of 5 bytes", raw(4, stream: 0, [0, 1, 0, 0, 0]), .frameSizeError, .connection),
            ("ENABLE_PUSH 2", raw(4, stream: 0, [0, 2, 0, 0, 0, 2]), .protocolError, .connection),
            ("INITIAL_WINDOW_SIZE 2^31", raw(4, stream: 0, [0, 4, 0x80, 0, 0, 0]), .flowControlError, .connection),
            ("MAX_FRAME_SIZE 100", raw(4, stream: 0, [0, 5, 0, 0, 0, 100]), .protocolError, .connection),
            ("ENABLE_CONNECT_PROTOCOL 2", raw(4, stream: 0, [0, 8, 0, 0, 0, 2]), .protocolError, .connection),
            ("PING of 7 bytes", raw(6, stream: 0, [0, 0, 0, 0, 0, 0, 0]), .frameSizeError, .connection),
            ("PING on stream 1", raw(6, stream: 1, [0, 0, 0, 0, 0, 0, 0, 0]), .protocolError, .connection),
            ("GOAWAY of 7 bytes", raw(7, stream: 0, [0, 0, 0, 0, 0, 0, 0]), .frameSizeError, .connection),
            ("WINDOW_UPDATE of 3 bytes", raw(8, stream: 0, [0, 0, 1]), .frameSizeError, .connection),
            ("WINDOW_UPDATE 0 on the connection", raw(8, stream: 0, [0, 0, 0, 0]), .protocolError, .connection),
            ("WINDOW_UPDATE 0 on a stream", raw(8, stream: 1, [0, 0, 0, 0]), .protocolError, .stream),
            ("CONTINUATION on stream 0", raw(9, stream: 0, []), .protocolError, .connection),
        ]
        for (name, bytes, code, scope) in cases {
            let error = decodeError(bytes)
            #expect(error?.code == code && error?.scope == scope, "\(name): \(String(describing: error))")
        }
    }

    /// §4.2: the length is checked from the header alone, before the payload is buffered.
    @Test func oversizedFrameIsRefusedFromItsHeader() {
        var header: [UInt8] = []
        HTTP2FrameEncoder.appendHeader(length: 16_385, type: 0, flags: 0, streamID: 1, into: &header)
        #expect(decodeError(header)?.code == .frameSizeError)
        #expect((try? decode(header, maxFrameSize: 20_000)) == .some(nil), "within a larger limit: just incomplete")
    }

    @Test func reservedBitsAreIgnored() throws {
        // Stream id with the reserved bit set, WINDOW_UPDATE increment with the reserved bit set.
        let bytes: [UInt8] = [0, 0, 4, 8, 0, 0x80, 0, 0, 1, 0x80, 0, 0, 10]
        #expect(try decode(bytes) == HTTP2Frame(streamID: 1, payload: .windowUpdate(increment: 10)))
    }
}

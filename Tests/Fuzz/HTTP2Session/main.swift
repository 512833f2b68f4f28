// fuzz-http2-session: HTTP2ServerSession (frames, HPACK, stream states, flow control, limits).
// Input: [options: bit 0 = small limits (2 streams, 1 KiB header list, 4 CONTINUATIONs, 8 resets),
// bit 1 = prepend the client preface and an empty SETTINGS, bit 2 = respond to requests]
// [read-split seed][bytes from the client].
// Checks: the session's output is always a sequence of well-formed frames (decodable with the largest
// frame size) whose HEADERS blocks decode with a fresh HPACK decoder in order; live streams never
// exceed SETTINGS_MAX_CONCURRENT_STREAMS; buffered input stays under one frame; after a connection
// error the output ends with GOAWAY and further input yields nothing. Without responses (bit 2 clear),
// the whole input and the split reads give the same events and the same output bytes.
import FuzzSupport
import SwitchyardHTTP2

func makeLimits(small: Bool) -> HTTP2Limits {
    var limits = HTTP2Limits()
    if small {
        limits.maxConcurrentStreams = 2
        limits.maxHeaderListSize = 1024
        limits.maxContinuationFrames = 4
        limits.maxResetsPerWindow = 8
        limits.maxQueuedControlFrames = 16
        limits.maxEmptyDataFramesPerWindow = 8
    }
    return limits
}

/// Feeds `bytes` in `reads`; with `respond`, answers every request with a small response.
/// The DATA bytes of every read go into one buffer (the I/O layer empties its buffer after each
/// read; here it grows), so the events' ranges count from the first byte of DATA and the whole input
/// and split reads give equal events.
func run(_ bytes: UnsafeRawBufferPointer, reads: [Range<Int>], limits: HTTP2Limits, respond: Bool)
    -> (events: [HTTP2Event], payloads: [UInt8], output: [UInt8], session: HTTP2ServerSession) {
    var session = HTTP2ServerSession(limits: limits)
    var events: [HTTP2Event] = []
    var payloads: [UInt8] = []
    var output: [UInt8] = []
    for (i, read) in reads.enumerated() {
        var batch: [HTTP2Event] = []
        var payloadEnd = payloads.count
        session.receive(slice(bytes, read), now: UInt64(i), into: &batch, payloads: &payloads)
        events += batch
        for case .data(_, let range, _) in batch {
            fuzzCheck(range.lowerBound == payloadEnd && range.upperBound <= payloads.count, "DATA payload \(range) out of place")
            payloadEnd = range.upperBound
        }
        fuzzCheck(payloadEnd == payloads.count, "payload bytes no DATA event points at")
        fuzzCheck(session.activeStreamCount <= limits.maxConcurrentStreams, "\(session.activeStreamCount) live streams")
        if respond {
            for case .request(let id, _, _) in batch {
                try? session.sendHeaders(streamID: id, fields: [HPACKHeaderField(name: ":status", value: "200")], endStream: false)
                _ = try? session.sendData(streamID: id, [UInt8](repeating: 0x41, count: 40_000), endStream: true)
            }
            for case .data(let id, let range, _) in batch { session.consumed(streamID: id, count: range.count) }
        }
        output += session.takeOutput()
    }
    if session.terminalError != nil {
        fuzzCheck(session.receive(slice(bytes, 0..<bytes.count)).isEmpty, "input processed after a connection error")
    }
    return (events, payloads, output, session)
}

/// The output must be frames; header blocks must decode in order; a connection error ends in GOAWAY.
func checkOutput(_ output: [UInt8], failed: Bool) {
    let decoder = HTTP2FrameDecoder(maxFrameSize: HTTP2Protocol.maxAllowedFrameSize)
    var hpack = HPACKDecoder(maxTableSize: 4096, maxHeaderListSize: 1 << 20)
    var block: [UInt8] = []
    var last: HTTP2Frame?
    output.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            guard let (frame, used) = try? decoder.decode(slice(raw, offset..<raw.count)) else {
                fuzzCheck(false, "server output does not decode as frames at byte \(offset)")
                return
            }
            switch frame.payload {
            case .headers(let h):
                block = h.fragment
                if h.endHeaders { fuzzCheck((try? hpack.decode(block)) != nil, "server header block does not decode") }
            case .continuation(let fragment, let end):
                block += fragment
                if end { fuzzCheck((try? hpack.decode(block)) != nil, "server header block does not decode") }
            default: break
            }
            last = frame
            offset += used
        }
    }
    if failed {
        guard case .goAway? = last?.payload else { fuzzCheck(false, "connection error without a final GOAWAY"); return }
    }
}

runFuzzer { data in
    var input = FuzzInput(data)
    let options = input.byte()
    let seed = input.byte()
    var bytes = Array(input.rest)
    if options & 2 != 0 { bytes = HTTP2Protocol.clientPreface + [0, 0, 0, 4, 0, 0, 0, 0, 0] + bytes }
    let limits = makeLimits(small: options & 1 != 0)
    bytes.withUnsafeBytes { raw in
        let respond = options & 4 != 0
        let split = run(raw, reads: readSizes(count: raw.count, seed: seed), limits: limits, respond: respond)
        checkOutput(split.output, failed: split.session.terminalError != nil)
        fuzzCheck(split.session.bufferedInputCount <= 9 + limits.maxFrameSize, "\(split.session.bufferedInputCount) bytes buffered")
        guard !respond, seed != 0 else { return }
        let whole = run(raw, reads: [0..<raw.count], limits: limits, respond: false)
        // Frames are handled only when complete, so read boundaries change nothing (but the clock,
        // which only the flood limits read: both runs trip them or the events differ in count).
        if whole.session.terminalError?.code != .enhanceYourCalm && split.session.terminalError?.code != .enhanceYourCalm {
            fuzzCheck(whole.events == split.events, "whole and split reads give different events")
            fuzzCheck(whole.payloads == split.payloads, "whole and split reads give different DATA bytes")
            fuzzCheck(whole.output == split.output, "whole and split reads give different output")
        }
    }
}

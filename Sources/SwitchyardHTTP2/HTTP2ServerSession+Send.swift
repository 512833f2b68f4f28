/// Output driven by the consumer: responses, bodies within the send windows, resets, PING and
/// GOAWAY (RFC 9113 §6.1, §6.2, §6.4, §6.7, §6.8, §6.9).
extension HTTP2ServerSession {
    /// Writes a header block (response head, or trailers with `endStream`), split into HEADERS
    /// and CONTINUATION frames by the peer's SETTINGS_MAX_FRAME_SIZE.
    public mutating func sendHeaders(streamID: UInt32, fields: [HPACKHeaderField], endStream: Bool) throws(HTTP2SendError) {
        guard !isTerminated else { throw .connectionClosed }
        guard streams[streamID]?.canSend == true else { throw .streamNotWritable(streamID) }
        var block: [UInt8] = []
        hpackEncoder.encode(fields, into: &block)
        try sendHeaderBlock(streamID: streamID, block, endStream: endStream)
    }

    /// A response head from a field list (`HTTP2FieldList`): the gateway's way, see there.
    ///
    /// The block is encoded straight into the output behind a frame header written once its
    /// length is known: no block array, no copy into a frame payload. A block longer than the
    /// peer's frame size (rare) is taken out again and split into HEADERS and CONTINUATIONs.
    public mutating func sendHeaders(streamID: UInt32, list: HTTP2FieldList, endStream: Bool) throws(HTTP2SendError) {
        guard !isTerminated else { throw .connectionClosed }
        guard var stream = streams[streamID], stream.canSend else { throw .streamNotWritable(streamID) }
        let frameStart = output.count
        HTTP2FrameEncoder.appendHeader(length: 0, type: HTTP2FrameType.headers, flags: 0, streamID: streamID, into: &output)
        hpackEncoder.encode(list, into: &output)
        let length = output.count - frameStart - 9
        guard length <= peerSettings.maxFrameSize else {
            let block = Array(output[(frameStart + 9)...])
            output.removeSubrange(frameStart...)
            try sendHeaderBlock(streamID: streamID, block, endStream: endStream)
            return
        }
        output[frameStart] = UInt8(truncatingIfNeeded: length >> 16)
        output[frameStart + 1] = UInt8(truncatingIfNeeded: length >> 8)
        output[frameStart + 2] = UInt8(truncatingIfNeeded: length)
        output[frameStart + 4] = HTTP2Flags.endHeaders | (endStream ? HTTP2Flags.endStream : 0)
        guard endStream else { return }
        stream.phase = stream.phase.endingLocal
        streams[streamID] = stream
        closeIfFinished(streamID)
    }

    /// HEADERS, then CONTINUATIONs while the block is longer than the peer's frame size.
    private mutating func sendHeaderBlock(streamID: UInt32, _ block: [UInt8], endStream: Bool) throws(HTTP2SendError) {
        guard var stream = streams[streamID] else { throw .streamNotWritable(streamID) }
        let maxFrame = peerSettings.maxFrameSize
        var offset = min(block.count, maxFrame)
        write(.headers(HTTP2HeadersPayload(fragment: Array(block[0..<offset]), endStream: endStream,
                                           endHeaders: offset == block.count)), stream: streamID)
        while offset < block.count {
            let end = min(block.count, offset + maxFrame)
            write(.continuation(fragment: Array(block[offset..<end]), endHeaders: end == block.count), stream: streamID)
            offset = end
        }
        if endStream { stream.phase = stream.phase.endingLocal }
        streams[streamID] = stream
        closeIfFinished(streamID)
    }

    /// Writes as much of `bytes` as the connection and stream send windows allow, in frames of at
    /// most the peer's SETTINGS_MAX_FRAME_SIZE; returns how many bytes were taken. The caller keeps
    /// the rest and retries after `.windowOpened`. `endStream` applies only when everything was
    /// taken (an empty `bytes` with `endStream` just ends the stream).
    /// `now` (the `receive` clock) dates a stall; without it, the time of the last `receive`.
    @discardableResult
    public mutating func sendData(streamID: UInt32, _ bytes: UnsafeRawBufferPointer, endStream: Bool,
                                  now: UInt64? = nil) throws(HTTP2SendError) -> Int {
        guard !isTerminated else { throw .connectionClosed }
        if let now { self.now = now }
        // The stream's state is changed in place (see `HTTP2StreamTable.slot(of:)`).
        guard let slot = streams.slot(of: streamID), streams[slot: slot].canSend else { throw .streamNotWritable(streamID) }
        let allowed = max(0, min(connectionSendWindow.value, streams[slot: slot].sendWindow.value))
        let count = min(bytes.count, allowed)
        let ends = endStream && count == bytes.count
        var offset = 0
        repeat {
            let end = min(count, offset + peerSettings.maxFrameSize)
            let last = end == count
            if end > offset || (last && ends) {
                HTTP2FrameEncoder.appendData(streamID: streamID, UnsafeRawBufferPointer(rebasing: bytes[offset..<end]),
                                             endStream: last && ends, into: &output)
            }
            offset = end
        } while offset < count
        connectionSendWindow.spend(count)
        streams[slot: slot].sentData(count, of: bytes.count, ends: ends, now: self.now)
        // A stream both sides ended is removed at once.
        if streams[slot: slot].phase == .closed { removeStream(streamID, consumerDone: false) }
        return count
    }

    @discardableResult
    public mutating func sendData(streamID: UInt32, _ bytes: [UInt8], endStream: Bool) throws(HTTP2SendError) -> Int {
        let result: Result<Int, HTTP2SendError> = bytes.withUnsafeBytes { raw in
            do throws(HTTP2SendError) { return .success(try sendData(streamID: streamID, raw, endStream: endStream)) } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// The consumer holds bytes for `streamID` that no window lets out (it did not offer them):
    /// the stall is dated as `sendData` dates one that leaves bytes behind.
    public mutating func noteSendBlocked(streamID: UInt32, now: UInt64) {
        guard !isTerminated, var stream = streams[streamID], stream.canSend, stream.blockedSince == nil else { return }
        self.now = now
        stream.blockedSince = now
        streams[streamID] = stream
    }

    /// Streams whose response has waited for flow-control window since before `now - milliseconds`
    /// (zero-window stalls: a client that opens many streams and never grants window pins their
    /// buffers). The I/O layer resets them, or sends GOAWAY when there are many. `now` is the same
    /// clock `receive(_:now:)` gets.
    public func flowControlStalledStreams(longerThan milliseconds: UInt64, now: UInt64) -> [UInt32] {
        streams.compactMap { id, stream in
            guard let since = stream.blockedSince, now >= since, now - since >= milliseconds else { return nil }
            return id
        }.sorted()
    }

    /// Resets a stream from our side (the exchange failed or was abandoned). No event follows;
    /// late frames from the peer on it are ignored.
    public mutating func resetStream(streamID: UInt32, code: HTTP2ErrorCode = .cancel) {
        guard !isTerminated, streams[streamID] != nil else { return }
        write(.rstStream(code), stream: streamID)
        recentlyReset.insert(streamID)
        removeStream(streamID, consumerDone: true)
    }

    /// Sends a PING (keepalive or RTT probe); `.pingAcknowledged` reports the answer.
    public mutating func sendPing(opaque: UInt64) {
        guard !isTerminated else { return }
        write(.ping(ack: false, opaque: opaque), stream: 0)
    }

    /// Graceful shutdown (§6.8): GOAWAY with the largest stream id and a PING; when the PING comes
    /// back, a second GOAWAY with the real last stream id. Open streams run to completion; then
    /// `canClose` becomes true.
    public mutating func startGracefulShutdown() {
        guard !isTerminated, shutdown == .running else { return }
        let opaque: UInt64 = 0x5377_6974_6368_7964   // "Switchyd": tells our drain PING from the consumer's
        write(.goAway(lastStreamID: HTTP2Protocol.maxStreamID, code: .noError, debugData: []), stream: 0)
        write(.ping(ack: false, opaque: opaque), stream: 0)
        shutdown = .draining(pingOpaque: opaque)
    }

    /// Immediate GOAWAY: `.noError` stops new streams at once (open ones finish); any other code
    /// ends the connection (nothing more is processed, `canClose` is true).
    public mutating func goAway(code: HTTP2ErrorCode, reason: String = "") {
        guard !isTerminated else { return }
        if code == .noError {
            if case .goAwaySent = shutdown { return }
            write(.goAway(lastStreamID: highestPeerStreamID, code: code, debugData: Array(reason.utf8.prefix(256))), stream: 0)
            shutdown = .goAwaySent(lastStreamID: highestPeerStreamID)
            return
        }
        var events: [HTTP2Event] = []
        fail(.connection(code, reason), &events)
    }
}

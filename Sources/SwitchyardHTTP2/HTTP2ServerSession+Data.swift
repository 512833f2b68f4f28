/// Request bodies and receive-side flow control (RFC 9113 §5.2, §6.1, §6.9).
extension HTTP2ServerSession {
    /// A DATA frame from `decode` (the general path: padded frames, frames after a split read).
    mutating func receiveData(streamID: UInt32, _ data: HTTP2DataPayload, _ events: inout [HTTP2Event]) throws(HTTP2Error) {
        let result: Result<Void, HTTP2Error> = data.bytes.withUnsafeBytes { bytes in
            do throws(HTTP2Error) {
                return .success(try receiveData(streamID: streamID, bytes, endStream: data.endStream,
                                                flowControlledLength: data.flowControlledLength, &events))
            } catch { return .failure(error) }
        }
        try result.get()
    }

    /// Request body bytes for `streamID` (padding already removed; `flowControlledLength` counts it).
    mutating func receiveData(streamID: UInt32, _ bytes: UnsafeRawBufferPointer, endStream: Bool,
                              flowControlledLength length: Int, _ events: inout [HTTP2Event]) throws(HTTP2Error) {
        guard streamID <= highestPeerStreamID else {
            throw .connection(.protocolError, stream: streamID, "DATA on idle stream \(streamID)")
        }
        guard connectionReceiveWindow.receive(length) else {
            throw .connection(.flowControlError, stream: streamID, "DATA beyond the connection window")
        }
        if bytes.isEmpty && !endStream {
            guard emptyDataCounter.record(now: now) else {
                throw .connection(.enhanceYourCalm, stream: streamID, "empty DATA frame flood")
            }
        }
        // The stream's state is changed in place (see `HTTP2StreamTable.slot(of:)`).
        guard let slot = streams.slot(of: streamID), streams[slot: slot].canReceive else {
            // Nobody will consume these bytes: the connection gets its credit back at once.
            creditConnection(length)
            if streams[streamID] == nil && (recentlyReset.contains(streamID) || isIgnoredAfterGoAway(streamID)) { return }
            throw .stream(streamID, .streamClosed, "DATA on a closed stream")
        }
        switch streams[slot: slot].receiveData(length: length, count: bytes.count, endStream: endStream) {
        case .accepted:
            break
        case .beyondWindow:
            creditConnection(length)
            throw .stream(streamID, .flowControlError, "DATA beyond the stream window")
        case .lengthMismatch(let declared, let received):
            throw .stream(streamID, .protocolError, "content-length \(declared) but \(received) bytes of DATA")
        }
        // Padding is never seen by the consumer: it is consumed here.
        let padding = length - bytes.count
        if padding > 0 { consumed(streamID: streamID, count: padding) }
        let start = payloadSink.count
        payloadSink.append(contentsOf: bytes)
        events.append(.data(streamID: streamID, payload: start..<payloadSink.count, endStream: endStream))
        if endStream { closeIfFinished(streamID) }
    }

    /// The consumer has taken `count` bytes of `streamID`'s body: window goes back to the peer
    /// (in batches) for the stream and the connection. Unknown streams are ignored.
    public mutating func consumed(streamID: UInt32, count: Int) {
        guard !isTerminated, count > 0 else { return }
        var taken = 0
        if let slot = streams.slot(of: streamID) {
            taken = min(count, streams[slot: slot].unconsumed)
            let increment = streams[slot: slot].receiveWindow.consume(taken)
            // No point in stream credit once the peer has ended its side.
            if let increment, streams[slot: slot].canReceive { write(.windowUpdate(increment: UInt32(increment)), stream: streamID) }
        } else if let left = closedUnconsumed[streamID] {
            taken = min(count, left)
            closedUnconsumed[streamID] = left - taken == 0 ? nil : left - taken
        }
        creditConnection(taken)
    }

    mutating func creditConnection(_ count: Int) {
        guard count > 0, let increment = connectionReceiveWindow.consume(count) else { return }
        write(.windowUpdate(increment: UInt32(increment)), stream: 0)
    }

    /// Forgets a stream. With `consumerDone` (a reset: the consumer drops what it holds) its
    /// unconsumed bytes are credited to the connection now; otherwise once they are consumed.
    mutating func removeStream(_ streamID: UInt32, consumerDone: Bool) {
        guard let stream = streams.removeValue(forKey: streamID) else { return }
        recentlyClosed.insert(streamID)
        let outstanding = stream.unconsumed
        guard outstanding > 0 else { return }
        // Bounded bookkeeping: past a few streams' worth, credit at once rather than remember.
        if consumerDone || closedUnconsumed.count >= 2 * limits.maxConcurrentStreams {
            creditConnection(outstanding)
        } else {
            closedUnconsumed[streamID] = outstanding
        }
    }

    /// Streams the peer opened after our final GOAWAY: never processed, their frames ignored (§6.8).
    func isIgnoredAfterGoAway(_ streamID: UInt32) -> Bool {
        if case .goAwaySent(let last) = shutdown { return streamID > last }
        return false
    }

    /// Drops the stream once both sides have ended it (§5.1 closed).
    mutating func closeIfFinished(_ streamID: UInt32) {
        guard streams[streamID]?.phase == .closed else { return }
        removeStream(streamID, consumerDone: false)
    }
}

/// Request bodies and receive-side flow control (RFC 9113 §5.2, §6.1, §6.9).
extension HTTP2ServerSession {
    mutating func receiveData(streamID: UInt32, _ data: HTTP2DataPayload, _ events: inout [HTTP2Event]) throws(HTTP2Error) {
        guard streamID <= highestPeerStreamID else {
            throw .connection(.protocolError, stream: streamID, "DATA on idle stream \(streamID)")
        }
        let length = data.flowControlledLength
        guard connectionReceiveWindow.receive(length) else {
            throw .connection(.flowControlError, stream: streamID, "DATA beyond the connection window")
        }
        if data.bytes.isEmpty && !data.endStream {
            guard emptyDataCounter.record(now: now) else {
                throw .connection(.enhanceYourCalm, stream: streamID, "empty DATA frame flood")
            }
        }
        guard var stream = streams[streamID], stream.canReceive else {
            // Nobody will consume these bytes: the connection gets its credit back at once.
            creditConnection(length)
            if streams[streamID] == nil && (recentlyReset.contains(streamID) || isIgnoredAfterGoAway(streamID)) { return }
            throw .stream(streamID, .streamClosed, "DATA on a closed stream")
        }
        guard stream.receiveWindow.receive(length) else {
            creditConnection(length)
            throw .stream(streamID, .flowControlError, "DATA beyond the stream window")
        }
        stream.receivedLength += data.bytes.count
        if let declared = stream.declaredLength,
           stream.receivedLength > declared || (data.endStream && stream.receivedLength != declared) {
            streams[streamID] = stream
            throw .stream(streamID, .protocolError, "content-length \(declared) but \(stream.receivedLength) bytes of DATA")
        }
        if data.endStream { stream.phase = stream.phase.endingRemote }
        streams[streamID] = stream
        // Padding is never seen by the consumer: it is consumed here.
        let padding = length - data.bytes.count
        if padding > 0 { consumed(streamID: streamID, count: padding) }
        events.append(.data(streamID: streamID, bytes: data.bytes, endStream: data.endStream))
        if data.endStream { closeIfFinished(streamID) }
    }

    /// The consumer has taken `count` bytes of `streamID`'s body: window goes back to the peer
    /// (in batches) for the stream and the connection. Unknown streams are ignored.
    public mutating func consumed(streamID: UInt32, count: Int) {
        guard terminalError == nil, count > 0 else { return }
        var taken = 0
        if var stream = streams[streamID] {
            taken = min(count, stream.unconsumed)
            let increment = stream.receiveWindow.consume(taken)
            streams[streamID] = stream
            // No point in stream credit once the peer has ended its side.
            if let increment, stream.canReceive { write(.windowUpdate(increment: UInt32(increment)), stream: streamID) }
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

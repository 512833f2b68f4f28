/// Header blocks (RFC 9113 §4.3, §6.2, §6.10): HEADERS + CONTINUATION assembled, HPACK-decoded
/// (always, even for a stream about to be refused: the dynamic table must stay in sync), then
/// turned into a new request or trailers.
extension HTTP2ServerSession {
    mutating func startHeaderBlock(streamID: UInt32, _ headers: HTTP2HeadersPayload, _ events: inout [HTTP2Event]) throws(HTTP2Error) {
        var block = HTTP2PendingHeaderBlock(streamID: streamID, bytes: headers.fragment, endStream: headers.endStream,
                                            priority: headers.priority)
        try checkBlockSize(block)
        if headers.endHeaders {
            try finishHeaderBlock(block, &events)
        } else {
            block.bytes.reserveCapacity(min(limits.maxHeaderBlockSize, block.bytes.count * 2))
            pendingHeaders = block
        }
    }

    /// While a block is open only CONTINUATION on the same stream may arrive (§6.10).
    mutating func continueHeaderBlock(_ frame: HTTP2Frame, _ events: inout [HTTP2Event]) throws(HTTP2Error) {
        guard var block = pendingHeaders else { return }
        guard case .continuation(let fragment, let endHeaders) = frame.payload, frame.streamID == block.streamID else {
            throw .connection(.protocolError, stream: frame.streamID, "expected CONTINUATION for stream \(block.streamID)")
        }
        block.bytes += fragment
        block.continuationFrames += 1
        // CONTINUATION flood: a block that never ends, or ends after thousands of tiny frames.
        guard block.continuationFrames <= limits.maxContinuationFrames else {
            throw .connection(.enhanceYourCalm, stream: block.streamID, "more than \(limits.maxContinuationFrames) CONTINUATION frames")
        }
        try checkBlockSize(block)
        if endHeaders {
            pendingHeaders = nil
            try finishHeaderBlock(block, &events)
        } else {
            pendingHeaders = block
        }
    }

    private func checkBlockSize(_ block: HTTP2PendingHeaderBlock) throws(HTTP2Error) {
        try checkBlockSize(streamID: block.streamID, block.bytes.count)
    }

    func checkBlockSize(streamID: UInt32, _ count: Int) throws(HTTP2Error) {
        guard count <= limits.maxHeaderBlockSize else {
            throw .connection(.enhanceYourCalm, stream: streamID, "header block over \(limits.maxHeaderBlockSize) bytes")
        }
    }

    /// An assembled block (HEADERS and CONTINUATIONs).
    private mutating func finishHeaderBlock(_ block: HTTP2PendingHeaderBlock, _ events: inout [HTTP2Event]) throws(HTTP2Error) {
        let result: Result<Void, HTTP2Error> = block.bytes.withUnsafeBytes { bytes in
            do throws(HTTP2Error) {
                try finishHeaderBlock(streamID: block.streamID, bytes: bytes, endStream: block.endStream, priority: block.priority, &events)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
    }

    /// A whole header block: decoded (the dynamic table kept in sync whatever follows), then a new
    /// request, trailers, or the reason the stream or the connection ends.
    mutating func finishHeaderBlock(streamID: UInt32, bytes: UnsafeRawBufferPointer, endStream: Bool, priority: HTTP2Priority?,
                                    _ events: inout [HTTP2Event]) throws(HTTP2Error) {
        let decoded: HPACKDecodedBlock
        do { decoded = try hpackDecoder.decode(bytes) } catch {
            throw .connection(.compressionError, stream: streamID, "HPACK: \(error)")
        }
        guard streamID & 1 == 1 else { throw .connection(.protocolError, stream: streamID, "client stream id \(streamID) is even") }
        if streams[streamID] != nil {
            try receiveTrailers(streamID: streamID, endStream: endStream, decoded, &events)
            return
        }
        if streamID <= highestPeerStreamID {
            // Sent before the peer saw our RST_STREAM or GOAWAY.
            if recentlyReset.contains(streamID) || isIgnoredAfterGoAway(streamID) { return }
            // §5.1.1: a new stream's id must be above every id used before; an id that was open
            // once is a closed stream (§5.1). Forgotten old ones get PROTOCOL_ERROR: an error either way.
            guard recentlyClosed.contains(streamID) else {
                throw .connection(.protocolError, stream: streamID, "stream id \(streamID) is not above \(highestPeerStreamID)")
            }
            throw .connection(.streamClosed, stream: streamID, "HEADERS on closed stream \(streamID)")
        }
        highestPeerStreamID = streamID
        if case .goAwaySent(let last) = shutdown, streamID > last { return }   // §6.8: ignored after GOAWAY
        if priority?.dependency == streamID { throw .stream(streamID, .protocolError, "stream depends on itself") }
        guard streams.count < limits.maxConcurrentStreams else {
            try countReset()
            throw .stream(streamID, .refusedStream, "over SETTINGS_MAX_CONCURRENT_STREAMS \(limits.maxConcurrentStreams)")
        }
        if decoded.exceedsListSize {
            try answerHeaderListTooLarge(streamID: streamID, requestEnded: endStream)
            return
        }
        let head = try HTTP2HeaderValidator.request(decoded.fields, streamID: streamID,
                                                    connectProtocolEnabled: limits.enableConnectProtocol,
                                                    checkedNames: decoded.checkedNames, checkedValues: decoded.checkedValues,
                                                    kinds: decoded.kinds)
        if endStream, let length = head.contentLength, length != 0 {
            throw .stream(streamID, .protocolError, "content-length \(length) but no body")
        }
        streams[streamID] = HTTP2StreamState(phase: endStream ? .halfClosedRemote : .open,
                                             sendWindow: HTTP2SendWindow(peerSettings.initialWindowSize),
                                             receiveWindow: HTTP2ReceiveWindow(target: limits.initialStreamWindow),
                                             declaredLength: head.contentLength)
        streamsOpened += 1
        events.append(.request(streamID: streamID, head: head, endStream: endStream))
        if limits.maxStreamsPerConnection > 0 && streamsOpened >= limits.maxStreamsPerConnection {
            startGracefulShutdown()
        }
    }

    /// A second header block on a stream: trailers, which must end the stream (§8.1).
    private mutating func receiveTrailers(streamID: UInt32, endStream: Bool, _ decoded: HPACKDecodedBlock,
                                          _ events: inout [HTTP2Event]) throws(HTTP2Error) {
        guard var stream = streams[streamID], stream.canReceive else {
            throw .stream(streamID, .streamClosed, "HEADERS after END_STREAM")
        }
        guard endStream else { throw .stream(streamID, .protocolError, "trailers without END_STREAM") }
        guard !decoded.exceedsListSize else { throw .stream(streamID, .enhanceYourCalm, "trailers over the header list size") }
        try HTTP2HeaderValidator.trailers(decoded.fields, streamID: streamID)
        if let declared = stream.declaredLength, declared != stream.receivedLength {
            throw .stream(streamID, .protocolError, "content-length \(declared) but \(stream.receivedLength) bytes of DATA")
        }
        stream.phase = stream.phase.endingRemote
        streams[streamID] = stream
        events.append(.trailers(streamID: streamID, fields: decoded.fields))
        closeIfFinished(streamID)
    }

    /// RFC 9113 §10.5.1: a request over SETTINGS_MAX_HEADER_LIST_SIZE is answered 431 by the
    /// session itself (the consumer never sees it), then reset if the client is still sending.
    private mutating func answerHeaderListTooLarge(streamID: UInt32, requestEnded: Bool) throws(HTTP2Error) {
        var block: [UInt8] = []
        hpackEncoder.encode([HPACKHeaderField(name: ":status", value: "431")], into: &block)
        write(.headers(HTTP2HeadersPayload(fragment: block, endStream: true, endHeaders: true)), stream: streamID)
        recentlyReset.insert(streamID)
        if !requestEnded { try writeControlAnswer(.rstStream(.noError), stream: streamID) }
        try countReset()
    }
}

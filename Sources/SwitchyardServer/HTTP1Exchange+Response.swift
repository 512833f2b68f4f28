import Glibc
import SwitchyardOS
import SwitchyardHTTP

/// The HTTP/1.1 response wire format of an exchange: status line, headers, framing. The head is
/// serialised straight into the connection's output queue in one pass; an HTTP/2 stream would
/// encode the same calls as HEADERS and DATA frames instead.
extension HTTP1Exchange {
    /// Sends the status line and headers; adds Date, Server, framing and Connection headers. The
    /// head is serialised in one pass: headers the connection owns (Date, framing, Connection)
    /// are skipped from the handler's list instead of being searched for and removed.
    func sendHead(_ head: HTTPResponseHead, framing requested: BodyFraming) {
        guard phase != .done else { return }
        let status = head.status
        let framing = beginHead(status: status, framing: requested)
        // Serialise straight into the output buffer: no intermediate array, bulk copies.
        let out = output.bytes
        if head.reason == nil, let line = HeaderName.standardStatusLine(status) {
            out.append(line)
        } else {
            appendStatusLine(head)
        }
        var hasServer = false
        for (name, value) in head.headers {
            switch HeaderName.classify(name) {
            case .date, .contentLength, .transferEncoding: continue
            case .connection: if status != 101 { continue }
            case .server: hasServer = true
            case .other: break
            }
            HeaderName.appendField(name, value, to: out)
        }
        appendConnectionFields(status: status, framing: framing, hasServer: hasServer)
    }

    /// An interim head (100 Continue, 103 Early Hints) ahead of the final one: only to an HTTP/1.1
    /// client (RFC 9110 15.2: an HTTP/1.0 client does not expect one), only before the final head
    /// started, and a 100 only when none went out yet (the connection sends its own when the
    /// client asked for it). No Date, Server, framing or Connection fields: they belong to the final head.
    func sendInterim(_ head: HTTPResponseHead) {
        guard phase != .done, phase != .upgraded, !responseStarted, httpVersion == .http1_1, connection != nil else { return }
        if head.status == 100 {
            if continueSent { return }
            continueSent = true
        }
        appendStatusLine(head)
        let out = output.bytes
        for (name, value) in head.headers {
            switch HeaderName.classify(name) {
            case .date, .contentLength, .transferEncoding, .connection: continue
            case .server, .other: HeaderName.appendField(name, value, to: out)
            }
        }
        out.append(crlf)
        connection?.flushOutput()
    }

    /// `sendHead` for a handler whose fields are ready-made bytes (static files keep theirs per
    /// file): `fields` appends complete, sanitised "Name: value\r\n" lines to the buffer it is
    /// given, and none of the headers the connection owns (Date, Server, Content-Length,
    /// Transfer-Encoding, Connection).
    func sendHead(status: Int, framing requested: BodyFraming, fields: (ByteBuffer) -> Void) {
        guard phase != .done else { return }
        let framing = beginHead(status: status, framing: requested)
        let out = output.bytes
        if let line = HeaderName.standardStatusLine(status) {
            out.append(line)
        } else {
            appendStatusLine(HTTPResponseHead(status: status))
        }
        fields(out)
        appendConnectionFields(status: status, framing: framing, hasServer: false)
    }

    /// A plain keep-alive HTTP/1.1 answer (no `setenv` response headers) is the file entry's kept
    /// answer (`Worker.prepareStaticAnswer`); any other assembles its head (`sendAssembledCachedFileAnswer`).
    func sendCachedFileAnswer(_ entry: StaticFileEntry, body: [UInt8], isHead: Bool) {
        guard phase != .done, let connection else { return }
        // The head stays keep-alive (`beginHead` keeps it so for a 200 once the body is read) and
        // has no fields of its own: the kept answer is this head.
        if keepAlive && phase != .readingBody && httpVersion == .http1_1 && extraResponseHeaders.isEmpty
            && body.count == entry.validator.size && worker.prepareStaticAnswer(of: entry) {
            _ = beginHead(status: 200, framing: .length(body.count))
            connection.sendStaticAnswer(entry, body: body, isHead: isHead)
            return
        }
        sendAssembledCachedFileAnswer(entry, body: body, isHead: isHead)
    }

    /// Response bookkeeping shared by both `sendHead` forms; returns the framing actually used
    /// (none for HEAD, 1xx, 204, 304; until-close for chunked to an HTTP/1.0 client).
    private func beginHead(status: Int, framing requested: BodyFraming) -> BodyFraming {
        precondition(!responseStarted)
        responseStarted = true
        noteResponseStatus(status)
        var framing = requested
        if isHeadRequest || status == 204 || status == 304 || (status >= 100 && status < 200) {
            if case .length = framing, isHeadRequest {} else { framing = .none }
        }
        if case .chunked = framing, httpVersion == .http1_0 { framing = .untilClose }
        if case .untilClose = framing { keepAlive = false }
        responseFraming = isHeadRequest ? .none : framing
        if status != 101 && !(keepAlive && phase != .readingBody) { keepAlive = false }
        return framing
    }

    /// "HTTP/1.1 <status> <reason>\r\n" (always 1.1, RFC 9110 2.5), formatted.
    private func appendStatusLine(_ head: HTTPResponseHead) {
        headScratch.removeAll(keepingCapacity: true)
        var line = head
        line.version = .http1_1
        line.writeStatusLine(into: &headScratch)
        headScratch.withUnsafeBytes { output.bytes.append($0) }
    }

    /// The headers the connection owns, then the empty line: Date, Server (unless the handler
    /// sent one), the framing header and Connection.
    private func appendConnectionFields(status: Int, framing: BodyFraming, hasServer: Bool) {
        let out = output.bytes
        worker.appendDateAndServer(to: out, includingServer: !hasServer)
        for (name, value) in extraResponseHeaders { HeaderName.appendField(name, value, to: out) }
        var connectionLine: [UInt8]?
        if status != 101 {
            if !keepAlive { connectionLine = HeaderName.closeLine }
            else if httpVersion == .http1_0 { connectionLine = HeaderName.keepAliveLine }
        }
        switch framing {
        case .length(let n):
            HeaderName.appendHeadEnd(contentLength: n, connectionLine: connectionLine, to: out)
        case .chunked:
            out.append(HeaderName.chunkedLine)
            HeaderName.appendHeadEnd(contentLength: nil, connectionLine: connectionLine, to: out)
        case .none, .untilClose:
            HeaderName.appendHeadEnd(contentLength: nil, connectionLine: connectionLine, to: out)
        }
    }

    /// Body bytes, framed as the head announced. Returns false when the client backlog is above the
    /// high watermark: the caller should stop producing until `outputDrained()`.
    @discardableResult
    func sendBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        // `.done` also covers a closed connection: closing it ends its exchange first.
        guard bytes.count > 0, phase != .done else { return output.backlog < HTTP1Connection.highWatermark }
        switch responseFraming {
        case .none:
            break
        case .chunked:
            var header: [UInt8] = []
            ChunkedEncoding.chunkHeader(bytes.count, into: &header)
            output.bytes.append(header)
            output.bytes.append(bytes)
            output.bytes.append(crlf)
        case .length, .untilClose:
            output.bytes.append(bytes)
        }
        connection?.flushOutput()
        return output.backlog < HTTP1Connection.highWatermark
    }

    /// A file region as the body; takes ownership of `fileFD` (closed at once when no body goes out).
    func sendFile(fd fileFD: Int32, offset: Int, count: Int) {
        guard phase != .done else { Glibc.close(fileFD); return }
        if case .none = responseFraming { Glibc.close(fileFD); return }
        output.appendFile(fd: fileFD, offset: offset, count: count)
        connection?.flushOutput()
    }

    /// `sendFile` for a file whose bytes are cached (`StaticFileCache`): `count` bytes of
    /// `storage` from `offset`, shared with the cache rather than copied when large.
    func sendCachedFile(_ storage: [UInt8], offset: Int, count: Int) {
        guard phase != .done else { return }
        if case .none = responseFraming { return }
        output.appendBytes(of: storage, offset: offset, count: count)
        connection?.flushOutput()
    }
}

private let crlf: [UInt8] = [13, 10]

import Glibc
import SwitchyardOS
import SwitchyardHTTP
import SwitchyardHTTP2

/// A body region queued after a stream's bytes: a file (read in pieces with pread(2): HTTP/2
/// frames every byte, so there is no sendfile here) or bytes shared with the static-file cache.
enum HTTP2BodySource {
    case file(fd: Int32, offset: Int, remaining: Int)
    case shared([UInt8], offset: Int, remaining: Int)
}

/// The response of a stream: the head as HEADERS (`HTTP2ResponseFields`), the body queued here
/// and moved into DATA frames by the connection's pump as the flow-control windows and the
/// socket allow. A producer is told to stop when its stream holds `streamHighWatermark` bytes
/// or the connection's socket is behind, and hears `outputDrained` when both are low again.
extension HTTP2StreamExchange {
    static let streamHighWatermark = 64 * 1024
    static let streamLowWatermark = 16 * 1024

    func sendInterim(_ head: HTTPResponseHead) {
        // 100 Continue means nothing to an HTTP/2 client that did not wait for it; 103 does.
        guard phase != .done, phase != .upgraded, !responseStarted, head.status > 100, head.status < 200 else { return }
        var fields: [(name: String, value: String)] = []
        for (name, value) in head.headers { fields.append((name, value)) }
        connection?.sendHeaders(streamID, HTTP2ResponseFields.make(status: head.status, headers: fields), endStream: false)
    }

    func sendHead(_ head: HTTPResponseHead, framing requested: BodyFraming) {
        var fields: [(name: String, value: String)] = []
        fields.reserveCapacity(head.headers.count + 4)
        for (name, value) in head.headers {
            switch HeaderName.classify(name) {
            case .date, .contentLength, .transferEncoding, .connection: continue
            case .server, .other: fields.append((name, value))
            }
        }
        var list = HTTP2ResponseFields.list(status: head.status, headers: fields)
        writeHead(framing: requested, list: &list)
    }

    /// Ready-made "Name: value\r\n" lines (static files) copied into the field list as bytes.
    func sendHead(status: Int, framing requested: BodyFraming, fields lines: (ByteBuffer) -> Void) {
        let buffer = ByteBuffer(capacity: 512)
        lines(buffer)
        var list = HTTP2FieldList(status: status, capacity: buffer.readable.count + 96)
        HTTP2ResponseFields.appendLines(buffer.readable, to: &list)
        writeHead(framing: requested, list: &list)
    }

    /// The file's cached field list, copied (its arrays are shared until the first append).
    ///
    /// A plain static response (no `extra` lines, no scope headers, a known length) is the same
    /// list for the same file, status, length, second and server tag: the connection keeps the
    /// last one built (`HTTP2StaticHead`) and a repeat is sent as it is, without a copy of the
    /// file's fields and the Date, Server and content-length appended again. The HPACK encoder
    /// then finds the list equal to its last one (`HPACKEncoder.encode(_:into:)`).
    func sendStaticHead(status: Int, framing requested: BodyFraming, fields: StaticFileFields, extra: ((ByteBuffer) -> Void)?) {
        if extra == nil && !isTunnel && extraResponseHeaders.isEmpty, case .length(let length) = requested {
            guard phase != .done, !responseStarted, let connection else { return }
            let second = worker.loop.wallSeconds
            let list: HTTP2FieldList
            if let last = connection.lastStaticHead, last.isFor(fields, status: status, length: length, second: second, tag: worker.server.tag) {
                list = last.list
            } else {
                var built = HTTP2FieldList(copying: fields.h2Full)
                built.status = status
                appendGatewayFields(to: &built, framing: requested)
                connection.lastStaticHead = HTTP2StaticHead(fields: fields, status: status, length: length, second: second,
                                                            tag: worker.server.tag, list: built)
                list = built
            }
            beginResponse(status: status)
            sendHeadFrame(list, framing: requested, on: connection)
            return
        }
        var list = HTTP2FieldList(copying: fields.h2Full)
        list.status = status
        if let extra {
            let buffer = ByteBuffer(capacity: 256)
            extra(buffer)
            HTTP2ResponseFields.appendLines(buffer.readable, to: &list)
        }
        writeHead(framing: requested, list: &list)
    }

    /// HEADERS with Date, Server, the scope's response headers and content-length; END_STREAM
    /// at once when no body can follow (HEAD, 204, 304, an empty body).
    private func writeHead(framing: BodyFraming, list: inout HTTP2FieldList) {
        guard phase != .done, !responseStarted, let connection else { return }
        var framing = framing
        if isTunnel && phase != .upgraded && list.status >= 200 && list.status < 300 {
            // Any 2xx to a CONNECT opens the tunnel (RFC 9110 §9.3.6, RFC 8441 §5); over HTTP/1.1
            // a non-101 answer to an upgrade is a refusal. The route did not upgrade: 501, no body.
            worker.errorLog.info(peer.description, "HTTP/2 stream \(streamID): extended CONNECT answered \(list.status) without an upgrade: 501")
            list.status = 501
            framing = .none
            list.keepOnly(name: Self.serverName)
        }
        beginResponse(status: list.status)
        appendGatewayFields(to: &list, framing: framing)
        sendHeadFrame(list, framing: framing, on: connection)
    }

    /// The response has started: its status noted (log, statistics).
    private func beginResponse(status: Int) {
        responseStarted = true
        responseStatus = status
        if status >= 500, let stats = routeStats { stats.responses5xx += 1 }
    }

    /// Date, Server (unless the list has one), the scope's response headers and content-length.
    private func appendGatewayFields(to list: inout HTTP2FieldList, framing: BodyFraming) {
        worker.dateCache.bytes(at: worker.loop.wallSeconds).withUnsafeBufferPointer {
            list.append(name: Self.dateName, value: $0)
        }
        if !worker.server.tag.isEmpty && !list.contains(name: Self.serverName) {
            list.append(name: "server", value: worker.server.tag)
        }
        for (name, value) in extraResponseHeaders { list.append(name: name, value: value) }
        if case .length(let n) = framing, list.status != 204 && list.status != 304 {
            list.append(name: Self.contentLengthName, decimal: n)
        }
    }

    /// The HEADERS frame, with END_STREAM when no body can follow.
    private func sendHeadFrame(_ list: HTTP2FieldList, framing: BodyFraming, on connection: HTTP2Connection) {
        let status = list.status
        var bodyless = isHeadRequest || status == 204 || status == 304
        if case .length(let n) = framing, n == 0 { bodyless = true }
        if case .none = framing { bodyless = true }
        connection.sendHeaders(streamID, list, endStream: bodyless)
        if bodyless { sendClosed = true }
    }

    static let serverName = Array("server".utf8)
    static let dateName = Array("date".utf8)
    static let contentLengthName = Array("content-length".utf8)

    @discardableResult
    func sendBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard phase != .done, phase != .upgraded, responseStarted else { return false }
        return queueBody(bytes)
    }

    /// Queues body bytes and pumps; false when the producer should wait for `outputDrained`.
    func queueBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        // After END_STREAM (a HEAD answer, a finished response) bytes are dropped, as HTTP/1.1
        // drops a HEAD response's body: the producer goes on to its end.
        guard !sendClosed, !ending, let connection else { return true }
        var rest = bytes
        if !rest.isEmpty && pendingCount == 0 && source == nil && !isReady && rest.count <= HTTP2Connection.quantum
            && !connection.isBehind {
            // Nothing queued ahead (a relay's usual case: a message, then the next one): straight
            // into DATA frames as far as the windows allow, without the queue and the pump's round.
            let taken = connection.sendData(streamID, rest, endStream: false)
            bytesSent += taken
            connection.wroteData()
            guard !sendClosed, self.connection != nil else { return true }
            rest = UnsafeRawBufferPointer(rebasing: rest[taken...])
        }
        if !rest.isEmpty {
            if pendingStart > 0 && pendingStart >= pending.count / 2 {
                pending.removeFirst(pendingStart)
                pendingStart = 0
            }
            pending.append(contentsOf: rest)
            connection.pump(self)
        }
        let more = pendingCount < Self.streamHighWatermark && !connection.isBehind
        if !more { wantsDrain = true; connection.drainWaiting = true }
        return more
    }

    func sendFile(fd fileFD: Int32, offset: Int, count: Int) {
        guard phase != .done, !sendClosed, !ending, source == nil, count > 0 else { Glibc.close(fileFD); return }
        source = .file(fd: fileFD, offset: offset, remaining: count)
        connection?.pump(self)
    }

    /// A body of bytes shared with the static-file cache. A small one is not pumped here: the
    /// handler finishes next (`finishResponse`), which sends it as one DATA frame with END_STREAM
    /// (`sendWholeBody`); the connection's pump after the read moves it otherwise.
    func sendCachedFile(_ storage: [UInt8], offset: Int, count: Int) {
        guard phase != .done, !sendClosed, !ending, source == nil, count > 0 else { return }
        source = .shared(storage, offset: offset, remaining: count)
        if count > HTTP2Connection.quantum || pendingCount > 0 { connection?.pump(self) }
    }

    /// The finished response's whole body (bytes queued or a cached file, at most one pump
    /// quantum) as DATA with END_STREAM at once, when the windows take all of it and no other
    /// stream's output waits for the socket: no round of the pump for a small static response.
    /// False when the pump has to do it (the stream then goes on from where this left it).
    func sendWholeBody() -> Bool {
        guard !sendClosed, !isReady, let connection, !connection.isBehind else { return false }
        let taken: Int, total: Int   // the window was checked: all of it goes unless the stream died
        if pendingCount > 0 {
            guard source == nil, pendingCount <= HTTP2Connection.quantum,
                  connection.sendWindow(streamID) >= pendingCount else { return false }
            total = pendingCount
            taken = pending.withUnsafeBytes { raw in
                connection.sendData(streamID, UnsafeRawBufferPointer(rebasing: raw[pendingStart...]), endStream: true)
            }
            pendingStart += taken
            bytesSent += taken
            guard taken == total else { return false }
            pending.removeAll(keepingCapacity: false)
            pendingStart = 0
        } else if case .shared(let storage, let offset, let remaining) = source {
            guard remaining <= HTTP2Connection.quantum, connection.sendWindow(streamID) >= remaining else { return false }
            total = remaining
            taken = storage.withUnsafeBytes { raw in
                connection.sendData(streamID, UnsafeRawBufferPointer(rebasing: raw[offset..<offset + remaining]), endStream: true)
            }
            bytesSent += taken
            source = taken == total ? nil : .shared(storage, offset: offset + taken, remaining: remaining - taken)
            guard taken == total else { return false }
        } else {
            return false
        }
        sendClosed = true
        sendSideFinished()
        return true
    }

    var pendingCount: Int { pending.count - pendingStart }
    var outputBacklog: Int { pendingCount }
    /// Something waits for window or socket room (or the END_STREAM that follows it).
    var hasOutput: Bool { !sendClosed && (pendingCount > 0 || source != nil || ending) }

    /// Moves up to `budget` bytes into DATA frames (within the send windows); returns how many
    /// moved. Writes END_STREAM once everything queued is out and the response was finished.
    func pumpOutput(budget: Int, scratch: inout [UInt8]) -> Int {
        guard !sendClosed, let connection else { return 0 }
        var moved = 0
        while moved < budget {
            if pendingCount > 0 {
                // `sendData` takes what the windows allow (and dates a stall): no window query first.
                let n = min(budget - moved, pendingCount)
                let last = ending && source == nil && n == pendingCount
                let taken = pending.withUnsafeBytes { raw in
                    connection.sendData(streamID, UnsafeRawBufferPointer(rebasing: raw[pendingStart..<pendingStart + n]), endStream: last)
                }
                guard taken > 0 else { break }
                pendingStart += taken
                moved += taken
                if pendingStart == pending.count { pending.removeAll(keepingCapacity: pending.capacity <= 64 * 1024); pendingStart = 0 }
                if last && taken == n { sendClosed = true; break }
                if taken < n { break }   // the window is spent
            } else if let region = source {
                let window = min(budget - moved, connection.sendWindow(streamID))
                guard window > 0 else {
                    if moved < budget { connection.sendBlocked(streamID) }   // the stall clock (max-write-idle)
                    break
                }
                guard let taken = pumpSource(region, window: window, scratch: &scratch) else { return moved }
                moved += taken
                if sendClosed || taken == 0 { break }
            } else {
                if ending { _ = connection.sendData(streamID, UnsafeRawBufferPointer(start: nil, count: 0), endStream: true); sendClosed = true }
                break
            }
        }
        bytesSent += moved
        return moved
    }

    /// One piece of the file or shared region; nil when the file could not be read (the stream is reset).
    private func pumpSource(_ region: HTTP2BodySource, window: Int, scratch: inout [UInt8]) -> Int? {
        guard let connection else { return nil }
        switch region {
        case .shared(let storage, let offset, let remaining):
            let n = min(window, remaining)
            let last = ending && n == remaining
            let taken = storage.withUnsafeBytes { raw in
                connection.sendData(streamID, UnsafeRawBufferPointer(rebasing: raw[offset..<offset + n]), endStream: last)
            }
            source = taken == remaining ? nil : .shared(storage, offset: offset + taken, remaining: remaining - taken)
            if last && taken == n { sendClosed = true }
            return taken
        case .file(let fd, let offset, let remaining):
            let want = min(window, remaining, scratch.count)
            let got = scratch.withUnsafeMutableBytes { pread(fd, $0.baseAddress, want, off_t(offset)) }
            guard got > 0 else {
                worker.errorLog.error(peer.description, "HTTP/2 stream \(streamID): file read failed or the file shrank: resetting the stream")
                abortResponse("file read failed")
                return nil
            }
            let last = ending && got == remaining
            let taken = scratch.withUnsafeBytes { raw in
                connection.sendData(streamID, UnsafeRawBufferPointer(rebasing: raw[0..<got]), endStream: last)
            }
            if taken == remaining { Glibc.close(fd); source = nil } else {
                source = .file(fd: fd, offset: offset + taken, remaining: remaining - taken)
            }
            if last && taken == got { sendClosed = true }
            return taken
        }
    }

    /// Drops what is queued (a reset or a closing connection) and closes a file region's descriptor.
    func dropOutput() {
        pending = []
        pendingStart = 0
        if case .file(let fd, _, _) = source { Glibc.close(fd) }
        source = nil
        ending = false
    }
}

/// The last plain static-file head a connection built (see `sendStaticHead`) and what it was
/// built from. The file's fields are held (not just their identity), so a new file's fields
/// cannot take the address of freed ones and be mistaken for them.
struct HTTP2StaticHead {
    let fields: StaticFileFields
    let status: Int
    let length: Int
    /// `EventLoop.wallSeconds` of the Date in the list.
    let second: Int
    let tag: String
    let list: HTTP2FieldList

    func isFor(_ fields: StaticFileFields, status: Int, length: Int, second: Int, tag: String) -> Bool {
        self.fields === fields && self.status == status && self.length == length && self.second == second && self.tag == tag
    }
}

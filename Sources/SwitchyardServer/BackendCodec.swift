import SwitchyardOS
import SwitchyardGatewayCodecs

/// What a backend said, decoded from its byte stream.
enum BackendEvent {
    case stdout(UnsafeRawBufferPointer)
    case stderr(UnsafeRawBufferPointer)
    /// FastCGI END_REQUEST: the exchange is over even though the connection may stay open.
    case end(appStatus: UInt32, protocolStatus: UInt8)
}

/// A malformed backend stream: the backend connection is dropped and the client gets 502.
struct BackendProtocolError: Error, CustomStringConvertible {
    var description: String
}

/// The only part of a backend exchange that differs between CGI, SCGI, uwsgi and FastCGI: how the
/// request is encoded on the way in and how the response is decoded on the way out. Transport,
/// buffering, backpressure, timeouts and upgrade relaying are shared (`FDBackendStream`,
/// `GatewayExchange`), as in lighttpd's gw_backend.
protocol BackendCodec: AnyObject {
    /// Response bytes are the CGI response as is (no framing), so an upgraded stream can be spliced.
    var isTransparent: Bool { get }
    var name: String { get }
    /// Encodes the request's start (its head) for the wire.
    func encodeRequestStart(_ request: BackendRequest, keepConnection: Bool, out: ByteBuffer) throws
    func encodeBody(_ bytes: UnsafeRawBufferPointer, out: ByteBuffer)
    /// End of the client's data. Returns true when the transport should half-close its write side.
    func encodeBodyEnd(upgraded: Bool, out: ByteBuffer) -> Bool
    /// Client went away: returns true when a polite abort was encoded (FastCGI), false to just close.
    func encodeAbort(out: ByteBuffer) -> Bool
    /// Decodes what arrived; returns how many bytes were used (the rest is kept for next time).
    func decode(_ bytes: UnsafeRawBufferPointer, _ sink: (BackendEvent) -> Void) throws -> Int
    /// Why the backend's EOF is a failure for a codec that is not transparent (its framing was
    /// not complete); `pendingBytes` are undecoded bytes left over.
    func describeEOF(pendingBytes: Int, label: String) -> BackendFailure
    /// The exchange ended cleanly and the connection may carry another request (a pooled proxy
    /// connection); FastCGI pools through `FastCGIConnection` instead.
    var allowsReuse: Bool { get }
    /// `encodeBody` appends the bytes as they are (no framing), so the stream may send them
    /// straight from the caller's buffer instead of queueing a copy first.
    var passesBodyThrough: Bool { get }
    /// `decode` would hand every byte on as one `.stdout`, as it came (no framing, no end record):
    /// the stream gives its input to the exchange directly, without the event closure.
    var passesResponseThrough: Bool { get }
}

extension BackendCodec {
    var allowsReuse: Bool { false }
    var passesBodyThrough: Bool { false }
    var passesResponseThrough: Bool { false }

    /// A record protocol (FastCGI) ends with its end record: EOF before it means the application died.
    func describeEOF(pendingBytes: Int, label: String) -> BackendFailure {
        if pendingBytes > 0 {
            return .protocolError("\(name) backend \(label) closed the connection in the middle of a record")
        }
        return .ioError("\(label): application closed the connection before FCGI_END_REQUEST")
    }
}

/// CGI over pipes: no framing at all; end of body = close stdin.
final class CGIPipeCodec: BackendCodec {
    var isTransparent: Bool { true }
    var passesBodyThrough: Bool { true }
    var passesResponseThrough: Bool { true }
    var name: String { "cgi" }
    func encodeRequestStart(_ request: BackendRequest, keepConnection: Bool, out: ByteBuffer) {}   // the variables went to spawn
    func encodeBody(_ bytes: UnsafeRawBufferPointer, out: ByteBuffer) { out.append(bytes) }
    func encodeBodyEnd(upgraded: Bool, out: ByteBuffer) -> Bool { true }
    func encodeAbort(out: ByteBuffer) -> Bool { false }
    func decode(_ bytes: UnsafeRawBufferPointer, _ sink: (BackendEvent) -> Void) throws -> Int {
        sink(.stdout(bytes))
        return bytes.count
    }
}

/// SCGI and uwsgi: a header block of CGI variables (an SCGI netstring, or a uwsgi packet), then the
/// raw body; the response is the raw CGI output until EOF. Only the header encoding differs.
final class HeaderThenRawCodec: BackendCodec {
    enum Framing { case scgi, uwsgi }
    let framing: Framing
    let finPropagate: Bool
    init(_ framing: Framing, finPropagate: Bool) {
        self.framing = framing
        self.finPropagate = finPropagate
    }
    var isTransparent: Bool { true }
    var passesBodyThrough: Bool { true }
    var passesResponseThrough: Bool { true }
    var name: String { framing == .scgi ? "scgi" : "uwsgi" }

    func encodeRequestStart(_ request: BackendRequest, keepConnection: Bool, out: ByteBuffer) throws {
        var bytes: [UInt8] = []
        let env = request.cgiEnvironment()
        switch framing {
        case .scgi:
            SCGIRequestEncoder.encodeHeaders(env, contentLength: request.announcedLength, into: &bytes)
        case .uwsgi:
            var e = env
            e.set("CONTENT_LENGTH", String(request.announcedLength))
            do { try UWSGIRequestEncoder.encodeHeaders(e, into: &bytes) } catch {
                throw BackendProtocolError(description: "uwsgi: \(error)")
            }
        }
        out.append(bytes)
    }
    func encodeBody(_ bytes: UnsafeRawBufferPointer, out: ByteBuffer) { out.append(bytes) }
    /// The body length was announced up front; a half-close is sent only for an upgraded stream
    /// (the client's FIN) or when tcp-fin-propagate asks for it.
    func encodeBodyEnd(upgraded: Bool, out: ByteBuffer) -> Bool { upgraded || finPropagate }
    func encodeAbort(out: ByteBuffer) -> Bool { false }
    func decode(_ bytes: UnsafeRawBufferPointer, _ sink: (BackendEvent) -> Void) throws -> Int {
        sink(.stdout(bytes))
        return bytes.count
    }
}

/// FastCGI on a connection of its own (one request per connection, or pooled with KEEP_CONN).
/// The multiplexed variant shares `FastCGIConnection` instead.
final class FastCGICodec: BackendCodec {
    let requestId: UInt16
    private var decoder = FastCGIRecordDecoder()
    private var scratch: [UInt8] = []
    init(requestId: UInt16 = 1) { self.requestId = requestId }
    var isTransparent: Bool { false }
    var name: String { "fastcgi" }

    func encodeRequestStart(_ request: BackendRequest, keepConnection: Bool, out: ByteBuffer) {
        scratch.removeAll(keepingCapacity: true)
        FastCGIRecordEncoder.beginRequest(requestId: requestId, keepConnection: keepConnection, into: &scratch)
        FastCGIRecordEncoder.params(request.cgiEnvironment(), requestId: requestId, into: &scratch)
        out.append(scratch)
    }

    func encodeBody(_ bytes: UnsafeRawBufferPointer, out: ByteBuffer) {
        guard bytes.count > 0 else { return }
        out.append(writing: FastCGIRecordEncoder.streamLength(contentLength: bytes.count)) {
            FastCGIRecordEncoder.stream(.stdin, requestId: requestId, body: bytes, into: $0)
        }
    }

    func encodeBodyEnd(upgraded: Bool, out: ByteBuffer) -> Bool {
        scratch.removeAll(keepingCapacity: true)
        FastCGIRecordEncoder.stream(.stdin, requestId: requestId, payload: UnsafeRawBufferPointer(start: nil, count: 0), into: &scratch)
        out.append(scratch)
        return false
    }

    func encodeAbort(out: ByteBuffer) -> Bool {
        scratch.removeAll(keepingCapacity: true)
        FastCGIRecordEncoder.abortRequest(requestId: requestId, into: &scratch)
        out.append(scratch)
        return true
    }

    func decode(_ bytes: UnsafeRawBufferPointer, _ sink: (BackendEvent) -> Void) throws -> Int {
        var used = 0
        while used < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[used...])
            let next: (header: FastCGIRecordDecoder.Header, content: Range<Int>, consumed: Int)?
            do {
                next = try decoder.next(rest)
            } catch {
                throw BackendProtocolError(description: "fastcgi: \(error)")
            }
            guard let (header, content, consumed) = next else { break }
            let payload = UnsafeRawBufferPointer(rebasing: rest[content])
            used += consumed
            if header.requestId != requestId && header.requestId != 0 {
                throw BackendProtocolError(description: "fastcgi: record for unknown request id \(header.requestId)")
            }
            switch FastCGIRecordType(rawValue: header.type) {
            case .stdout: if payload.count > 0 { sink(.stdout(payload)) }
            case .stderr: if payload.count > 0 { sink(.stderr(payload)) }
            case .endRequest:
                guard let end = FastCGIEndRequest(content: payload) else {
                    throw BackendProtocolError(description: "fastcgi: malformed END_REQUEST")
                }
                sink(.end(appStatus: end.appStatus, protocolStatus: end.protocolStatus))
            case .getValuesResult, .unknownType:
                break
            default:
                throw BackendProtocolError(description: "fastcgi: unexpected record type \(header.type) from the application")
            }
        }
        return used
    }
}

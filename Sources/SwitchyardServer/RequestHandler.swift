import SwitchyardHTTP

/// A handler produces the response for one request. The connection feeds it the request body and
/// tells it when the client can take more output; the handler answers through the connection's
/// response methods. Static files finish in `start()`; gateways stay around until the backend is done.
protocol RequestHandler: AnyObject {
    func start()
    /// Request body bytes (already de-chunked). Return false to pause reading from the client
    /// until the handler calls `connection.resumeReading()`.
    func requestBody(_ bytes: UnsafeRawBufferPointer) -> Bool
    func requestBodyEnd()
    /// The client's output backlog fell below the low watermark.
    func outputDrained()
    /// After a 101: raw bytes from the client. Return false to pause reading.
    func upgradedData(_ bytes: UnsafeRawBufferPointer) -> Bool
    /// After a 101: the client half-closed (FIN).
    func upgradedClientEOF()
    /// The client vanished or the connection is being torn down: release everything.
    func abort()
    /// Called once a second by the worker for handler-specific timeouts.
    func tick(now: UInt64)
}

extension RequestHandler {
    func requestBody(_ bytes: UnsafeRawBufferPointer) -> Bool { true }
    func requestBodyEnd() {}
    func outputDrained() {}
    func upgradedData(_ bytes: UnsafeRawBufferPointer) -> Bool { true }
    func upgradedClientEOF() {}
    func abort() {}
    func tick(now: UInt64) {}
}

/// How the response body is delimited on the wire.
enum BodyFraming {
    case none            // HEAD, 1xx, 204, 304
    case length(Int)
    case chunked
    case untilClose      // HTTP/1.0 client without a known length
}

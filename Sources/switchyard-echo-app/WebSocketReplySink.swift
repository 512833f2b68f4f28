import SwitchyardWebSocket

/// Where `WebSocketEcho` puts its replies: straight into a connection's output buffer, framed for
/// the transport (raw bytes for SCGI, STDOUT records for FastCGI). Generic, so the echo loop is
/// specialised per sink and calls it without a closure context or existential box.
protocol WebSocketReplySink {
    /// Appends one unmasked server frame.
    mutating func sendFrame(fin: Bool, opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer)
}

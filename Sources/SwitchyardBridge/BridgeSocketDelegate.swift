/// What a `BridgeSocket` reports to its connection. Failures and closes are delivered from a
/// deferred task, never from inside a call the connection made, so the connection never tears
/// itself down re-entrantly.
protocol BridgeSocketDelegate: AnyObject {
    /// New bytes are in `socket.inBuffer`; consume what you take (leave the rest there).
    func socketReceived(_ socket: BridgeSocket)
    /// The front end half-closed (read returned 0).
    func socketReadClosed(_ socket: BridgeSocket)
    /// The output backlog fell below the low watermark.
    func socketWritable(_ socket: BridgeSocket)
    /// The socket is closed: after an error, or after `finishAfterFlush` completed.
    func socketClosed(_ socket: BridgeSocket, error: Int32?)
}

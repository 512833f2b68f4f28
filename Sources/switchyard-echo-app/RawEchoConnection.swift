import SwitchyardOS

/// Echoes every byte it reads, unchanged and in order, until the peer's EOF: the plain socket
/// program behind a WebSocket tunnel (mod_wstunnel), where the gateway is the WebSocket server and
/// hands over only payload bytes. Backpressure is the base class's: above the output watermark
/// the connection stops reading.
final class RawEchoConnection: EchoConnection {
    override func inputReceived() {
        guard !discarding else { inBuffer.clear(); return }
        outBuffer.append(UnsafeRawBufferPointer(start: inBuffer.readPointer, count: inBuffer.readableBytes))
        inBuffer.clear()
    }
}

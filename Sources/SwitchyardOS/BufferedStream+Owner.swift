/// What an owner can ask of its `BufferedStream` beyond reading and writing.
///
/// `owner` (a strong delegate) is for an owner on a hot path, the client connection: a `weak`
/// reference to it would give the owner a side table, and every retain and release of it would
/// then take the runtime's slow path. The owner sets `owner = nil` when it closes or detaches
/// the stream, which breaks the cycle.
extension BufferedStream {
    /// The owner hears `streamDidDrain` once the queue is down to the low watermark again, even if
    /// no `write` returned false (an HTTP connection waits for a response's file region to go
    /// before it reads the next pipelined request).
    public func requestDrainNotice() { behind = true }

    /// Returns burst-sized buffers of a quiet stream to the allocator.
    /// Returns the bytes given back to the allocator.
    @discardableResult
    public func shrinkIdleBuffers(to capacity: Int) -> Int {
        input.shrinkIfIdle(to: capacity) + output.bytes.shrinkIfIdle(to: capacity)
    }
}

import Glibc

/// The idle and write-progress limits of a `BufferedStream`.
extension BufferedStream {
    private var idleNanoseconds: UInt64 { UInt64(max(0, options.idleTimeout) * 1e9) }
    private var writeNanoseconds: UInt64 { UInt64(max(0, options.writeTimeout) * 1e9) }

    /// One timer for both limits, armed for the nearer deadline; progress in between only moves
    /// the timestamps, and the timer re-arms itself when it finds time left.
    func armTimer() {
        guard timer == nil, registered, !isClosed else { return }
        var deadline = UInt64.max
        if idleNanoseconds > 0 { deadline = max(lastActivity, idleReportedAt) &+ idleNanoseconds }
        if writeNanoseconds > 0 && !isConnecting && !isOutputClosed && !output.isEmpty {
            deadline = min(deadline, lastWriteProgress &+ writeNanoseconds)
        }
        guard deadline != .max else { return }
        let now = loop.now
        // Strong, not weak or unowned: a weak capture gives the stream a side table (every retain
        // then takes the slow path, measured on the client hot path), and an unowned one would be
        // safe only as long as every way out cancels the timer. A strong capture is never unsafe:
        // the loop's timer keeps the stream alive at most until it fires or `release` cancels it,
        // and `timerFired` does nothing on a closed stream.
        timer = loop.schedule(afterNanoseconds: deadline > now ? deadline - now : 0) { [self] in
            self.timerFired()
        }
    }

    private func timerFired() {
        timer = nil
        guard !isClosed else { return }
        let now = max(loop.now, EventLoop.monotonicNanoseconds())
        if idleNanoseconds > 0 && now &- max(lastActivity, idleReportedAt) >= idleNanoseconds {
            guard options.reportsIdle else { fail(.idleTimeout); return }
            // The owner decides (an HTTP connection closes, answers 408, or waits on).
            idleReportedAt = now
            listener?.streamIsIdle(self)
            if isClosed { return }
        }
        if writeNanoseconds > 0 && !isConnecting && !isOutputClosed && !output.isEmpty
            && now &- lastWriteProgress >= writeNanoseconds {
            fail(.writeTimeout)
            return
        }
        armTimer()
    }
}

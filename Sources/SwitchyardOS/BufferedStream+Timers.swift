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
        // Unowned, not weak: a weak capture gives the stream a side table, and every retain and
        // release of it then takes the slow path (measured on the client hot path). Safe: a timer
        // exists only while the stream is in the loop (which holds it), and leaving cancels it.
        timer = loop.schedule(afterNanoseconds: deadline > now ? deadline - now : 0) { [unowned self] in
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

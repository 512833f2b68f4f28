/// What one event-loop thread counted. Owned by that loop's thread; merged after the threads end.
struct WorkerStats {
    /// Round-trip latency (pingpong, pipeline, hold) or whole upgrade cycle time (upgrades), µs.
    var latency = LatencyHistogram()
    /// Echoes received intact or not, while measuring.
    var messages: UInt64 = 0
    /// Echoed payload bytes received while measuring.
    var bytes: UInt64 = 0
    /// Completed upgrade cycles while measuring (upgrades mode).
    var upgrades: UInt64 = 0
    /// Failures over the whole run: connect, handshake, protocol, unexpected close, timeouts.
    var errors: UInt64 = 0
    /// Echoes that differed from what was sent (content, length or opcode), over the whole run.
    var mismatches: UInt64 = 0
    /// Connections whose handshake succeeded / failed, over the whole run (warm-up included).
    var connectionsOK: UInt64 = 0
    var connectionsFailed: UInt64 = 0
    /// Open (upgraded) connections: now and the most at any one time.
    var openNow = 0
    var maxOpen = 0

    /// Forgets what was measured during the warm-up; error and connection counts are kept.
    mutating func resetMeasurement() {
        latency.reset()
        messages = 0
        bytes = 0
        upgrades = 0
    }

    mutating func add(_ other: WorkerStats) {
        latency.add(other.latency)
        messages &+= other.messages
        bytes &+= other.bytes
        upgrades &+= other.upgrades
        errors &+= other.errors
        mismatches &+= other.mismatches
        connectionsOK &+= other.connectionsOK
        connectionsFailed &+= other.connectionsFailed
        openNow += other.openNow
        maxOpen += other.maxOpen   // per-thread peaks summed: an upper bound of the global peak
    }
}

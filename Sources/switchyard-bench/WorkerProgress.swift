import Synchronization

/// Counters a loop thread publishes a few times a second for the main thread (progress line,
/// waiting for connections to open). Relaxed atomics, never touched per message.
final class WorkerProgress: Sendable {
    let messages = Atomic<Int>(0)
    let upgrades = Atomic<Int>(0)
    let errors = Atomic<Int>(0)
    let mismatches = Atomic<Int>(0)
    let open = Atomic<Int>(0)
    /// Connections not yet open and not yet failed (pingpong, pipeline, hold).
    let pending = Atomic<Int>(0)

    init() {}
}

/// Process-wide count of open connections and its peak, shared by all loop threads. Updated
/// once per open and close, so an atomic is cheap enough.
final class OpenConnectionGauge: Sendable {
    let current = Atomic<Int>(0)
    let peak = Atomic<Int>(0)

    func opened() {
        let now = current.wrappingAdd(1, ordering: .relaxed).newValue
        var seen = peak.load(ordering: .relaxed)
        while now > seen {
            let (exchanged, original) = peak.compareExchange(expected: seen, desired: now, ordering: .relaxed)
            if exchanged { break }
            seen = original
        }
    }

    func closed() {
        current.wrappingSubtract(1, ordering: .relaxed)
    }
}

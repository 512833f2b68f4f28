/// What a run measures.
public enum BenchMode: String, CaseIterable {
    /// C connections, one message in flight each: round-trip latency.
    case pingpong
    /// K messages in flight per connection: throughput.
    case pipeline
    /// connect, handshake, one echo, close, again: upgrade (process start) cost.
    case upgrades
    /// N connections held open, one small message every I seconds each: capacity and idle cost.
    case hold
    /// connect, TLS handshake (https://), one GET with `Connection: close`, read to EOF, again:
    /// connection (and handshake) cost; `--resume` resumes each connection's previous session.
    case handshakes

    /// Modes whose connections close and open again all the time (counted in cycles).
    public var cycles: Bool { self == .upgrades || self == .handshakes }
}

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
}

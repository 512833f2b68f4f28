import Synchronization

/// The context a TLS listener hands to the connections it accepts, replaceable while the server
/// runs (SIGHUP reloads certificates): every event loop reads it at accept, the main loop swaps
/// it. A connection keeps the context it started with (its `TLSTransport` holds it), so a swap
/// never touches an open session; only handshakes that start afterwards see the new certificate.
public final class TLSContextSlot: Sendable {
    private let current: Mutex<TLSContext>

    public init(_ context: TLSContext) { current = Mutex(context) }

    /// The context for a connection accepted now.
    public var context: TLSContext { current.withLock { $0 } }

    /// New connections get `context` from now on; the old one lives on with its connections.
    public func replace(with context: TLSContext) { current.withLock { $0 = context } }
}

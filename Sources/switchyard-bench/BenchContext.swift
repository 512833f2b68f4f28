import SwitchyardBenchCore
import SwitchyardOS
import SwitchyardWebSocket

/// Everything the loop threads share, immutable once the run starts.
final class BenchContext: @unchecked Sendable {
    let options: BenchOptions
    let url: WebSocketURL
    let address: SocketAddress
    let origin: String
    let pattern: PayloadPattern
    let opcode: WebSocketOpcode
    let errorLog: BenchErrorLog
    let gauge = OpenConnectionGauge()
    let timeoutNanoseconds: UInt64
    let intervalNanoseconds: UInt64
    /// Bytes asked of one read(): enough for a large message in few calls, small for small ones.
    let readChunk: Int
    /// Slots of the per-connection ring of send times (messages in flight at most).
    let ringSize: Int
    /// wss:// and https://: the client TLS context every connection's session is made from.
    let tls: TLSClientContext?
    /// handshakes mode: the request each connection sends once it is (TLS-)connected.
    let httpRequest: String
    /// `--source-addresses`, resolved (port 0): connection `id` binds `sources[id % count]`.
    let sources: [SocketAddress]

    init(options: BenchOptions, url: WebSocketURL, address: SocketAddress, errorLog: BenchErrorLog, tls: TLSClientContext?,
         sources: [SocketAddress] = []) {
        self.options = options
        self.url = url
        self.address = address
        self.sources = sources
        self.origin = options.origin ?? "http://\(url.hostHeader)"
        self.pattern = PayloadPattern(size: options.size, binary: options.binary)
        self.opcode = options.binary ? .binary : .text
        self.errorLog = errorLog
        self.timeoutNanoseconds = UInt64(options.timeout * 1e9)
        self.intervalNanoseconds = UInt64(options.interval * 1e9)
        self.readChunk = min(max(64 << 10, options.size + 14), 1 << 20)
        // hold sends on a timer whether or not the previous echo came back; allow a backlog.
        self.ringSize = options.mode == .hold ? 64 : max(options.inFlight, 1)
        self.tls = tls
        self.httpRequest = "GET \(url.path) HTTP/1.1\r\nHost: \(url.hostHeader)\r\nUser-Agent: switchyard-bench\r\nConnection: close\r\n\r\n"
    }

    var mode: BenchMode { options.mode }
}

import SwitchyardOS

/// One request on a FastCGI connection (several may be live at once: FCGI_MPXS_CONNS=1).
final class FastCGIEchoRequest {
    enum Phase {
        /// Collecting FCGI_PARAMS content until the empty record.
        case params
        /// Plain request: STDIN content is echoed as STDOUT.
        case plain
        /// Upgraded: STDIN is the client's WebSocket stream, STDOUT ours.
        case webSocket
    }

    static let maxParamsBytes = 1 << 20

    let id: UInt16
    let keepConnection: Bool
    var phase = Phase.params
    var params: [UInt8] = []
    /// A partial frame carried over between STDIN records (allocated on first need).
    private(set) var pending: ByteBuffer?

    init(id: UInt16, keepConnection: Bool) {
        self.id = id
        self.keepConnection = keepConnection
    }

    /// The carry-over buffer, created on demand.
    var carry: ByteBuffer {
        if let pending { return pending }
        let b = ByteBuffer(capacity: 4096)
        pending = b
        return b
    }

    var hasCarry: Bool { !(pending?.isEmpty ?? true) }

    func trim() { pending?.shrinkIfIdle(to: 4096) }
}

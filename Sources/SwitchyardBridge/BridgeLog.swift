import Glibc

/// Log lines on stderr, prefixed with the program name: the gateway that spawned us forwards our
/// stderr to its error log, so that is the only log we need.
public struct BridgeLog: Sendable {
    public let prefix: String

    public init(program: String) { prefix = program + ": " }

    public func error(_ message: String) { write(message) }
    public func info(_ message: String) { write(message) }

    private func write(_ message: String) {
        var line = prefix + message + "\n"
        line.withUTF8 { buf in
            var off = 0
            while off < buf.count {
                let n = Glibc.write(2, buf.baseAddress! + off, buf.count - off)
                if n > 0 { off += n } else if n < 0 && errno == EINTR { continue } else { return }
            }
        }
    }
}

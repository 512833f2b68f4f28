import Glibc

/// Log lines on stderr, prefixed with the program name (the gateway forwards a spawned backend's
/// stderr to its error log).
struct EchoLog: Sendable {
    let prefix = "switchyard-echo-app: "

    func error(_ message: String) { write(prefix + message + "\n") }

    /// Unprefixed text (usage).
    func write(_ text: String) {
        var line = text
        line.withUTF8 { buf in
            var off = 0
            while off < buf.count {
                let n = Glibc.write(2, buf.baseAddress! + off, buf.count - off)
                if n > 0 { off += n } else if n < 0 && errno == EINTR { continue } else { return }
            }
        }
    }
}

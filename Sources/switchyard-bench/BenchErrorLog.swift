import Glibc
import SwitchyardOS
import Synchronization

/// Prints the first few error messages of a run to stderr (thread-safe) and says how many more
/// were suppressed, so one broken server does not flood the terminal.
final class BenchErrorLog: Sendable {
    let limit: Int
    private let printed = Atomic<Int>(0)

    init(limit: Int = 8) { self.limit = limit }

    func report(_ message: String) {
        let n = printed.wrappingAdd(1, ordering: .relaxed).newValue
        if n <= limit {
            BenchErrorLog.printErr("switchyard-bench: \(message)")
        } else if n == limit + 1 {
            BenchErrorLog.printErr("switchyard-bench: (further errors are counted but not printed)")
        }
    }

    var reportedCount: Int { printed.load(ordering: .relaxed) }

    static func printErr(_ text: String) {
        var line = text
        if !line.hasSuffix("\n") { line += "\n" }
        if isatty(2) != 0 && ProgressLine.active.load(ordering: .relaxed) { line = "\r\u{1B}[K" + line }
        Syscall.writeStderr(line)
    }
}

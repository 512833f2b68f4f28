import Glibc
import SwitchyardBenchCore

/// Reads another process's CPU time and resident memory from /proc (`--server-pid`).
struct ServerProbe {
    let pid: Int32
    private let ticksPerSecond = Double(max(sysconf(Int32(_SC_CLK_TCK)), 1))

    init(pid: Int32) { self.pid = pid }

    /// utime + stime of every thread of the process, seconds; nil when it is gone.
    func cpuSeconds() -> Double? {
        guard let text = ServerProbe.read("/proc/\(pid)/stat"), let ticks = ProcessSample.cpuTicks(stat: text) else { return nil }
        return Double(ticks) / ticksPerSecond
    }

    /// VmRSS in KiB; nil when the process is gone.
    func residentKiB() -> Int? {
        guard let text = ServerProbe.read("/proc/\(pid)/status") else { return nil }
        return ProcessSample.residentKiB(status: text)
    }

    /// A small text file read whole (procfs files report size 0, so read until EOF).
    static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Parsers for the two /proc files the benchmark reads about the gateway under test: CPU time from
/// `/proc/PID/stat` and resident memory from `/proc/PID/status`. Pure (text in, numbers out) so they
/// are unit-tested; the reading itself happens in the executable.
public enum ProcessSample {
    /// utime + stime in clock ticks from the text of `/proc/PID/stat`, or nil when malformed.
    /// The command name (field 2) is in parentheses and may contain spaces and ')', so fields are
    /// counted after the last ')': state is field 3, utime 14, stime 15.
    public static func cpuTicks(stat text: String) -> UInt64? {
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count > 12, let user = UInt64(fields[11]), let system = UInt64(fields[12]) else { return nil }
        return user + system
    }

    /// The `VmRSS:` line of `/proc/PID/status` in KiB, or nil when absent (e.g. a zombie).
    public static func residentKiB(status text: String) -> Int? {
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let parts = line.dropFirst(6).split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let value = parts.first, let kib = Int(value) else { return nil }
            return kib
        }
        return nil
    }
}

/// What `--server-pid` measured of the gateway during one run.
public struct ServerUsage: Sendable, Equatable {
    public var pid: Int32
    /// CPU time (user + system, all threads) over the measured interval, seconds.
    public var cpuSeconds: Double
    /// VmRSS before the first connection was made and at the end of the measured interval (KiB).
    public var rssKiBBefore: Int
    public var rssKiBEnd: Int

    public init(pid: Int32, cpuSeconds: Double, rssKiBBefore: Int, rssKiBEnd: Int) {
        self.pid = pid
        self.cpuSeconds = cpuSeconds
        self.rssKiBBefore = rssKiBBefore
        self.rssKiBEnd = rssKiBEnd
    }
}

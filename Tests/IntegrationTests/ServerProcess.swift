import Foundation
import Testing

/// Paths of the repository, the built binaries and the shared seed fixtures.
enum Repo {
    static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// ../shared/seeds next to the repository, or SWITCHYARD_SEEDS (to check the missing-seeds paths).
    static var seeds: URL {
        if let dir = ProcessInfo.processInfo.environment["SWITCHYARD_SEEDS"] { return URL(fileURLWithPath: dir) }
        return root.deletingLastPathComponent().appendingPathComponent("shared/seeds")
    }
    static var seedsPresent: Bool { FileManager.default.fileExists(atPath: seeds.appendingPathComponent("ws_echo.py").path) }
    static var inCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }
    /// For the suites that need the seeds: without them they are reported as skipped - not as
    /// passed, which they could not have done - except under CI=true, where they run and fail in
    /// `requireSeeds` (CI must have the seeds).
    static var seedsOrCI: Bool { seedsPresent || inCI }
    static func binary(_ name: String) -> String {
        if let dir = ProcessInfo.processInfo.environment["SWITCHYARD_BIN_DIR"] { return dir + "/" + name }
        return root.appendingPathComponent(".build/debug/\(name)").path
    }

    /// The seed directory, or nil and a recorded failure when it is missing.
    static func requireSeeds() -> URL? {
        if seedsPresent { return seeds }
        Issue.record(inCI ? "seed fixtures missing at \(seeds.path) (required in CI)"
                          : "seed fixtures missing at \(seeds.path): the suite should have been skipped (.enabled(if: Repo.seedsOrCI))")
        return nil
    }

    static func requireFile(_ path: String) -> Bool {
        if FileManager.default.fileExists(atPath: path) { return true }
        Issue.record("missing \(path): run `make build` first")
        return false
    }
}

/// A real `switchyard` process on an ephemeral port, stopped with SIGTERM at the end.
///
/// Sendable by hand: the stderr reader (a Foundation dispatch queue) only appends to `captured`
/// under `lock`, and every reader takes the same lock; the other members are set in `init`.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    let dir: URL
    let errPipe = Pipe()
    private(set) var port: Int = 0
    private var captured = Data()
    private let lock = NSLock()

    init(config: String, files: [String: String] = [:], prepare: (URL) throws -> Void = { _ in }) throws {
        dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("sy-it-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for (name, text) in files {
            let url = dir.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        try prepare(dir)
        let conf = dir.appendingPathComponent("switchyard.conf")
        try config.replacingOccurrences(of: "@DIR@", with: dir.path).write(to: conf, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: Repo.binary("switchyard"))
        process.arguments = ["-f", conf.path]
        process.standardError = errPipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(10)
        var text = ""
        while Date() < deadline {
            let chunk = errPipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
            if let r = text.range(of: #"listening on http://[^\s]*:(\d+)/"#, options: .regularExpression) {
                let m = String(text[r])
                port = Int(m.split(separator: ":").last!.dropLast()) ?? 0
                break
            }
        }
        captured.append(Data(text.utf8))
        if port == 0 {
            process.terminate()
            throw TestFailure("switchyard did not start:\n\(text)")
        }
        // Keep draining stderr so the server never blocks on a full pipe.
        errPipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self else { return }
            self.lock.lock(); self.captured.append(d); self.lock.unlock()
        }
    }

    var log: String {
        lock.lock(); defer { lock.unlock() }
        return String(decoding: captured, as: UTF8.self)
    }

    var pid: Int32 { process.processIdentifier }

    /// Resident memory of the server, in KiB.
    var rssKiB: Int {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in s.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
        }
        return 0
    }

    /// For backpressure tests: waits until the server's child whose command line contains `needle`
    /// has written at least `atLeast` bytes (/proc/PID/io wchar) and then nothing for half a second
    /// (blocked: everything between it and the client that does not read is full), so memory is
    /// measured after a known amount of data moved, not after a sleep the flood may not have used.
    /// Records an issue and returns nil when the writer never appears, exits, or never stalls.
    func waitForStalledWriter(_ needle: String, atLeast: Int, timeout: Double = 30) -> Int? {
        let deadline = Date().addingTimeInterval(timeout)
        var writer: Int32? = nil
        var last = -1
        var since = Date()
        while Date() < deadline {
            if writer == nil { writer = child(matching: needle) }
            if let w = writer {
                guard let n = Self.writtenBytes(w) else {
                    Issue.record("\(needle) (pid \(w)) exited after writing \(last) bytes: nothing held it back")
                    return nil
                }
                if n != last { last = n; since = Date() }
                else if n >= atLeast && Date().timeIntervalSince(since) >= 0.5 { return n }
            }
            usleep(50_000)
        }
        Issue.record(writer == nil ? "no child matching \(needle) within \(timeout) s"
                                   : "\(needle) never stalled: \(last) bytes written (needed \(atLeast), then 0.5 s without a write)")
        return nil
    }

    private func child(matching needle: String) -> Int32? {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        for e in entries {
            guard let p = Int32(e), let stat = try? String(contentsOfFile: "/proc/\(p)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 1, fields[0] != "Z", Int32(fields[1]) == pid,
                  let cmd = FileManager.default.contents(atPath: "/proc/\(p)/cmdline") else { continue }
            if String(decoding: cmd, as: UTF8.self).contains(needle) { return p }
        }
        return nil
    }

    private static func writtenBytes(_ pid: Int32) -> Int? {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/io", encoding: .utf8) else { return nil }
        for line in s.split(separator: "\n") where line.hasPrefix("wchar:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])
        }
        return nil
    }

    @discardableResult
    func stop() -> Int32 {
        if process.isRunning {
            process.interrupt()   // SIGINT: graceful stop
            let deadline = Date().addingTimeInterval(15)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning { kill(pid, SIGKILL); process.waitUntilExit() }
        }
        errPipe.fileHandleForReading.readabilityHandler = nil
        try? FileManager.default.removeItem(at: dir)
        return process.terminationStatus
    }

    deinit { if process.isRunning { kill(pid, SIGKILL) } }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

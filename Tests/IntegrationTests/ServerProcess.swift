import Foundation
import Testing

/// Paths of the repository, the built binaries and the shared seed fixtures.
enum Repo {
    static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var seeds: URL { root.deletingLastPathComponent().appendingPathComponent("shared/seeds") }
    static func binary(_ name: String) -> String {
        if let dir = ProcessInfo.processInfo.environment["SWITCHYARD_BIN_DIR"] { return dir + "/" + name }
        return root.appendingPathComponent(".build/debug/\(name)").path
    }

    /// The seed directory, or nil (and a recorded failure under CI=true) when it is missing.
    static func requireSeeds() -> URL? {
        if FileManager.default.fileExists(atPath: seeds.appendingPathComponent("ws_echo.py").path) { return seeds }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            Issue.record("seed fixtures missing at \(seeds.path) (required in CI)")
        }
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

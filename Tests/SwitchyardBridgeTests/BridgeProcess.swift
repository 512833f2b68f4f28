import Foundation
import Glibc

/// A bridge executable (`fcgi-cgi` / `scgi-cgi`) started for one test on its own unix socket,
/// with a scratch directory for the test's CGI scripts. Stopped with SIGTERM by `stop()`.
final class BridgeProcess {
    let process = Process()
    let directory: URL
    let socketPath: String

    /// Repo root from this file's path (Tests/SwitchyardBridgeTests/BridgeProcess.swift).
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The built executable: next to the running test binary (`swift test`), else in the
    /// repo's `.build/debug`, else in `.build-bridge/debug` (the bridge workers' scratch path).
    static func executable(_ name: String) -> String? {
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["SWITCHYARD_BRIDGE_BIN_DIR"] { candidates.append(env + "/" + name) }
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = me.deletingLastPathComponent()
        for _ in 0..<4 {  // the test binary may sit inside a bundle directory
            candidates.append(dir.appendingPathComponent(name).path)
            dir = dir.deletingLastPathComponent()
        }
        candidates.append(repoRoot.appendingPathComponent(".build/debug/\(name)").path)
        candidates.append(repoRoot.appendingPathComponent(".build-bridge/debug/\(name)").path)
        return candidates.first { access($0, X_OK) == 0 }
    }

    struct StartError: Error, CustomStringConvertible { var description: String }

    init(_ name: String, arguments: [String] = []) throws {
        guard let path = BridgeProcess.executable(name) else { throw StartError(description: "\(name) not built") }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("bridge-\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        socketPath = directory.appendingPathComponent("s.sock").path
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["--socket", socketPath] + arguments
        try process.run()
        // Ready means accepting, not just bound: the file exists between bind(2) and listen(2),
        // and a connect in that window is refused (seen on a loaded machine).
        for _ in 0..<1000 {
            if access(socketPath, F_OK) == 0, let probe = try? TestSocket(path: socketPath) {
                _ = probe
                return
            }
            usleep(10_000)
        }
        stop()
        throw StartError(description: "\(name) did not listen on \(socketPath) within 10 s")
    }

    /// Writes an executable script into the scratch directory; returns its absolute path.
    @discardableResult
    func script(_ name: String, _ text: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        chmod(url.path, 0o755)
        return url.path
    }

    var isRunning: Bool { process.isRunning }

    /// SIGTERM, wait for the exit, remove the scratch directory. Returns the exit status.
    @discardableResult
    func stop() -> Int32 {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
        return process.terminationStatus
    }
}

/// A blocking unix-socket client with a receive timeout, for driving the bridges by hand.
final class TestSocket {
    let fd: Int32

    init(path: String, timeoutSeconds: Int = 10) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            let bytes = Array(path.utf8)
            for (i, b) in bytes.enumerated() where i < raw.count - 1 { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if rc != 0 { close(fd); throw BridgeProcess.StartError(description: "connect(\(path)): errno \(errno)") }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            off += n
        }
    }

    func send(_ text: String) { send(Array(text.utf8)) }

    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    enum ReadResult: Equatable { case bytes([UInt8]), eof, timeout }

    /// One `recv`: bytes, EOF, or timeout/error.
    func receive() -> ReadResult {
        var buf = [UInt8](repeating: 0, count: 65536)
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n > 0 { return .bytes(Array(buf[..<n])) }
        if n == 0 { return .eof }
        return .timeout
    }

    /// Everything until the peer closes (or the timeout).
    func receiveAll() -> (bytes: [UInt8], eof: Bool) {
        var all: [UInt8] = []
        while true {
            switch receive() {
            case .bytes(let b): all += b
            case .eof: return (all, true)
            case .timeout: return (all, false)
            }
        }
    }

    /// Reads until `predicate` holds for the accumulated bytes (or EOF/timeout).
    func receive(until predicate: ([UInt8]) -> Bool) -> [UInt8] {
        var all: [UInt8] = []
        while !predicate(all) {
            guard case .bytes(let b) = receive() else { break }
            all += b
        }
        return all
    }
}

extension Array where Element == UInt8 {
    var text: String { String(decoding: self, as: UTF8.self) }
    func contains(_ s: String) -> Bool { text.contains(s) }
}

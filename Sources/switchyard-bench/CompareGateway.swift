import Glibc
import SwitchyardBenchCore
import SwitchyardOS

/// One process under test: a switchyard instance (one backend path each, one event loop),
/// lighttpd, or a backend program the load client or both gateways reach over TCP (the HTTP echo
/// app: mod_proxy's backend, and the direct baseline), with its generated config, port and pid.
final class CompareGateway {
    enum Kind: Equatable {
        case switchyard, lighttpd
        /// A program started with these arguments (no config file).
        case program([String])
    }

    let name: String
    let kind: Kind
    let port: Int
    /// A plain GET that must answer 200 once the gateway and its spawned backends are up.
    let readyPath: String
    let configPath: String
    let logPath: String
    /// The gateway listens with TLS: readiness is probed over https.
    var tls: TLSClientContext? = nil
    private(set) var pid: pid_t = 0

    init(name: String, kind: Kind, port: Int, readyPath: String, config: String, directory: String) throws(CompareFailure) {
        self.name = name
        self.kind = kind
        self.port = port
        self.readyPath = readyPath
        configPath = "\(directory)/\(name).conf"
        logPath = "\(directory)/\(name).log"
        guard CompareFiles.write(configPath, config) else { throw CompareFailure("cannot write \(configPath)") }
    }

    func start(setup: CompareSetup) throws(CompareFailure) {
        let arguments: [String]
        switch kind {
        case .switchyard: arguments = [setup.switchyard, "-f", configPath]
        case .lighttpd:
            guard let lighttpd = setup.lighttpd else { throw CompareFailure("lighttpd is not installed") }
            arguments = [lighttpd, "-D", "-f", configPath]
        case .program(let command): arguments = command
        }
        do {
            pid = try Subprocess.start(arguments, log: logPath)
        } catch {
            throw CompareFailure("cannot start \(name): \(error)")
        }
    }

    /// Waits until `readyPath` answers 200 (the gateway listens and its backends accept).
    func waitReady(timeout: Double = 15) throws(CompareFailure) {
        let deadline = Double(EventLoopClock.now()) + timeout
        var last = "no answer"
        while Double(EventLoopClock.now()) < deadline {
            var status: Int32 = 0
            if pid > 0 && waitpid(pid, &status, WNOHANG) == pid {
                pid = 0
                throw CompareFailure("\(name) exited at start (see \(logPath))")
            }
            switch HTTPProbe.status(port: port, path: readyPath, tls: tls) {
            case .some(200): return
            case .some(let code): last = "status \(code)"
            case .none: last = "no answer"
            }
            usleep(100_000)
        }
        throw CompareFailure("\(name): GET \(readyPath) gave \(last) for \(Int(timeout)) s (see \(logPath))")
    }

    /// SIGTERM (switchyard stops its spawned backends), then SIGKILL for whatever is left.
    func stop() {
        guard pid > 0 else { return }
        let family = Subprocess.descendants(of: pid)
        kill(pid, SIGTERM)
        var status: Int32 = 0
        var waited = 0
        while waitpid(pid, &status, WNOHANG) == 0 && waited < 100 {
            usleep(50_000)
            waited += 1
        }
        if waited >= 100 {
            kill(pid, SIGKILL)
            waitpid(pid, &status, 0)
        }
        for p in Subprocess.descendants(of: pid) + family { kill(p, SIGKILL) }
        pid = 0
    }
}

/// Seconds on the monotonic clock.
enum EventLoopClock {
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// A blocking HTTP/1.0 GET that returns the status code (readiness checks only), over TLS
/// when `tls` is given.
enum HTTPProbe {
    static func status(port: Int, path: String, tls: TLSClientContext? = nil) -> Int? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard ok == 0 else {
            close(fd)
            return nil
        }
        if let tls { return tlsStatus(fd: fd, port: port, path: path, client: tls) }
        defer { close(fd) }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1:\(port)\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else { return nil }
        var buf = [UInt8](repeating: 0, count: 512)
        var got = 0
        while got < 12 {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, $0.count - got, 0) }
            if n <= 0 { break }
            got += n
        }
        guard got >= 12 else { return nil }
        let line = String(decoding: buf[0..<got], as: UTF8.self)
        let parts = line.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2 else { return nil }
        return Int(parts[1])
    }

    /// The same GET over TLS on a blocking socket (the transport owns and closes `fd`).
    private static func tlsStatus(fd: Int32, port: Int, path: String, client: TLSClientContext) -> Int? {
        guard let session = try? TLSTransport(fd: fd, client: client, serverName: nil) else {
            close(fd)
            return nil
        }
        defer { session.close() }
        guard case .bytes = session.handshake() else { return nil }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1:\(port)\r\n\r\n".utf8)
        let sent = request.withUnsafeBytes { session.send($0, UnsafeRawBufferPointer(start: nil, count: 0), more: false) }
        guard case .bytes(request.count) = sent else { return nil }
        let buffer = ByteBuffer(capacity: 512)
        while buffer.readableBytes < 12, case .bytes(let n) = session.receive(into: buffer, minimumSpace: 512), n > 0 {}
        guard buffer.readableBytes >= 12 else { return nil }
        let parts = String(decoding: buffer.readable, as: UTF8.self).split(separator: " ", maxSplits: 2)
        return parts.count >= 2 ? Int(parts[1]) : nil
    }

    /// A port that was free a moment ago (bound to port 0 and released).
    static func freePort() -> Int? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Bool in
                bind(fd, p, len) == 0 && getsockname(fd, p, &len) == 0
            }
        }
        return bound ? Int(UInt16(bigEndian: addr.sin_port)) : nil
    }
}

/// Small file helpers (no Foundation).
enum CompareFiles {
    static func write(_ path: String, _ text: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            off += n
        }
        return true
    }

    static func append(_ path: String, _ text: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }

    /// mkdir -p.
    static func makeDirectories(_ path: String) -> Bool {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o755) != 0 && errno != EEXIST { return false }
        }
        return true
    }

    static func remove(tree path: String) {
        _ = try? Subprocess.run(["/bin/rm", "-rf", path], timeout: 30, scratch: nil)
    }
}

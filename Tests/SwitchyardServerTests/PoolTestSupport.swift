import Glibc
@testable import SwitchyardServer
import SwitchyardOS
import SwitchyardGatewayCodecs

/// A real backend for pool tests: a TCP listener on 127.0.0.1 (port 0) served by the test's own
/// event loop. It counts the connections it accepted, can close them all (a backend dropping its
/// idle keep-alive connections), and in FastCGI mode answers every request whose STDIN ended with
/// "Status: 200" + "ok" and FCGI_END_REQUEST, keeping the connection open (FCGI_KEEP_CONN).
final class TestBackend: EventHandler {
    let loop: EventLoop
    let listener: Int32
    let address: SocketAddress
    let fastcgi: Bool
    private(set) var accepted = 0
    private var peers: [Int32: [UInt8]] = [:]
    /// Bytes the backend read on connections it no longer has (it saw their EOF).
    private(set) var closedByGateway = 0

    init(loop: EventLoop, fastcgi: Bool = false) throws {
        self.loop = loop
        self.fastcgi = fastcgi
        listener = try Socket.listen(try SocketAddress.resolve(host: "127.0.0.1", port: 0))
        guard let local = SocketAddress.local(of: listener) else { throw SystemError("getsockname") }
        address = local
        try loop.register(fd: listener, events: .input, handler: self)
    }

    func handleEvent(fd: Int32, events: IOEvents) {
        if fd == listener {
            while case .accepted(let peer, _) = Socket.accept(listener) {
                accepted += 1
                peers[peer] = []
                try? loop.register(fd: peer, events: .input, handler: self)
            }
            return
        }
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n > 0 { peers[fd, default: []].append(contentsOf: chunk[..<n]); continue }
            if n == 0 || (errno != EAGAIN && errno != EINTR) {
                closedByGateway += 1
                drop(fd)
                return
            }
            break
        }
        if fastcgi { answerFastCGI(fd) }
    }

    private func answerFastCGI(_ fd: Int32) {
        var decoder = FastCGIRecordDecoder()
        var input = peers[fd] ?? []
        var out: [UInt8] = []
        while let (record, used) = try? input.withUnsafeBytes({ try decoder.nextRecord($0) }) {
            input.removeFirst(used)
            guard record.knownType == .stdin, record.content.isEmpty else { continue }
            FastCGIRecordEncoder.stream(.stdout, requestId: record.requestId,
                                        payload: Array("Status: 200\r\nContent-Type: text/plain\r\n\r\nok".utf8), into: &out)
            FastCGIRecordEncoder.endRequest(requestId: record.requestId, appStatus: 0, into: &out)
        }
        peers[fd] = input
        if !out.isEmpty { _ = out.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } }
    }

    private func drop(_ fd: Int32) {
        loop.unregister(fd: fd)
        Glibc.close(fd)
        peers[fd] = nil
    }

    /// Closes every accepted connection, as a backend does with its idle keep-alive connections.
    func closeConnections() {
        for fd in Array(peers.keys) { drop(fd) }
    }

    func stop() {
        closeConnections()
        loop.unregister(fd: listener)
        Glibc.close(listener)
    }
}

/// The smallest pooled connection: a socket to a `TestBackend` that notices EOF while idle, with
/// a settable number of requests in flight and of requests it may carry at once (1 = HTTP/1.1
/// style, more = multiplexing).
final class TestConnection: EventHandler, PooledBackendConnection {
    let fd: Int32
    let loop: EventLoop
    var activeCount = 0
    let capacity: Int
    private(set) var isClosed = false
    var onClose: ((TestConnection) -> Void)?

    init(to address: SocketAddress, loop: EventLoop, capacity: Int = 1) throws {
        switch try Socket.connect(address) {
        case .connected(let f), .inProgress(let f): fd = f
        }
        self.loop = loop
        self.capacity = capacity
        try loop.register(fd: fd, events: .input, handler: self)
    }

    var canTakeAnother: Bool { !isClosed && activeCount < capacity }

    func handleEvent(fd: Int32, events: IOEvents) {
        var byte: UInt8 = 0
        let n = Glibc.read(fd, &byte, 1)
        if n == 0 || (n < 0 && errno != EAGAIN) { close() }
    }

    func closeFromPool() { close() }

    private func close() {
        guard !isClosed else { return }
        isClosed = true
        loop.unregister(fd: fd)
        Glibc.close(fd)
        onClose?(self)
    }
}

/// Collects what a backend stream delivers.
final class StreamRecorder: BackendStreamDelegate {
    var output: [UInt8] = []
    var ended = false
    var failure: BackendFailure?
    var onEnded: ((BackendFailure?) -> Void)?
    func streamConnected() {}
    func streamStdout(_ bytes: UnsafeRawBufferPointer) { output.append(contentsOf: bytes) }
    func streamStderr(_ bytes: UnsafeRawBufferPointer) {}
    func streamWritable() {}
    func streamEnded(_ error: BackendFailure?, protocolStatus: UInt8?) {
        ended = true
        failure = error
        onEnded?(error)
    }
    var text: String { String(decoding: output, as: UTF8.self) }
}

/// Runs `loop` on this thread until `done()` holds or `seconds` pass; returns `done()`.
@discardableResult
func spin(_ loop: EventLoop, seconds: Double, until done: @escaping () -> Bool = { false }) -> Bool {
    let deadline = EventLoop.monotonicNanoseconds() + UInt64(seconds * 1e9)
    func check() {
        if done() || EventLoop.monotonicNanoseconds() >= deadline { loop.stop(); return }
        loop.schedule(afterSeconds: 0.005) { check() }
    }
    loop.schedule(afterSeconds: 0) { check() }
    loop.run()
    return done()
}

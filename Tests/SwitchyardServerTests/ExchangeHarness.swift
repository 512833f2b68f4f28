import Foundation
import Glibc
import Synchronization
@testable import SwitchyardServer
import SwitchyardOS
import SwitchyardHTTP

/// A worker built in-process from a minimal configuration, one `HTTP1Connection` on it over a
/// socketpair, and the worker's loop running on a thread of its own. `client` is the test's end
/// (blocking). Loop-confined objects are created before the loop thread starts and touched again
/// only after it has been joined.
final class ExchangeHarness {
    let worker: Worker
    var client: Int32
    let events = TestEvents()
    private let thread: LoopThread
    private let dir: String

    init() throws {
        dir = NSTemporaryDirectory() + "sy-exchange-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let conf = "server.document-root = \"\(dir)\"\nserver.bind = \"127.0.0.1\"\nserver.port = 0\nserver.errorlog = \"\(dir)/error.log\"\n"
        try conf.write(toFile: dir + "/t.conf", atomically: true, encoding: .utf8)
        let (server, _) = try Server.load(configPath: dir + "/t.conf")
        worker = try Worker(index: 0, server: server)
        let (serverEnd, clientEnd) = try Socket.pair()
        Socket.setNonBlocking(clientEnd, false)
        client = clientEnd
        let connection = HTTP1Connection(transport: SocketTransport(fd: serverEnd), worker: worker, remote: nil,
                                         listener: ListenerInfo(scheme: "http", serverSocket: "test", port: 0),
                                         routing: TestRouting(events: events))
        try connection.start()
        let loop = worker.loop
        thread = try LoopThread(name: "exchange-test") { loop.run() }
    }

    func stop() {
        let loop = worker.loop
        loop.execute { loop.stop() }
        thread.join()
        if client >= 0 { close(client) }
        try? FileManager.default.removeItem(atPath: dir)
    }

    func send(_ text: String) {
        var bytes = Array(text.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(client, $0.baseAddress! + off, $0.count - off) }
            guard n > 0 else { return }
            off += n
        }
    }

    /// Reads until `done` holds for what arrived, the peer closes (eof true), or `timeout` s pass.
    func receive(until done: (String) -> Bool, timeout: Double = 3) -> (String, Bool) {
        var got: [UInt8] = []
        let deadline = Date().addingTimeInterval(timeout)
        var buf = [UInt8](repeating: 0, count: 65536)
        while Date() < deadline {
            var p = pollfd(fd: client, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 50) > 0 else { continue }
            let n = buf.withUnsafeMutableBytes { read(client, $0.baseAddress!, $0.count) }
            if n <= 0 { return (String(decoding: got, as: UTF8.self), true) }
            got += buf[..<n]
            if done(String(decoding: got, as: UTF8.self)) { break }
        }
        return (String(decoding: got, as: UTF8.self), false)
    }

    /// The server closes the connection within two seconds (bytes before the end are dropped).
    func receiveEOF() -> Bool { receive(until: { _ in false }, timeout: 2).1 }
}

/// What the handlers saw, readable from the test thread.
final class TestEvents: Sendable {
    private let list = Mutex<[String]>([])
    func record(_ e: String) { list.withLock { $0.append(e) } }
    /// Waits up to three seconds for `event`.
    func wait(for event: String) -> Bool {
        for _ in 0..<300 {
            if list.withLock({ $0.contains(event) }) { return true }
            usleep(10_000)
        }
        return false
    }
}

/// Routes by path to the small handlers below.
final class TestRouting: ExchangeRouting {
    let events: TestEvents
    /// An exchange kept past its end by `/keep`, for `/late` to call.
    var kept: (any ClientExchange)?
    init(events: TestEvents) { self.events = events }

    func handler(for head: HTTPRequestHead, connection: any ClientExchange) -> RoutedRequest {
        let h: RequestHandler
        switch head.path {
        case "/echo": h = EchoHandler(connection)
        case "/upgrade": h = UpgradeHandler(connection)
        case "/sink", "/hold": h = HoldingHandler(connection, name: String(head.path.dropFirst()), events: events)
        case "/abort": h = AbortingHandler(connection)
        default: h = PathHandler(connection, routing: self)
        }
        return RoutedRequest(handler: h, wantsBody: true, bodyLimit: 0)
    }
}

/// Answers "body:<path>" (after 100 ms for /slow); /keep and /late test stale exchanges.
final class PathHandler: RequestHandler {
    let exchange: any ClientExchange
    let routing: TestRouting
    init(_ exchange: any ClientExchange, routing: TestRouting) { self.exchange = exchange; self.routing = routing }

    func start() {}
    func requestBodyEnd() {
        let path = exchange.request?.path ?? "?"
        if path == "/slow" {
            _ = exchange.worker.loop.schedule(afterSeconds: 0.1) { self.answer(path) }
            return
        }
        if path == "/late", let old = routing.kept {
            old.clientVanished()
            old.sendError(500)
            old.resumeReading()
            "stale".utf8CString.withUnsafeBytes { _ = old.sendBody($0) }
            old.finishResponse()
        }
        if path == "/keep" { routing.kept = exchange }
        if path == "/hints" {
            // A proxy relaying interim heads: 103 (its framing field must not go out), then 100 twice.
            var hint = HTTPResponseHead(status: 103)
            hint.headers.add(name: "Link", value: "</a.css>; rel=preload")
            hint.headers.add(name: "Content-Length", value: "9")
            exchange.sendInterim(hint)
            exchange.sendInterim(HTTPResponseHead(status: 100))
            exchange.sendInterim(HTTPResponseHead(status: 100))
        }
        answer(path)
    }

    private func answer(_ path: String) {
        let body = Array("body:\(path)".utf8)
        exchange.sendHead(HTTPResponseHead(status: 200), framing: .length(body.count))
        body.withUnsafeBytes { _ = exchange.sendBody($0) }
        exchange.finishResponse()
    }
}

/// Echoes the request body with the number of pieces it arrived in.
final class EchoHandler: RequestHandler {
    let exchange: any ClientExchange
    var body: [UInt8] = []
    var pieces = 0
    init(_ exchange: any ClientExchange) { self.exchange = exchange }
    func start() {}
    func requestBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        body += bytes
        pieces += 1
        return true
    }
    func requestBodyEnd() {
        let out = Array("echo:\(String(decoding: body, as: UTF8.self)) pieces:\(pieces)".utf8)
        exchange.sendHead(HTTPResponseHead(status: 200), framing: .length(out.count))
        out.withUnsafeBytes { _ = exchange.sendBody($0) }
        exchange.finishResponse()
    }
}

/// Answers 101, then echoes the stream upper-cased; at the client's FIN says BYE and ends.
final class UpgradeHandler: RequestHandler {
    let exchange: any ClientExchange
    init(_ exchange: any ClientExchange) { self.exchange = exchange }
    func start() {
        var head = HTTPResponseHead(status: 101, reason: "Switching Protocols")
        head.headers.add(name: "Connection", value: "Upgrade")
        head.headers.add(name: "Upgrade", value: "test")
        exchange.switchToUpgraded(head)
    }
    func upgradedData(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let upper = Array(String(decoding: bytes, as: UTF8.self).uppercased().utf8)
        return upper.withUnsafeBytes { exchange.sendRaw($0) }
    }
    func upgradedClientEOF() {
        Array("BYE".utf8).withUnsafeBytes { _ = exchange.sendRaw($0) }
        exchange.finishUpgraded()
    }
}

/// /sink takes the body and never answers; /hold sends part of an answer and never ends it.
final class HoldingHandler: RequestHandler {
    let exchange: any ClientExchange
    let name: String
    let events: TestEvents
    init(_ exchange: any ClientExchange, name: String, events: TestEvents) {
        self.exchange = exchange
        self.name = name
        self.events = events
    }
    func start() {
        guard name == "hold" else { return }
        exchange.sendHead(HTTPResponseHead(status: 200), framing: .length(100))
        Array("partial".utf8).withUnsafeBytes { _ = exchange.sendBody($0) }
    }
    func requestBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        events.record("\(name):body")
        return true
    }
    func abort() { events.record("\(name):abort") }
}

/// Starts a chunked answer, sends one chunk, then fails (a backend dying mid-body).
final class AbortingHandler: RequestHandler {
    let exchange: any ClientExchange
    init(_ exchange: any ClientExchange) { self.exchange = exchange }
    func start() {}
    func requestBodyEnd() {
        exchange.sendHead(HTTPResponseHead(status: 200), framing: .chunked)
        Array("first".utf8).withUnsafeBytes { _ = exchange.sendBody($0) }
        exchange.abortResponse("test: backend failed")
    }
}

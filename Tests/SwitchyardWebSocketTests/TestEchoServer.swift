import Foundation
import Glibc
@testable import SwitchyardWebSocket

/// A one-connection WebSocket echo server on a thread, built from the module's own codec.
final class TestEchoServer: @unchecked Sendable {
    enum Mode {
        /// RFC behaviour: echo data frames frame by frame, PONG for PING, echo CLOSE then close.
        case echo
        /// Like `.echo` but with a wrong Sec-WebSocket-Accept.
        case badAccept
        /// Answers the upgrade with 403.
        case reject
        /// Like the seed ws_echo.py: echoes masked with the client's key, CLOSE payload "1000".
        case maskedLikeSeed
        /// Accepts and reads, never answers.
        case silent
    }

    let port: UInt16
    let mode: Mode
    private let listenFD: Int32
    private let lock = NSLock()
    private var _request = ""
    private let finished = DispatchSemaphore(value: 0)

    init(mode: Mode) {
        self.mode = mode
        let listenFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        precondition(listenFD >= 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bind(listenFD, sa, len) == 0 && listen(listenFD, 4) == 0 && getsockname(listenFD, sa, &len) == 0
            }
        }
        precondition(ok)
        self.listenFD = listenFD
        port = UInt16(bigEndian: addr.sin_port)
    }

    /// Starts the server thread; call once.
    func start() -> TestEchoServer {
        Thread { [self] in serve(); finished.signal() }.start()
        return self
    }

    var url: String { "ws://127.0.0.1:\(port)/echo?x=1" }

    /// The request head the client sent.
    var request: String { lock.withLock { _request } }

    /// Waits for the server thread to finish its connection.
    func waitUntilDone(seconds: Double = 10) -> Bool {
        finished.wait(timeout: .now() + seconds) == .success
    }

    private func serve() {
        let fd = accept(listenFD, nil, nil)
        Glibc.close(listenFD)
        guard fd >= 0 else { return }
        defer { Glibc.close(fd) }
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        func readMore() -> Bool {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return false }
            pending.append(contentsOf: chunk[..<n])
            return true
        }
        func write(_ bytes: [UInt8]) {
            bytes.withUnsafeBytes { raw in
                var off = 0
                while off < raw.count {
                    let n = send(fd, raw.baseAddress! + off, raw.count - off, Int32(MSG_NOSIGNAL))
                    if n <= 0 { return }
                    off += n
                }
            }
        }
        // Request head.
        var headEnd: Int? = nil
        while headEnd == nil {
            if let r = pending.firstRange(of: Array("\r\n\r\n".utf8)) { headEnd = r.upperBound; break }
            if !readMore() { return }
        }
        let head = String(decoding: pending[..<headEnd!], as: UTF8.self)
        pending.removeFirst(headEnd!)
        lock.withLock { _request = head }
        let key = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("sec-websocket-key:") }
            .map { $0.dropFirst("sec-websocket-key:".count).trimmingCharacters(in: .whitespaces) } ?? ""
        switch mode {
        case .silent:
            while readMore() {}
            return
        case .reject:
            write(Array("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n".utf8))
            return
        default:
            let accept = mode == .badAccept ? "AAAAAAAAAAAAAAAAAAAAAAAAAAA=" : WebSocketHandshake.acceptValue(forKey: key)
            write(Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(accept)\r\n\r\n".utf8))
        }
        var decoder = WebSocketFrameDecoder(role: .server)
        var out: [UInt8] = []
        while true {
            let decoded: (frame: WebSocketFrame, consumed: Int)?
            do { decoded = try decoder.decode(pending) } catch {
                out.removeAll()
                WebSocketFrameEncoder.encode(opcode: .close, payload: WebSocketFrameEncoder.closePayload(code: error.closeCode, reason: ""), into: &out)
                write(out)
                return
            }
            guard let (frame, consumed) = decoded else {
                if !readMore() { return }
                continue
            }
            pending.removeFirst(consumed)
            let replyKey: UInt32? = mode == .maskedLikeSeed ? frame.maskKey : nil
            out.removeAll(keepingCapacity: true)
            switch frame.opcode {
            case .ping:
                WebSocketFrameEncoder.encode(opcode: .pong, payload: frame.payload, maskKey: replyKey, into: &out)
            case .pong:
                continue
            case .close:
                let payload = mode == .maskedLikeSeed ? Array("1000".utf8) : frame.payload
                WebSocketFrameEncoder.encode(opcode: .close, payload: payload, into: &out)
                write(out)
                return
            default:
                WebSocketFrameEncoder.encode(opcode: frame.opcode, payload: frame.payload, fin: frame.fin, maskKey: replyKey, into: &out)
            }
            write(out)
        }
    }
}

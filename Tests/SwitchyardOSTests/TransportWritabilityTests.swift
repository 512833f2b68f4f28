import Glibc
import Testing
@testable import SwitchyardOS

/// A transport that must write before it can read on (what a TLS session does when OpenSSL says
/// WANT_WRITE in the middle of a handshake): it takes the peer's bytes from the socket, keeps
/// them, and reports `wantsWritability`. Only writability can make progress then — the kernel
/// socket is empty, so no input readiness will come.
private final class WriteFirstTransport: ByteTransport {
    let inner: SocketTransport
    private var stash: [UInt8] = []
    private(set) var wantsWritability = false
    private(set) var receives = 0
    private var primed = false

    init(fd: Int32) { inner = SocketTransport(fd: fd) }

    var descriptor: Int32 { inner.descriptor }
    var kernelPath: KernelPathTransport? { nil }

    func receive(into buffer: ByteBuffer, minimumSpace: Int) -> IOResult {
        receives += 1
        if !primed {
            primed = true
            let scratch = ByteBuffer(capacity: 4096)
            guard case .bytes = inner.receive(into: scratch, minimumSpace: 4096) else { return .wouldBlock }
            stash = Array(scratch.readable)
            wantsWritability = true
            return .wouldBlock
        }
        wantsWritability = false
        guard !stash.isEmpty else { return inner.receive(into: buffer, minimumSpace: minimumSpace) }
        buffer.append(stash)
        let n = stash.count
        stash = []
        return .bytes(n)
    }

    func send(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer, more: Bool) -> IOResult {
        inner.send(first, second, more: more)
    }
    func shutdownOutput() { inner.shutdownOutput() }
    func close() { inner.close() }
}

@Suite("ByteTransport.wantsWritability")
struct TransportWritabilityTests {
    @Test func aTransportWaitingToWriteIsCalledAgainWhenWritable() throws {
        let loop = try EventLoop(name: "write-first")
        let (a, b) = try Socket.pair()
        let transport = WriteFirstTransport(fd: a)
        let stream = BufferedStream(transport: transport, loop: loop)
        let recorder = StreamRecorder()
        stream.delegate = recorder
        try stream.start()
        defer { stream.close(); Syscall.close(b) }
        writeAll(b, Array("client hello".utf8))
        #expect(runLoop(loop, timeout: 2) { recorder.received == Array("client hello".utf8) },
                "the stream must ask for writability and read on when it comes")
        #expect(!transport.wantsWritability)
        let before = transport.receives
        runLoop(loop, for: 0.05)
        #expect(transport.receives == before, "no more wake-ups once the transport wants nothing")
    }

    @Test func plainTransportsNeverWantWritability() throws {
        let (a, b) = try Socket.pair()
        let t = SocketTransport(fd: a)
        #expect(!t.wantsWritability)
        t.close()
        Syscall.close(b)
    }
}

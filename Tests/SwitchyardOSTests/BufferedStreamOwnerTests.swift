import Glibc
import Testing
@testable import SwitchyardOS

/// The hooks an owner on the hot path uses (the client connection): a strong `owner`, idleness
/// reported instead of closing, and a drain notice asked for without a refused write.
@Suite("BufferedStream owner hooks")
struct BufferedStreamOwnerTests {
    private func ownedStream(_ options: BufferedStreamOptions) throws -> (EventLoop, BufferedStream, StreamRecorder, peer: Int32) {
        let loop = try EventLoop(name: "stream-owner-test")
        let (a, b) = try Socket.pair()
        let stream = BufferedStream(transport: SocketTransport(fd: a), loop: loop, options: options)
        let recorder = StreamRecorder()
        stream.owner = recorder   // strong: the recorder is reachable only through the stream
        try stream.start()
        return (loop, stream, recorder, b)
    }

    @Test func idlenessIsReportedOnceAnIntervalAndTheStreamStaysOpen() throws {
        var options = BufferedStreamOptions()
        options.idleTimeout = 0.1
        options.reportsIdle = true
        let (loop, stream, recorder, peer) = try ownedStream(options)
        defer { Syscall.close(peer) }
        #expect(runLoop(loop, timeout: 3) { recorder.idleReports.count >= 3 })
        #expect(recorder.closes.isEmpty && !stream.isClosed, "reported, not closed")
        let gaps = zip(recorder.idleReports.dropFirst(), recorder.idleReports).map { $0 - $1 }
        #expect(gaps.allSatisfy { $0 >= 80_000_000 }, "one report per idle interval, not a busy loop: \(gaps)")
        writeAll(peer, [1, 2, 3])
        #expect(runLoop(loop, timeout: 3) { recorder.received.count == 3 })
        stream.close()
    }

    @Test func aDrainNoticeComesWithoutARefusedWrite() throws {
        var options = BufferedStreamOptions()
        options.highWatermark = 1 << 30   // no write is ever refused
        options.lowWatermark = 0
        let (loop, stream, recorder, peer) = try ownedStream(options)
        defer { Syscall.close(peer) }
        #expect(stream.write(pattern(4 << 20)), "below the (huge) high watermark")
        #expect(stream.pendingOutputBytes > 0, "the peer has not read: bytes wait")
        stream.requestDrainNotice()
        var got: [UInt8] = []
        #expect(runLoop(loop, timeout: 5, tick: { _ = drain(peer, into: &got) }) { recorder.drained == 1 })
        #expect(stream.pendingOutputBytes == 0)
        stream.close()
    }

    @Test func theStrongOwnerHearsTheStream() throws {
        let (loop, stream, recorder, peer) = try ownedStream(BufferedStreamOptions())
        writeAll(peer, [7])
        Syscall.close(peer)
        #expect(runLoop(loop, timeout: 3) { recorder.eofCount == 1 }, "input and EOF reach the owner (no weak delegate set)")
        #expect(recorder.received == [7])
        stream.owner = nil
        stream.close()
    }
}

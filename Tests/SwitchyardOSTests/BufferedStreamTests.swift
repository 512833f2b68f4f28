import Glibc
import Testing
@testable import SwitchyardOS

/// `BufferedStream` against a real peer: the other end of a socketpair (or a pipe pair) driven by
/// the test, with a real `EventLoop`.
@Suite("BufferedStream")
struct BufferedStreamTests {
    private func socketStream(_ options: BufferedStreamOptions = BufferedStreamOptions()) throws
        -> (EventLoop, BufferedStream, StreamRecorder, peer: Int32) {
        let loop = try EventLoop(name: "stream-test")
        let (a, b) = try Socket.pair()
        let stream = BufferedStream(transport: SocketTransport(fd: a), loop: loop, options: options)
        let recorder = StreamRecorder()
        stream.delegate = recorder
        try stream.start()
        return (loop, stream, recorder, b)
    }

    @Test func writeReturnsFalseAtTheHighWatermarkAndDrainsWhenThePeerReads() throws {
        var options = BufferedStreamOptions()
        options.highWatermark = 64 * 1024
        options.lowWatermark = 16 * 1024
        let (loop, stream, recorder, peer) = try socketStream(options)
        defer { stream.close(); Syscall.close(peer) }
        let chunk = pattern(16 * 1024)
        var sent: [UInt8] = []
        var accepted = true
        while accepted && sent.count < 64 << 20 {
            accepted = stream.write(chunk)
            sent += chunk
        }
        #expect(!accepted, "the peer reads nothing: write must report the backlog")
        #expect(stream.pendingOutputBytes >= options.highWatermark)
        runLoop(loop, for: 0.05)
        #expect(recorder.drained == 0, "nothing was read, nothing drained")
        var got: [UInt8] = []
        let drainedInTime = runLoop(loop, tick: { _ = drain(peer, into: &got) }) { recorder.drained == 1 }
        #expect(drainedInTime)
        runLoop(loop, tick: { _ = drain(peer, into: &got) }) { got.count == sent.count }
        #expect(got == sent)
        #expect(recorder.drained == 1)
        #expect(recorder.closes.isEmpty)
    }

    @Test func pausedReadingDeliversNothingUntilResumed() throws {
        let (loop, stream, recorder, peer) = try socketStream()
        defer { stream.close(); Syscall.close(peer) }
        stream.pauseReading()
        writeAll(peer, Array("hello".utf8))
        runLoop(loop, for: 0.05)
        #expect(recorder.received.isEmpty)
        stream.resumeReading()
        #expect(runLoop(loop) { recorder.received == Array("hello".utf8) })
    }

    @Test func peerEOFComesOnceAfterAllBufferedData() throws {
        var options = BufferedStreamOptions()
        options.readSize = 4096   // several reads before the EOF
        let (loop, stream, recorder, peer) = try socketStream(options)
        defer { stream.close(); Syscall.close(peer) }
        let data = pattern(300 * 1024)
        var offset = 0
        runLoop(loop, tick: {
            guard offset < data.count else { return }
            let n = data.withUnsafeBytes { Glibc.write(peer, $0.baseAddress! + offset, $0.count - offset) }
            if n > 0 { offset += n }
            if offset == data.count { Socket.shutdownWrite(peer) }
        }) { recorder.eofCount > 0 }
        runLoop(loop, for: 0.05)
        #expect(recorder.eofCount == 1)
        #expect(recorder.receivedAtEOF == data.count)
        #expect(recorder.received == data)
        // Half-closed by the peer only: our output still reaches it.
        stream.write(Array("after".utf8))
        var back: [UInt8] = []
        #expect(runLoop(loop, tick: { _ = drain(peer, into: &back) }) { back == Array("after".utf8) })
        #expect(recorder.closes.isEmpty)
    }

    @Test func shutdownOutputWaitsForTheQueueToDrain() throws {
        let (loop, stream, recorder, peer) = try socketStream()
        defer { stream.close(); Syscall.close(peer) }
        let data = pattern(1 << 20)
        stream.write(data)
        #expect(stream.pendingOutputBytes > 0, "more than the socket buffer takes at once")
        stream.shutdownOutput()
        #expect(!stream.isOutputClosed)
        var got: [UInt8] = []
        var eof = false
        #expect(runLoop(loop, tick: { if !eof { eof = !drain(peer, into: &got) } }) { eof })
        #expect(got == data, "every queued byte before the FIN")
        #expect(stream.isOutputClosed)
        writeAll(peer, Array("still reading".utf8))
        #expect(runLoop(loop) { recorder.received == Array("still reading".utf8) })
        #expect(recorder.closes.isEmpty)
    }

    @Test func closeAfterFlushDropsInputAndClosesAtThePeersEOF() throws {
        let (loop, stream, recorder, peer) = try socketStream()
        defer { Syscall.close(peer) }
        stream.write(Array("bye".utf8))
        stream.closeAfterFlush(linger: 5)
        writeAll(peer, Array("ignored".utf8))
        var got: [UInt8] = []
        var eof = false
        runLoop(loop, tick: { if !eof { eof = !drain(peer, into: &got) } }) { eof }
        #expect(got == Array("bye".utf8))
        #expect(recorder.received.isEmpty)
        #expect(recorder.closes.isEmpty, "open until the peer's EOF")
        Socket.shutdownWrite(peer)
        #expect(runLoop(loop) { !recorder.closes.isEmpty })
        #expect(recorder.closes.count == 1 && recorder.closes[0] == nil)
        #expect(stream.isClosed)
    }

    @Test func idleTimeoutClosesAQuietStream() throws {
        var options = BufferedStreamOptions()
        options.idleTimeout = 0.2
        let start = EventLoop.monotonicNanoseconds()
        let (loop, stream, recorder, peer) = try socketStream(options)
        defer { Syscall.close(peer) }
        // Traffic half-way keeps it open past the first deadline.
        runLoop(loop, for: 0.1)
        writeAll(peer, [1])
        #expect(runLoop(loop, timeout: 3) { !recorder.closes.isEmpty })
        #expect(recorder.closes == [.idleTimeout])
        #expect(recorder.closedAt >= start + 280_000_000, "the byte at 0.1 s moved the deadline")
        #expect(stream.isClosed)
        var rest: [UInt8] = []
        #expect(!drain(peer, into: &rest), "the descriptor was closed: the peer sees EOF")
    }

    @Test func writeTimeoutFiresWhenThePeerStopsReading() throws {
        var options = BufferedStreamOptions()
        options.writeTimeout = 0.2
        let (loop, stream, recorder, peer) = try socketStream(options)
        defer { Syscall.close(peer) }
        // Reading input keeps the stream active, but output makes no progress.
        stream.write(pattern(4 << 20))
        var one: UInt8 = 0
        #expect(runLoop(loop, timeout: 3, tick: { _ = send(peer, &one, 1, Int32(MSG_NOSIGNAL)) }) { !recorder.closes.isEmpty })
        #expect(recorder.closes == [.writeTimeout])
    }

    @Test func writeTimeoutDoesNotFireWhileThePeerReads() throws {
        var options = BufferedStreamOptions()
        options.writeTimeout = 0.2
        let (loop, stream, recorder, peer) = try socketStream(options)
        defer { stream.close(); Syscall.close(peer) }
        let data = pattern(1 << 20)
        stream.write(data)
        var got: [UInt8] = []
        var lastRead: UInt64 = 0
        // A slow reader: at most 16 KiB every 10 ms, so 1 MiB takes at least 640 ms, longer than
        // the 200 ms timeout, while every gap between reads stays far below it.
        let started = EventLoop.monotonicNanoseconds()
        runLoop(loop, timeout: 10, tick: {
            let now = EventLoop.monotonicNanoseconds()
            guard now - lastRead >= 10_000_000 else { return }
            lastRead = now
            var chunk = [UInt8](repeating: 0, count: 16 * 1024)
            var budget = chunk.count
            while budget > 0 {
                let n = chunk.withUnsafeMutableBytes { Glibc.read(peer, $0.baseAddress!, budget) }
                guard n > 0 else { break }
                got += chunk[0..<n]
                budget -= n
            }
        }) { got.count == data.count || !recorder.closes.isEmpty }
        #expect(recorder.closes.isEmpty)
        #expect(got == data)
        #expect(EventLoop.monotonicNanoseconds() - started > 200_000_000, "the transfer outlasted the timeout")
    }

    @Test func peerResetIsReportedOnce() throws {
        let (loop, stream, recorder, peer) = try socketStream()
        stream.write(Array("unread".utf8))
        // Closing a unix socket with unread input resets the connection (ECONNRESET to us).
        Syscall.close(peer)
        #expect(runLoop(loop) { !recorder.closes.isEmpty })
        stream.write(Array("more".utf8))
        stream.shutdownOutput()
        runLoop(loop, for: 0.05)
        #expect(recorder.closes.count == 1)
        #expect(recorder.closes.first??.errorNumber == ECONNRESET)
        #expect(recorder.eofCount == 0)
        #expect(stream.isClosed)
    }

    @Test func failureInsideTheOwnersCallIsReportedAfterIt() throws {
        let (loop, stream, recorder, peer) = try socketStream()
        Syscall.close(peer)
        stream.write(Array("to nobody".utf8))
        #expect(recorder.closes.isEmpty, "not from inside write()")
        #expect(stream.isClosed)
        runLoop(loop, for: 0.02)
        #expect(recorder.closes == [.writeFailed(EPIPE)])
    }
}

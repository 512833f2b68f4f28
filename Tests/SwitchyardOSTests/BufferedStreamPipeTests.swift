import Glibc
import Testing
@testable import SwitchyardOS

/// `BufferedStream` over two pipes (a CGI's stdout and stdin) and over a non-blocking connect.
@Suite("BufferedStream over pipes and connects")
struct BufferedStreamPipeTests {
    /// A started stream over two fresh pipes: it reads `inbound.read` and writes `outbound.write`.
    private func startedPipeStream() throws -> (EventLoop, BufferedStream, StreamRecorder, inbound: (read: Int32, write: Int32),
                                                outbound: (read: Int32, write: Int32)) {
        let loop = try EventLoop(name: "pipe-test")
        let inbound = try Pipe.make(), outbound = try Pipe.make()
        let stream = BufferedStream(transport: PipeTransport(input: inbound.read, output: outbound.write), loop: loop)
        let recorder = StreamRecorder()
        stream.delegate = recorder
        try stream.start()
        return (loop, stream, recorder, inbound, outbound)
    }

    @Test func pipePairCarriesBothDirectionsAndHalfClosesByClosingTheWritePipe() throws {
        let (loop, stream, recorder, inbound, outbound) = try startedPipeStream()
        defer { stream.close(); Syscall.close(outbound.read) }
        let request = pattern(200 * 1024)   // more than a pipe holds: needs writability events
        stream.write(request)
        stream.shutdownOutput()
        var got: [UInt8] = []
        var eof = false
        #expect(runLoop(loop, tick: { if !eof { eof = !drain(outbound.read, into: &got) } }) { eof })
        #expect(got == request)
        // The reader's EOF is the proof that the half-close closed the write pipe (its only write
        // end). Asking whether the descriptor number is still open would race with tests running
        // in parallel, which may already have been given that number again.
        #expect(eof)
        writeAll(inbound.write, Array("answer".utf8))
        Syscall.close(inbound.write)
        #expect(runLoop(loop) { recorder.eofCount > 0 })
        runLoop(loop, for: 0.03)
        #expect(recorder.received == Array("answer".utf8))
        #expect(recorder.eofCount == 1)
        #expect(recorder.closes.isEmpty)
    }

    /// A pipe pair's two descriptors are armed on their own (read end: input, write end: output)
    /// and only a change reaches the loop, as for a socket's one descriptor.
    @Test func pipePairArmsEachEndForWhatItWaitsFor() throws {
        let (loop, stream, recorder, inbound, outbound) = try startedPipeStream()
        defer { stream.close(); Syscall.close(inbound.write); Syscall.close(outbound.read) }
        #expect(loop.interest(fd: inbound.read) == .input)
        #expect(loop.interest(fd: outbound.write) == [])
        stream.pauseReading()
        #expect(loop.interest(fd: inbound.read) == [])
        #expect(loop.interest(fd: outbound.write) == [])
        let request = pattern(200 * 1024)   // more than a pipe holds: the rest waits for writability
        stream.write(request)
        #expect(stream.pendingOutputBytes > 0)
        #expect(loop.interest(fd: inbound.read) == [])
        #expect(loop.interest(fd: outbound.write) == .output)
        stream.resumeReading()
        #expect(loop.interest(fd: inbound.read) == .input)
        #expect(loop.interest(fd: outbound.write) == .output)
        var got: [UInt8] = []
        #expect(runLoop(loop, tick: { _ = drain(outbound.read, into: &got) }) { got.count == request.count })
        #expect(got == request)
        #expect(loop.interest(fd: outbound.write) == [])
        #expect(loop.interest(fd: inbound.read) == .input)
        writeAll(inbound.write, Array("answer".utf8))
        #expect(runLoop(loop) { recorder.received == Array("answer".utf8) })
        stream.shutdownOutput()   // a pipe's half-close closes the write end: out of the loop
        #expect(loop.interest(fd: outbound.write) == nil)
        #expect(loop.interest(fd: inbound.read) == .input)
    }

    @Test func readerGoneEndsOnlyTheOutputWhenAsked() throws {
        signal(SIGPIPE, SIG_IGN)
        let loop = try EventLoop(name: "pipe-test")
        let inbound = try Pipe.make(), outbound = try Pipe.make()
        var options = BufferedStreamOptions()
        options.writeErrorEndsOutputOnly = true
        let stream = BufferedStream(transport: PipeTransport(input: inbound.read, output: outbound.write), loop: loop,
                                    options: options)
        let recorder = StreamRecorder()
        stream.delegate = recorder
        try stream.start()
        defer { stream.close() }
        Syscall.close(outbound.read)   // the CGI closed its stdin
        #expect(stream.write(pattern(1000)))
        #expect(stream.isOutputClosed)
        #expect(!stream.isClosed)
        writeAll(inbound.write, Array("late answer".utf8))
        Syscall.close(inbound.write)
        #expect(runLoop(loop) { recorder.eofCount == 1 })
        #expect(recorder.received == Array("late answer".utf8))
        #expect(recorder.closes.isEmpty)
    }

    @Test func outputQueuedDuringAConnectLeavesWhenItCompletes() throws {
        let loop = try EventLoop(name: "connect-test")
        let listener = try Socket.listen(try SocketAddress.parse("127.0.0.1:0"))
        defer { Syscall.close(listener) }
        let address = try SocketAddress.parse("127.0.0.1:\(SocketAddress.local(of: listener)!.port)")
        let fd: Int32
        var connecting = false
        switch try Socket.connect(address) {
        case .connected(let f): fd = f
        case .inProgress(let f): fd = f; connecting = true
        }
        let stream = BufferedStream(transport: SocketTransport(fd: fd), loop: loop, connecting: connecting)
        let recorder = StreamRecorder()
        stream.delegate = recorder
        stream.write(Array("first".utf8))
        try stream.start()
        defer { stream.close() }
        var accepted: Int32 = -1
        var got: [UInt8] = []
        #expect(runLoop(loop, tick: {
            if accepted < 0, case .accepted(let a, _) = Socket.accept(listener) { accepted = a }
            if accepted >= 0 { _ = drain(accepted, into: &got) }
        }) { got == Array("first".utf8) })
        #expect(recorder.connected == (connecting ? 1 : 0))
        Syscall.close(accepted)
    }

    @Test func refusedConnectIsReportedOnce() throws {
        let loop = try EventLoop(name: "connect-test")
        let listener = try Socket.listen(try SocketAddress.parse("127.0.0.1:0"))
        let port = SocketAddress.local(of: listener)!.port
        Syscall.close(listener)   // nobody listens there now
        guard case .inProgress(let fd) = try Socket.connect(try SocketAddress.parse("127.0.0.1:\(port)")) else {
            Issue.record("a loopback connect should be in progress, not done")
            return
        }
        let stream = BufferedStream(transport: SocketTransport(fd: fd), loop: loop, connecting: true)
        let recorder = StreamRecorder()
        stream.delegate = recorder
        try stream.start()
        #expect(runLoop(loop) { !recorder.closes.isEmpty })
        runLoop(loop, for: 0.02)
        #expect(recorder.closes == [.connectFailed(ECONNREFUSED)])
        #expect(recorder.connected == 0)
        #expect(!isOpen(fd) || fd != stream.transport.descriptor)
    }
}

import Glibc
import Testing
@testable import SwitchyardOS

/// Open descriptors of this process (to check that failures leave none behind).
private func openDescriptorCount() -> Int {
    var n = 0
    for fd in 0..<Int32(4096) where fcntl(fd, F_GETFD) >= 0 { n += 1 }
    return n
}

@Suite("SocketTransport over a socketpair")
struct SocketTransportTests {
    @Test func gatherSendReceiveAndHalfClose() throws {
        let (a, b) = try Socket.pair()
        let left = SocketTransport(fd: a)
        let right = SocketTransport(fd: b)
        defer { left.close(); right.close() }
        let head = Array("HEAD|".utf8), body = Array("body".utf8)
        let sent = head.withUnsafeBytes { h in body.withUnsafeBytes { left.send(h, $0, more: false) } }
        #expect(sent == .bytes(9))
        let input = ByteBuffer(capacity: 16)
        #expect(right.receive(into: input, minimumSpace: 64) == .bytes(9))
        #expect(Array(input.readable) == head + body)
        input.clear()
        #expect(right.receive(into: input, minimumSpace: 64) == .wouldBlock)
        left.shutdownOutput()
        #expect(right.receive(into: input, minimumSpace: 64) == .eof)
        // Half-closed: the other direction still works.
        let back = Array("reply".utf8)
        #expect(back.withUnsafeBytes { right.send($0, UnsafeRawBufferPointer(start: nil, count: 0), more: false) } == .bytes(5))
        #expect(left.receive(into: input, minimumSpace: 64) == .bytes(5))
    }

    @Test func sendToAClosedPeerIsAnErrorNotASignal() throws {
        let (a, b) = try Socket.pair()
        let left = SocketTransport(fd: a)
        Syscall.close(b)
        let r = [UInt8](repeating: 1, count: 10).withUnsafeBytes { left.send($0, UnsafeRawBufferPointer(start: nil, count: 0), more: false) }
        #expect(r == .error(EPIPE))
        left.close()
    }

    @Test func detachedDescriptorIsNotClosedByTheTransport() throws {
        let (a, b) = try Socket.pair()
        let t = SocketTransport(fd: a)
        let fd = t.kernelPath!.detachDescriptor()
        #expect(fd == a)
        t.close()                                   // closes nothing now
        #expect(fcntl(a, F_GETFD) >= 0)
        Syscall.close(a)
        Syscall.close(b)
    }
}

@Suite("PipedChild")
struct PipedChildTests {
    @Test func spawnsWithPipesAndIsReaped() throws {
        let loop = try EventLoop(name: "test")
        let child = try PipedChild.spawn(path: "/bin/cat", arguments: ["cat"], environment: [Array("A=b".utf8)],
                                         workingDirectory: "/", pipeSize: 0, stderr: nil, on: loop) { _ in }
        let text = Array("through cat\n".utf8)
        #expect(text.withUnsafeBytes { Syscall.write(child.stdinWrite, $0.baseAddress!, $0.count) } == .bytes(text.count))
        Syscall.close(child.stdinWrite)
        let out = ByteBuffer(capacity: 64)
        var done = false
        for _ in 0..<200 where !done {
            switch out.read(from: child.stdoutRead, minimumSpace: 64) {
            case .eof: done = true
            case .wouldBlock: usleep(10_000)
            default: break
            }
        }
        #expect(Array(out.readable) == text)
        Syscall.close(child.stdoutRead)
        Syscall.close(child.stderrRead)
        var status: Int32 = 0
        #expect(waitpid(child.process.pid, &status, 0) == child.process.pid)
    }

    /// A child holds its loop strongly (a weak reference would give the loop a side table, and
    /// every retain of it the runtime's slow path) only until it is reaped: then the loop can go.
    @Test func aReapedChildLetsGoOfItsLoop() throws {
        weak var released: EventLoop?
        var status: SwitchyardOS.ExitStatus?
        var child: ChildProcess?
        do {
            let loop = try EventLoop(name: "test")
            released = loop
            let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
            defer { Syscall.close(devNull) }
            child = try ChildProcess.spawn(SpawnRequest(path: "/bin/true", arguments: ["true"], environment: [],
                                                        stdin: devNull, stdout: devNull, stderr: devNull),
                                           on: loop) { status = $0 }
            #expect(runLoop(loop) { status != nil })
        }
        #expect(status == .exited(0))
        #expect(child?.isRunning == false)
        #expect(released == nil)   // the reaped child (still held here) no longer holds the loop
    }

    @Test func aFailedSpawnLeavesNoDescriptorOpen() throws {
        let loop = try EventLoop(name: "test")
        // Other suites open descriptors concurrently: a leak shows as growth far above that noise
        // (200 failed spawns would leave 1 200 descriptors open).
        let before = openDescriptorCount()
        for _ in 0..<200 {
            #expect(throws: (any Error).self) {
                _ = try PipedChild.spawn(path: "/nonexistent/program", arguments: ["x"], environment: [],
                                         workingDirectory: "/", pipeSize: 0, stderr: nil, on: loop) { _ in }
            }
        }
        #expect(openDescriptorCount() - before < 100)
    }
}

@Suite("LoopBound")
struct LoopBoundTests {
    final class Box { var n = 0 }

    @Test func crossesToTheLoopThreadThroughExecute() throws {
        let loop = try EventLoop(name: "bound")
        let bound = LoopBound(Box(), on: loop)
        let thread = try LoopThread(name: "bound") { loop.run() }
        loop.execute {
            bound.value.n += 1
            loop.stop()
        }
        thread.join()
        #expect(bound.value.n == 1)   // the loop stopped: its thread is gone, reading is safe again
    }
}

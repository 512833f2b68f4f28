import Glibc
import SwitchyardOS

/// Opening a load-generator connection: a non-blocking connect (from a `--source-addresses`
/// address when given), then TLS or the upgrade request once the socket is writable.
extension BenchConnection {
    /// "127.0.0.1:8080", or "localhost:8080 (127.0.0.1:8080)" when the URL names the host.
    var target: String {
        let a = "\(context.address)"
        return a == context.url.hostHeader ? a : "\(context.url.hostHeader) (\(a))"
    }

    /// Starts a connection (or the next upgrade cycle).
    func open() {
        precondition(state == .idle)
        generation &+= 1
        input.clear()
        output.clear()
        sendSeq = 0
        recvSeq = 0
        inFrame = false
        inMessage = false
        handshake = nil
        responseChecked = false
        bodyRemaining = -1
        cycleStart = BenchConnection.clock()
        deadline = cycleStart &+ context.timeoutNanoseconds
        worker.connectionStarted()
        state = .connecting
        let result: Socket.ConnectResult
        do {
            if context.sources.isEmpty {
                result = try Socket.connect(context.address)
            } else {
                result = try SourceBoundConnect.connect(context.address, from: context.sources[id % context.sources.count])
            }
        } catch {
            // With a source address the failing call (bind or connect) and the address matter.
            let why = (error as? SystemError).map { context.sources.isEmpty ? $0.message : "\($0)" } ?? "\(error)"
            // Reported from the loop, not from here: open() runs in start() before the loop
            // does, and a failure there stops a preflight loop that has not started yet (the
            // stop would be lost and the run would hang, e.g. on a source address not local).
            let g = generation
            worker.loop.defer_ { [weak self] in
                guard let self, self.generation == g, self.state == .connecting else { return }
                self.fail("cannot connect to \(self.target): \(why)")
            }
            return
        }
        switch result {
        case .connected(let s):
            fd = s
        case .inProgress(let s):
            fd = s
        }
        do {
            try worker.loop.register(fd: fd, events: .output, handler: self)
        } catch {
            Syscall.close(fd)
            fd = -1
            fail("\(error)")
            return
        }
        if case .connected = result { connectCompleted() }
    }

    func connectCompleted() {
        let err = Socket.pendingError(fd)
        if err != 0 {
            fail("cannot connect to \(target): \(String(cString: strerror(err)))")
            return
        }
        Socket.setNoDelay(fd)
        if context.tls != nil {
            startTLS()
            return
        }
        startRequest()
    }
}

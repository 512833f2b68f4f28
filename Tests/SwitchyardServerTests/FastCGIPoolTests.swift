import Glibc
import Testing
@testable import SwitchyardServer
import SwitchyardOS
import SwitchyardGatewayCodecs

/// FastCGI connections in the pool, against a real FastCGI responder on a real socket: reuse with
/// FCGI_KEEP_CONN, and the keep-alive race (the backend closes an idle connection just as a
/// request goes out on it) resolved by one retry on a fresh connection.
@Suite("FastCGI connections in the backend pool")
struct FastCGIPoolTests {
    final class Fixture {
        let loop: EventLoop
        let backend: TestBackend
        let pool: BackendConnectionPool<FastCGIConnection>
        var made = 0

        init() throws {
            loop = try EventLoop(name: "fcgi-pool-test")
            backend = try TestBackend(loop: loop, fastcgi: true)
            pool = BackendConnectionPool(loop: loop, maxConnections: 0, idleSeconds: 30)
        }

        /// Wired like `BackendRuntime` wires it: close -> remove, idle -> checkin.
        func checkout(fresh: Bool = false) throws -> (FastCGIConnection, reused: Bool) {
            let result = try pool.checkout(fresh: fresh) {
                let fd: Int32
                let connecting: Bool
                switch try Socket.connect(backend.address) {
                case .connected(let f): fd = f; connecting = false
                case .inProgress(let f): fd = f; connecting = true
                }
                let c = try FastCGIConnection(fd: fd, loop: loop, label: "test", connecting: connecting,
                                              keepConnection: true, askCapabilities: false)
                c.onClose = { [weak pool] in pool?.remove($0) }
                c.onIdle = { [weak pool] in pool?.checkin($0) }
                made += 1
                return c
            }
            guard case .leased(let c, let reused) = result else { throw SystemError("pool full") }
            return (c, reused)
        }

        /// Starts a GET without a body on `c`.
        func send(on c: FastCGIConnection, to recorder: StreamRecorder) -> FastCGIMuxStream {
            let request = BackendRequest(info: CGIRequestInfo(method: "GET", requestURI: "/app"), bodyLength: 0)
            let stream = c.openStream(request, label: "test")
            stream.delegate = recorder
            stream.endBody(upgraded: false)
            return stream
        }

        deinit {
            pool.closeAll()
            backend.stop()
        }
    }

    /// A host that announced FCGI_MAX_REQS on an earlier connection: a later connection takes as
    /// many requests (the scale run found every later one capped at 64: 292 app connections for
    /// 19 593 WebSockets instead of about 20).
    @Test func aLaterConnectionTakesTheAnnouncedNumberOfRequests() throws {
        let f = try Fixture()
        let (c, _) = try f.checkout()
        c.markMultiplexing(maxRequests: 1000)
        var streams: [FastCGIMuxStream] = []
        let recorder = StreamRecorder()
        for _ in 0..<100 {
            #expect(c.canTakeAnother)
            let request = BackendRequest(info: CGIRequestInfo(method: "GET", requestURI: "/app"), bodyLength: 0)
            let stream = c.openStream(request, label: "test")
            stream.delegate = recorder
            streams.append(stream)
        }
        #expect(c.canTakeAnother, "100 of the announced 1000")
        let (d, _) = try f.checkout(fresh: true)
        d.markMultiplexing()
        for _ in 0..<64 {
            let request = BackendRequest(info: CGIRequestInfo(method: "GET", requestURI: "/app"), bodyLength: 0)
            streams.append(d.openStream(request, label: "test"))
        }
        #expect(!d.canTakeAnother, "nothing announced: 64")
        for s in streams { s.abort() }
    }

    @Test func aKeptConnectionCarriesTheNextRequest() throws {
        let f = try Fixture()
        let (c1, _) = try f.checkout()
        let r1 = StreamRecorder()
        let s1 = f.send(on: c1, to: r1)
        #expect(spin(f.loop, seconds: 5) { r1.ended })
        #expect(r1.failure == nil && r1.text.hasSuffix("ok"))
        #expect(f.pool.idleCount == 1, "END_REQUEST on a KEEP_CONN connection checks it back in")
        let (c2, reused) = try f.checkout()
        #expect(c2 === c1 && reused)
        let r2 = StreamRecorder()
        let s2 = f.send(on: c2, to: r2)
        #expect(spin(f.loop, seconds: 5) { r2.ended })
        #expect(r2.failure == nil && r2.text.hasSuffix("ok"))
        #expect(f.backend.accepted == 1 && f.made == 1)
        _ = (s1, s2)
    }

    /// A client that goes away while its parked output is being handed over (its write fails and
    /// the exchange aborts the stream inside the delivery) must not make the stream consume from
    /// the buffer the abort emptied: CI crashed there (ByteBuffer.consume precondition).
    @Test func abortDuringDeliveryOfParkedOutputEndsCleanly() throws {
        final class AbortsOnFirstBytes: BackendStreamDelegate {
            var stream: FastCGIMuxStream?
            var delivered = 0
            func streamConnected() {}
            func streamStdout(_ bytes: UnsafeRawBufferPointer) {
                delivered += bytes.count
                stream?.abort()
                stream = nil
            }
            func streamStderr(_ bytes: UnsafeRawBufferPointer) {}
            func streamWritable() {}
            func streamEnded(_ error: BackendFailure?, protocolStatus: UInt8?) {}
        }
        let f = try Fixture()
        let (c, _) = try f.checkout()
        let r = StreamRecorder()
        let s = f.send(on: c, to: r)
        s.pauseReading()
        #expect(spin(f.loop, seconds: 5) { s.parkedBytes > 0 && c.activeCount == 0 }, "the response parks while paused")
        let aborting = AbortsOnFirstBytes()
        aborting.stream = s
        s.delegate = aborting
        s.resumeReading()
        #expect(aborting.delivered > 0 && s.isFinished && s.parkedBytes == 0 && r.output.isEmpty)
    }

    @Test func anIdleConnectionTheAppClosesLeavesThePool() throws {
        let f = try Fixture()
        let (c, _) = try f.checkout()
        let r = StreamRecorder()
        let s = f.send(on: c, to: r)
        #expect(spin(f.loop, seconds: 5) { r.ended && f.pool.idleCount == 1 })
        f.backend.closeConnections()
        #expect(spin(f.loop, seconds: 5) { c.isClosed }, "EOF while idle must close the FastCGI connection")
        #expect(f.pool.count == 0 && f.pool.connections.isEmpty)
        let (next, reused) = try f.checkout()
        #expect(next !== c && !reused)
        _ = s
    }

    @Test func aStaleReusedConnectionIsRetriedOnceOnAFreshOne() throws {
        let f = try Fixture()
        let (c1, _) = try f.checkout()
        let r1 = StreamRecorder()
        let s1 = f.send(on: c1, to: r1)
        #expect(spin(f.loop, seconds: 5) { r1.ended && f.pool.idleCount == 1 })

        // The race: the backend drops the idle connection, and before the gateway's loop has seen
        // that EOF a request is put on it.
        f.backend.closeConnections()
        let (stale, reused) = try f.checkout()
        #expect(stale === c1 && reused)
        let first = StreamRecorder()
        let retried = StreamRecorder()
        var rule = StaleConnectionRetry()
        var streams: [FastCGIMuxStream] = []
        first.onEnded = { failure in
            guard let failure, rule.shouldRetry(after: failure, reused: reused, responseStarted: !first.output.isEmpty,
                                                replayable: true) else { return }
            guard let (fresh, again) = try? f.checkout(fresh: true) else { return }
            #expect(fresh !== stale && !again)
            streams.append(f.send(on: fresh, to: retried))
        }
        streams.append(f.send(on: stale, to: first))
        #expect(spin(f.loop, seconds: 5) { retried.ended })
        if case .ioError = first.failure {} else { Issue.record("the stale connection must fail as an I/O error, got \(String(describing: first.failure))") }
        #expect(first.output.isEmpty)
        #expect(retried.failure == nil && retried.text.hasSuffix("ok"))
        #expect(stale.isClosed)
        #expect(f.made == 2 && f.backend.accepted == 2)
        #expect(f.pool.count == 1, "the stale connection left the pool, the fresh one is kept")
        _ = s1
    }
}

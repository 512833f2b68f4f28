import Glibc
import Testing
@testable import SwitchyardServer
import SwitchyardOS
import SwitchyardGatewayCodecs

/// `BackendConnectionPool` over real sockets to a real listener, driven by a real event loop.
@Suite("backend connection pool")
struct BackendConnectionPoolTests {
    final class Fixture {
        let loop: EventLoop
        let backend: TestBackend
        let pool: BackendConnectionPool<TestConnection>
        var made: [TestConnection] = []

        init(maxConnections: Int = 0, idleSeconds: Double = 30, capacity: Int = 1) throws {
            loop = try EventLoop(name: "pool-test")
            backend = try TestBackend(loop: loop)
            pool = BackendConnectionPool(loop: loop, maxConnections: maxConnections, idleSeconds: idleSeconds)
            self.capacity = capacity
        }
        let capacity: Int

        /// Checks out a connection (making one when the pool asks) and marks one request on it.
        func lease(fresh: Bool = false) throws -> (TestConnection, reused: Bool)? {
            let result = try pool.checkout(fresh: fresh) {
                let c = try TestConnection(to: backend.address, loop: loop, capacity: capacity)
                c.onClose = { [weak pool] in pool?.remove($0) }
                made.append(c)
                return c
            }
            guard case .leased(let c, let reused) = result else { return nil }
            c.activeCount += 1
            return (c, reused)
        }

        /// The request on `c` ended and the codec keeps the connection.
        func end(_ c: TestConnection) {
            c.activeCount -= 1
            if c.activeCount == 0 { pool.checkin(c) }
        }

        deinit {
            pool.closeAll()
            backend.stop()
        }
    }

    @Test func aSecondRequestGetsTheSameConnection() throws {
        let f = try Fixture()
        let (first, reused1) = try #require(try f.lease())
        #expect(!reused1)
        f.end(first)
        let (second, reused2) = try #require(try f.lease())
        #expect(second === first)
        #expect(reused2, "an idle connection that served a request is reported as reused")
        #expect(f.made.count == 1)
        #expect(spin(f.loop, seconds: 2) { f.backend.accepted == 1 })
        // A busy HTTP/1.1-style connection is never shared: the next request opens another one.
        let (third, _) = try #require(try f.lease())
        #expect(third !== first)
        #expect(f.pool.count == 2)
    }

    @Test func aMultiplexingConnectionWithRoomIsShared() throws {
        let f = try Fixture(maxConnections: 1, capacity: 2)
        let (a, _) = try #require(try f.lease())
        let (b, reused) = try #require(try f.lease())
        #expect(a === b && !reused, "room on a busy connection: shared, not counted as an idle reuse")
        #expect(try f.lease() == nil, "capacity 2 used, limit 1 reached")
    }

    @Test func idleConnectionsAreEvictedAfterTheIdleTime() throws {
        let f = try Fixture(idleSeconds: 0.15)
        let (a, _) = try #require(try f.lease())
        let (b, _) = try #require(try f.lease())
        f.end(a)
        spin(f.loop, seconds: 0.02)   // the loop's clock moves on: b went idle after a
        f.end(b)
        #expect(f.pool.idleCount == 2)
        spin(f.loop, seconds: 0.05)
        // Taken again before its idle time ran out (the most recently used: b), and kept busy.
        let (again, _) = try #require(try f.lease())
        #expect(again === b)
        #expect(spin(f.loop, seconds: 3) { a.isClosed }, "an idle connection outlived its idle time")
        #expect(!b.isClosed, "a connection in use must not be evicted")
        #expect(f.pool.count == 1 && f.pool.idleCount == 0)
        #expect(spin(f.loop, seconds: 2) { f.backend.closedByGateway == 1 }, "the backend sees the evicted connection close")
        // Idle once more: evicted in its turn by the same (re-armed) pool timer.
        f.end(b)
        #expect(spin(f.loop, seconds: 3) { b.isClosed })
        #expect(f.pool.count == 0)
    }

    @Test func aBackendThatClosesAnIdleConnectionIsNoticed() throws {
        let f = try Fixture()
        let (c, _) = try #require(try f.lease())
        f.end(c)
        #expect(spin(f.loop, seconds: 2) { f.backend.accepted == 1 })
        f.backend.closeConnections()
        #expect(spin(f.loop, seconds: 3) { c.isClosed }, "EOF on an idle pooled connection must close it")
        #expect(f.pool.count == 0)
        let (next, reused) = try #require(try f.lease())
        #expect(next !== c && !reused)
        #expect(spin(f.loop, seconds: 2) { f.backend.accepted == 2 })
    }

    @Test func aConnectionClosedBehindThePoolsBackIsNotHandedOut() throws {
        let f = try Fixture(maxConnections: 1)
        let (c, _) = try #require(try f.lease())
        f.end(c)
        c.onClose = nil           // its owner forgot to tell the pool
        c.closeFromPool()
        let (next, reused) = try #require(try f.lease(), "the closed connection must not count against the limit")
        #expect(next !== c && !reused)
        #expect(f.pool.connections.count == 1)
    }

    @Test func theHostLimitRefusesAndFreesOnCheckin() throws {
        let f = try Fixture(maxConnections: 2)
        let (a, _) = try #require(try f.lease())
        _ = try #require(try f.lease())
        #expect(try f.lease() == nil, "a third connection beyond max-connections 2")
        #expect(f.made.count == 2)
        f.end(a)
        let (again, reused) = try #require(try f.lease())
        #expect(again === a && reused)
        // A closed connection frees its place.
        f.end(a)
        a.closeFromPool()
        #expect(f.pool.count == 1)
        #expect(try f.lease() != nil)
        #expect(f.made.count == 3)
    }

    @Test func staleRetryRule() {
        var rule = StaleConnectionRetry()
        let eof = BackendFailure.ioError("application closed the connection")
        func ask(_ failure: BackendFailure, reused: Bool = true, started: Bool = false, replayable: Bool = true) -> Bool {
            rule.shouldRetry(after: failure, reused: reused, responseStarted: started, replayable: replayable)
        }
        let notReused = ask(eof, reused: false)
        let started = ask(eof, started: true)
        let withBody = ask(eof, replayable: false)
        let timeout = ask(.timeout("t"))
        #expect(!notReused && !started && !withBody && !timeout)
        let first = ask(eof)
        let second = ask(eof)
        #expect(first)
        #expect(!second, "only once")
    }
}

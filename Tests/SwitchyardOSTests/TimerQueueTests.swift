import Testing
@testable import SwitchyardOS

@Suite struct TimerQueueTests {
    /// Fires everything due at `now`, returning the labels in firing order.
    func fire(_ q: inout TimerQueue, now: UInt64, into log: Log) -> [Int] {
        let start = log.fired.count
        while let action = q.popExpired(now: now) { action() }
        return Array(log.fired[start...])
    }

    final class Log { var fired: [Int] = [] }

    @Test func firesInDeadlineOrderAndEqualDeadlinesInSchedulingOrder() {
        var q = TimerQueue()
        let log = Log()
        for (label, deadline) in [(1, 30), (2, 10), (3, 20), (4, 10), (5, 20)] as [(Int, UInt64)] {
            _ = q.schedule(deadline: deadline) { log.fired.append(label) }
        }
        #expect(q.nextDeadline == 10)
        #expect(fire(&q, now: 9, into: log).isEmpty)
        #expect(fire(&q, now: 20, into: log) == [2, 4, 3, 5])
        #expect(q.count == 1 && q.nextDeadline == 30)
        #expect(fire(&q, now: 100, into: log) == [1])
        #expect(q.count == 0 && q.nextDeadline == nil)
    }

    /// A cancelled timer leaves the queue at once (it used to stay until its deadline), and an ID
    /// that fired or was cancelled does nothing to the timer that reuses its slot.
    @Test func cancelRemovesAtOnceAndStaleIDsAreHarmless() {
        var q = TimerQueue()
        let log = Log()
        let a = q.schedule(deadline: 50) { log.fired.append(1) }
        let b = q.schedule(deadline: 10) { log.fired.append(2) }
        _ = q.schedule(deadline: 40) { log.fired.append(3) }
        q.cancel(a)
        #expect(q.count == 2)
        #expect(fire(&q, now: 10, into: log) == [2])
        // b fired and a was cancelled: their slots are reused; the old IDs must not reach them.
        _ = q.schedule(deadline: 20) { log.fired.append(4) }
        _ = q.schedule(deadline: 30) { log.fired.append(5) }
        q.cancel(a)
        q.cancel(b)
        q.cancel(b)
        #expect(q.count == 3)
        #expect(fire(&q, now: 100, into: log) == [4, 5, 3])
    }

    /// Churn: 200 000 timers scheduled and cancelled leave nothing behind, and the queue's
    /// storage stays at the peak of live timers.
    @Test func churnLeavesNothingBehind() {
        var q = TimerQueue()
        var live: [TimerID] = []
        for i in 0..<200_000 {
            live.append(q.schedule(deadline: UInt64(200_000 + i % 977)) {})
            if live.count > 8 { q.cancel(live.removeFirst()) }
        }
        #expect(q.count == 8)
        for id in live { q.cancel(id) }
        #expect(q.count == 0 && q.nextDeadline == nil)
    }

    /// Random schedules, cancels and firings against a plain list sorted on demand.
    @Test func agreesWithASimpleModel() {
        var state: UInt64 = 0x5EED_1234_ABCD_0001   // xorshift64: a fixed, repeatable sequence
        func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
        var q = TimerQueue()
        let log = Log()
        var model: [(deadline: UInt64, seq: Int, label: Int, id: TimerID)] = []
        var seq = 0
        var now: UInt64 = 0
        for step in 0..<20_000 {
            switch next() % 4 {
            case 0, 1:
                let deadline = now + next() % 100
                seq += 1
                let label = step
                let id = q.schedule(deadline: deadline) { log.fired.append(label) }
                model.append((deadline, seq, label, id))
            case 2:
                if !model.isEmpty {
                    let i = Int(next() % UInt64(model.count))
                    q.cancel(model[i].id)
                    model.remove(at: i)
                }
            default:
                now += next() % 20
                let due = model.filter { $0.deadline <= now }.sorted { ($0.deadline, $0.seq) < ($1.deadline, $1.seq) }
                model.removeAll { $0.deadline <= now }
                #expect(fire(&q, now: now, into: log) == due.map(\.label))
            }
            #expect(q.count == model.count)
            #expect(q.nextDeadline == model.map(\.deadline).min())
        }
    }
}

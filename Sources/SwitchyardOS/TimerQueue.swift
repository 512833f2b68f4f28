/// An event loop's timers: a binary min-heap of slot numbers over one array of slots, each slot
/// knowing its place in the heap, so that cancelling a timer takes it out of the heap at once.
///
/// Why not a heap of (deadline, id) pairs beside a dictionary of actions, with a cancelled timer
/// left in the heap until its deadline came round: every connection arms an idle timer, a backend
/// stream a connect timer, a closing stream a linger timer, and most are cancelled long before
/// they are due. Under churn the dead entries piled up for the length of the longest timeout
/// (thousands of upgrades a second times tens of seconds: hundreds of thousands of entries, each
/// push and pop a level deeper), and each timer cost a hash-table insert and removal. Here the
/// heap holds only live timers, a slot is reused as soon as its timer fired or was cancelled, and
/// a `TimerID` carries the slot's generation, so a stale ID (fired, cancelled, slot reused) never
/// touches the slot's next timer.
///
/// Timers with the same deadline fire in the order they were scheduled. Sans-I/O: the loop gives
/// the time; unit-tested without one.
struct TimerQueue {
    private struct Slot {
        var deadline: UInt64 = 0
        /// Scheduling order, the tie-break between equal deadlines.
        var sequence: UInt64 = 0
        /// Bumped each time the slot's timer ends (fires or is cancelled).
        var generation: UInt32 = 0
        /// Where the slot sits in `heap`; -1 when it holds no timer.
        var heapIndex: Int32 = -1
        var action: (() -> Void)?
    }

    private var slots: [Slot] = []
    private var freeSlots: [Int32] = []
    private var heap: [Int32] = []
    private var nextSequence: UInt64 = 0

    /// Timers scheduled and not yet fired or cancelled.
    var count: Int { heap.count }

    /// The earliest deadline, nil without timers.
    var nextDeadline: UInt64? { heap.first.map { slots[Int($0)].deadline } }

    mutating func schedule(deadline: UInt64, _ action: @escaping () -> Void) -> TimerID {
        let slot: Int32
        if let reused = freeSlots.popLast() {
            slot = reused
        } else {
            slot = Int32(slots.count)
            slots.append(Slot())
        }
        nextSequence &+= 1
        let position = Int32(heap.count)
        slots.withUnsafeMutableBufferPointer { s in
            s[Int(slot)].deadline = deadline
            s[Int(slot)].sequence = nextSequence
            s[Int(slot)].heapIndex = position
            s[Int(slot)].action = action
        }
        heap.append(slot)
        siftUp(Int(position))
        return TimerID(value: UInt64(slots[Int(slot)].generation) << 32 | UInt64(UInt32(slot)))
    }

    /// Takes the timer out; nothing happens for one that already fired or was cancelled.
    mutating func cancel(_ id: TimerID) {
        let slot = Int(UInt32(truncatingIfNeeded: id.value))
        guard slot < slots.count, slots[slot].generation == UInt32(truncatingIfNeeded: id.value >> 32),
              slots[slot].heapIndex >= 0 else { return }
        remove(at: Int(slots[slot].heapIndex))
        release(slot)
    }

    /// The action of the earliest timer due at `now`, taken out of the queue (its slot is free
    /// again before the action runs, so the action may schedule or cancel timers); nil when none
    /// is due.
    mutating func popExpired(now: UInt64) -> (() -> Void)? {
        guard let top = heap.first, slots[Int(top)].deadline <= now else { return nil }
        remove(at: 0)
        let action = slots[Int(top)].action
        release(Int(top))
        return action
    }

    private mutating func release(_ slot: Int) {
        slots[slot].action = nil
        slots[slot].heapIndex = -1
        slots[slot].generation &+= 1
        freeSlots.append(Int32(slot))
    }

    /// Removes the heap entry at `index`: the last entry takes its place and moves up or down.
    private mutating func remove(at index: Int) {
        let last = heap.removeLast()
        guard index < heap.count else { return }
        heap[index] = last
        slots[Int(last)].heapIndex = Int32(index)
        if index > 0 && earlier(Int(last), Int(heap[(index - 1) / 2])) { siftUp(index) } else { siftDown(index) }
    }

    /// Reads the two fields in place (a copy of a slot would retain and release its action).
    private func earlier(_ a: Int, _ b: Int) -> Bool {
        let da = slots[a].deadline, db = slots[b].deadline
        return da < db || (da == db && slots[a].sequence < slots[b].sequence)
    }

    private mutating func siftUp(_ start: Int) {
        var i = start
        let moving = heap[i]
        while i > 0 {
            let parent = (i - 1) / 2
            guard earlier(Int(moving), Int(heap[parent])) else { break }
            heap[i] = heap[parent]
            slots[Int(heap[i])].heapIndex = Int32(i)
            i = parent
        }
        heap[i] = moving
        slots[Int(moving)].heapIndex = Int32(i)
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        let moving = heap[i]
        let n = heap.count
        while true {
            let l = 2 * i + 1
            guard l < n else { break }
            var child = l
            if l + 1 < n && earlier(Int(heap[l + 1]), Int(heap[l])) { child = l + 1 }
            guard earlier(Int(heap[child]), Int(moving)) else { break }
            heap[i] = heap[child]
            slots[Int(heap[i])].heapIndex = Int32(i)
            i = child
        }
        heap[i] = moving
        slots[Int(moving)].heapIndex = Int32(i)
    }
}

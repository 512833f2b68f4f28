/// A growable array of values addressed by slot number, whose freed slots are reused.
///
/// Why: long-lived per-connection state kept as one class object per connection lands in the
/// heap between the short-lived objects of other connections' handshakes, and each such small
/// survivor keeps a whole page of freed memory resident. Kept here, the state of every connection
/// lives in one contiguous block, so freed pages hold nothing and `malloc_trim` gives them back.
///
/// Slots are stable while occupied (a slot number can be kept in a descriptor map); a removed
/// slot is handed out again by the next `insert` (the most recently freed first, whose memory is
/// still warm). Iterating by index (`0..<capacity`, `isOccupied`) stays valid while slots are
/// removed or inserted, since the storage only grows.
struct SlotTable<Element> {
    private var storage: [Element?] = []
    private var free: [Int32] = []
    /// Occupied slots.
    private(set) var count = 0

    init() {}

    /// Slots ever created (occupied or free); every occupied slot number is below it.
    var capacity: Int { storage.count }
    var isEmpty: Bool { count == 0 }

    /// Stores `element` in a free slot (growing the table when none is free) and returns its number.
    mutating func insert(_ element: Element) -> Int {
        count += 1
        if let slot = free.popLast() {
            storage[Int(slot)] = element
            return Int(slot)
        }
        storage.append(element)
        return storage.count - 1
    }

    /// Frees `slot` and returns what it held (nil when it was free already).
    @discardableResult
    mutating func remove(_ slot: Int) -> Element? {
        guard slot >= 0, slot < storage.count, let element = storage[slot] else { return nil }
        storage[slot] = nil
        free.append(Int32(slot))
        count -= 1
        return element
    }

    func isOccupied(_ slot: Int) -> Bool {
        slot >= 0 && slot < storage.count && storage[slot] != nil
    }

    /// The element in an occupied slot, mutated in place (no copy of the element).
    /// Reading or writing a free slot traps: callers check `isOccupied` first.
    subscript(slot: Int) -> Element {
        get { storage[slot]! }
        _modify {
            precondition(storage[slot] != nil, "SlotTable: slot \(slot) is free")
            yield &storage[slot]!
        }
    }

    /// Occupied slot numbers as of now (a snapshot: safe to remove slots while walking it).
    var occupiedSlots: [Int] {
        var out: [Int] = []
        out.reserveCapacity(count)
        for i in storage.indices where storage[i] != nil { out.append(i) }
        return out
    }
}

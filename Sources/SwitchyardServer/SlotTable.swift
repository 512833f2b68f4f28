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
///
/// Elements are stored as they are (not as optionals) beside an occupancy flag, and a freed slot
/// holds `vacant`: a read then borrows the element in place. Reading through an optional's `!`
/// copied the whole element instead (its closures, weak references and strings retained and
/// released on every read: ~9k instructions per relayed message, measured with callgrind), and
/// as a struct held by a class the whole table was copied for a non-mutating call: it is a class.
final class SlotTable<Element> {
    private var storage: [Element] = []
    private var occupied: [Bool] = []
    private var free: [Int32] = []
    /// What a free slot holds (it owns nothing).
    private let vacant: Element
    /// Occupied slots.
    private(set) var count = 0

    init(vacant: Element) { self.vacant = vacant }

    /// Slots ever created (occupied or free); every occupied slot number is below it.
    var capacity: Int { storage.count }
    var isEmpty: Bool { count == 0 }

    /// Stores `element` in a free slot (growing the table when none is free) and returns its number.
    func insert(_ element: Element) -> Int {
        count += 1
        if let slot = free.popLast() {
            storage[Int(slot)] = element
            occupied[Int(slot)] = true
            return Int(slot)
        }
        storage.append(element)
        occupied.append(true)
        return storage.count - 1
    }

    /// Frees `slot` and returns what it held (nil when it was free already).
    @discardableResult
    func remove(_ slot: Int) -> Element? {
        guard isOccupied(slot) else { return nil }
        let element = storage[slot]
        storage[slot] = vacant
        occupied[slot] = false
        free.append(Int32(slot))
        count -= 1
        return element
    }

    func isOccupied(_ slot: Int) -> Bool {
        slot >= 0 && slot < occupied.count && occupied[slot]
    }

    /// The element in an occupied slot, read or mutated in place (no copy of the element).
    /// A free slot traps: callers check `isOccupied` first.
    subscript(slot: Int) -> Element {
        _read {
            precondition(occupied[slot], "SlotTable: slot \(slot) is free")
            yield storage[slot]
        }
        _modify {
            precondition(occupied[slot], "SlotTable: slot \(slot) is free")
            yield &storage[slot]
        }
    }

    /// Runs `body` on the element in place and returns what it returns (reads too: a value bound
    /// from the subscript to a `let` would be a copy).
    func update<R>(_ slot: Int, _ body: (inout Element) -> R) -> R {
        precondition(occupied[slot], "SlotTable: slot \(slot) is free")
        return body(&storage[slot])
    }

    /// Occupied slot numbers as of now (a snapshot: safe to remove slots while walking it).
    var occupiedSlots: [Int] {
        var out: [Int] = []
        out.reserveCapacity(count)
        for i in occupied.indices where occupied[i] { out.append(i) }
        return out
    }
}

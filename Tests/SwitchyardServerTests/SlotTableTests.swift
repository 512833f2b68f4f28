import Testing
@testable import SwitchyardServer

/// `SlotTable`, the contiguous store of the worker's splice relays: slots are reused, stay
/// stable while occupied, and walking the table survives removals on the way.
@Suite("slot table")
struct SlotTableTests {
    @Test func insertGrowsAndRemoveFreesTheSlot() {
        let t = SlotTable<String>(vacant: "")
        #expect(t.isEmpty)
        let a = t.insert("a"), b = t.insert("b"), c = t.insert("c")
        #expect([a, b, c] == [0, 1, 2])
        #expect(t.count == 3 && t.capacity == 3)
        #expect(t.remove(b) == "b")
        #expect(!t.isOccupied(b))
        #expect(t.remove(b) == nil, "a free slot is not freed twice")
        #expect(t.remove(99) == nil && t.remove(-1) == nil)
        #expect(t.count == 2)
        #expect(t[a] == "a" && t[c] == "c", "other slots keep their numbers")
    }

    @Test func freedSlotsAreReusedBeforeTheTableGrows() {
        let t = SlotTable<Int>(vacant: -1)
        for i in 0..<4 { _ = t.insert(i) }
        t.remove(1)
        t.remove(3)
        // The most recently freed first, then the other; only then a new slot.
        #expect(t.insert(30) == 3)
        #expect(t.insert(10) == 1)
        #expect(t.insert(40) == 4)
        #expect(t.capacity == 5 && t.count == 5)
        #expect(t[1] == 10 && t[3] == 30)
    }

    @Test func aFreedSlotLetsGoOfWhatItHeld() {
        final class Resource {}
        struct Holder { var resource: Resource? }
        let t = SlotTable<Holder>(vacant: Holder(resource: nil))
        weak var watched: Resource?
        do {
            let r = Resource()
            watched = r
            let slot = t.insert(Holder(resource: r))
            _ = t.remove(slot)
        }
        #expect(watched == nil, "the free slot holds the vacant value, not the removed element")
        #expect(t.capacity == 1 && t.isEmpty)
    }

    @Test func elementsAreMutatedInPlace() {
        struct Counter { var n = 0; mutating func bump() -> Int { n += 1; return n } }
        let t = SlotTable<Counter>(vacant: Counter())
        let s = t.insert(Counter())
        #expect(t[s].bump() == 1)
        t[s].n += 5
        #expect(t[s].n == 6)
    }

    @Test func removingWhileWalkingVisitsEveryOtherSlotOnce() {
        let t = SlotTable<Int>(vacant: -1)
        for i in 0..<10 { _ = t.insert(i) }
        var seen: [Int] = []
        var slot = 0
        while slot < t.capacity {
            defer { slot += 1 }
            guard t.isOccupied(slot) else { continue }
            seen.append(t[slot])
            // Remove this one and the next: the walk must skip the next, not trap on it.
            t.remove(slot)
            if slot + 1 < t.capacity && slot % 4 == 0 { t.remove(slot + 1) }
        }
        #expect(seen == [0, 2, 3, 4, 6, 7, 8])
        #expect(t.isEmpty)
        for slot in t.occupiedSlots { Issue.record("slot \(slot) still occupied") }
    }

    @Test func occupiedSlotsIsASnapshot() {
        let t = SlotTable<Int>(vacant: -1)
        for i in 0..<5 { _ = t.insert(i) }
        t.remove(2)
        let snapshot = t.occupiedSlots
        #expect(snapshot == [0, 1, 3, 4])
        for s in snapshot where t.isOccupied(s) { t.remove(s); if s == 0 { t.remove(1) } }
        #expect(t.isEmpty)
    }
}

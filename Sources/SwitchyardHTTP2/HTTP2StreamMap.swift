/// Values by stream id for the I/O layer (a connection's stream exchanges): the open-addressing
/// scheme of `HTTP2StreamTable` (linear probing, at most half full, the process's salted
/// multiplicative hash, backward-shift deletion) for any value.
///
/// Why not a Dictionary: it hashes a `UInt32` key with SipHash (~110 instructions), and every
/// request inserts its stream and removes it again, besides the lookups of its DATA frames. As in
/// the session's table, a probe is never longer than the streams open at once (bounded by
/// SETTINGS_MAX_CONCURRENT_STREAMS), whatever ids a client picks.
///
/// Inlinable: its user is in another module, and an unspecialised generic looks up its type's
/// metadata at run time on every call (callgrind: more than the SipHash it replaces).
public struct HTTP2StreamMap<Value> {
    /// 0 marks an empty slot (stream 0 is the connection, never stored here).
    @usableFromInline var ids: [UInt32]
    @usableFromInline var slots: [Value?]
    @usableFromInline var storedCount: Int
    @inlinable public var count: Int { storedCount }
    /// 32 - log2(slots): the hash keeps the product's top bits.
    @usableFromInline var shift: UInt32
    /// The process's salt, copied in (a static read costs a `swift_once` check per lookup).
    @usableFromInline let salt: UInt32

    @inlinable
    public init() {
        storedCount = 0
        salt = streamIDHashSalt
        ids = [UInt32](repeating: 0, count: initialStreamSlots)
        slots = [Value?](repeating: nil, count: initialStreamSlots)
        shift = 32 - UInt32(initialStreamSlots.trailingZeroBitCount)
    }

    @inlinable public var isEmpty: Bool { count == 0 }

    /// The values, in no particular order (a copy: the caller may change the map while it iterates).
    @inlinable public var values: [Value] {
        var out: [Value] = []
        out.reserveCapacity(count)
        for i in ids.indices where ids[i] != 0 { out.append(slots[i]!) }
        return out
    }

    /// Setting nil removes; stream id 0 is never stored.
    @inlinable public subscript(id: UInt32) -> Value? {
        get {
            guard let i = find(id) else { return nil }
            return slots[i]
        }
        set {
            if let newValue { insert(id, newValue) } else { removeValue(forKey: id) }
        }
    }

    @inlinable @discardableResult
    public mutating func removeValue(forKey id: UInt32) -> Value? {
        guard let found = find(id) else { return nil }
        let removed = slots[found]
        let mask = ids.count - 1
        // Backward-shift deletion (see `HTTP2StreamTable.removeValue`): no tombstones.
        var hole = found
        var j = (found + 1) & mask
        while ids[j] != 0 {
            let home = slot(ids[j])
            if (j - home) & mask >= (j - hole) & mask {
                ids[hole] = ids[j]
                slots[hole] = slots[j]
                hole = j
            }
            j = (j + 1) & mask
        }
        ids[hole] = 0
        slots[hole] = nil
        storedCount -= 1
        return removed
    }

    @inlinable public mutating func removeAll() {
        for i in ids.indices where ids[i] != 0 {
            ids[i] = 0
            slots[i] = nil
        }
        storedCount = 0
    }

    // MARK: probing

    @inlinable @inline(__always)
    func slot(_ id: UInt32) -> Int {
        Int(truncatingIfNeeded: ((id ^ salt) &* 0x9E37_79B1) >> shift)
    }

    @inlinable @inline(__always)
    func find(_ id: UInt32) -> Int? {
        guard id != 0 else { return nil }
        let mask = ids.count - 1
        var i = slot(id)
        while true {
            let k = ids[i]
            if k == id { return i }
            if k == 0 { return nil }
            i = (i + 1) & mask
        }
    }

    @inlinable mutating func insert(_ id: UInt32, _ value: Value) {
        guard id != 0 else { return }
        if let i = find(id) { slots[i] = value; return }
        if (count + 1) * 2 > ids.count { grow() }
        let mask = ids.count - 1
        var i = slot(id)
        while ids[i] != 0 { i = (i + 1) & mask }
        ids[i] = id
        slots[i] = value
        storedCount += 1
    }

    @inlinable mutating func grow() {
        let oldIDs = ids, oldSlots = slots
        let size = ids.count * 2
        ids = [UInt32](repeating: 0, count: size)
        slots = [Value?](repeating: nil, count: size)
        shift = 32 - UInt32(size.trailingZeroBitCount)
        storedCount = 0
        for i in oldIDs.indices where oldIDs[i] != 0 { insert(oldIDs[i], oldSlots[i]!) }
    }
}

extension HTTP2StreamMap: Sendable where Value: Sendable {}

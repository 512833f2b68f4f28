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
    @usableFromInline var index: HTTP2StreamIDSlots
    @usableFromInline var slots: [Value?]
    @inlinable public var count: Int { index.count }

    @inlinable
    public init() {
        index = HTTP2StreamIDSlots(slots: initialStreamSlots)
        slots = [Value?](repeating: nil, count: initialStreamSlots)
    }

    @inlinable public var isEmpty: Bool { count == 0 }

    /// The values, in no particular order (a copy: the caller may change the map while it iterates).
    @inlinable public var values: [Value] {
        var out: [Value] = []
        out.reserveCapacity(count)
        for i in index.ids.indices where index.ids[i] != 0 { out.append(slots[i]!) }
        return out
    }

    /// Setting nil removes; stream id 0 is never stored.
    @inlinable public subscript(id: UInt32) -> Value? {
        get {
            guard let i = index.find(id) else { return nil }
            return slots[i]
        }
        set {
            if let newValue { insert(id, newValue) } else { removeValue(forKey: id) }
        }
    }

    @inlinable @discardableResult
    public mutating func removeValue(forKey id: UInt32) -> Value? {
        guard let found = index.find(id) else { return nil }
        let removed = slots[found]
        let emptied = index.remove(at: found) { from, to in slots[to] = slots[from] }
        slots[emptied] = nil
        return removed
    }

    @inlinable public mutating func removeAll() {
        for i in index.ids.indices where index.ids[i] != 0 {
            index.ids[i] = 0
            slots[i] = nil
        }
        index.count = 0
    }

    @inlinable mutating func insert(_ id: UInt32, _ value: Value) {
        guard id != 0 else { return }
        if let i = index.find(id) { slots[i] = value; return }
        if index.isFullForOneMore { grow() }
        slots[index.claim(id)] = value
    }

    @inlinable mutating func grow() {
        let old = index, oldSlots = slots
        index = HTTP2StreamIDSlots(slots: old.ids.count * 2)
        slots = [Value?](repeating: nil, count: old.ids.count * 2)
        for i in old.ids.indices where old.ids[i] != 0 { slots[index.claim(old.ids[i])] = oldSlots[i] }
    }
}

extension HTTP2StreamMap: Sendable where Value: Sendable {}

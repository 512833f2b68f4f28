/// The probing half of the stream-id tables (`HTTP2StreamTable`, `HTTP2StreamMap`): stream ids in
/// an open-addressing array (linear probing, at most half full) under a salted multiplicative hash,
/// with backward-shift deletion, so no tombstones ever lengthen a probe. The values live in the
/// owner's parallel array at the same index; deletion tells the owner which values move where.
///
/// A client picks its stream ids, so the hash is salted per process, and a probe can never be
/// longer than the streams open at once (`SETTINGS_MAX_CONCURRENT_STREAMS`, at most 1024).
@usableFromInline
struct HTTP2StreamIDSlots: Sendable {
    /// 0 marks an empty slot (stream 0 is the connection, never stored).
    @usableFromInline var ids: [UInt32]
    @usableFromInline var count = 0
    /// 32 - log2(slots): the hash keeps the product's top bits.
    @usableFromInline var shift: UInt32
    /// The process's salt, copied in (a static read costs a `swift_once` check per lookup).
    @usableFromInline let salt: UInt32

    @inlinable
    init(slots: Int) {
        ids = [UInt32](repeating: 0, count: slots)
        shift = 32 - UInt32(slots.trailingZeroBitCount)
        salt = streamIDHashSalt
    }

    /// One more id would make the table more than half full: grow first.
    @inlinable var isFullForOneMore: Bool { (count + 1) * 2 > ids.count }

    @inlinable @inline(__always)
    func slot(_ id: UInt32) -> Int {
        Int(truncatingIfNeeded: ((id ^ salt) &* 0x9E37_79B1) >> shift)
    }

    /// The slot holding `id`, if any.
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

    /// Takes a free slot for `id` (not present, and room checked with `isFullForOneMore`).
    @inlinable
    mutating func claim(_ id: UInt32) -> Int {
        let mask = ids.count - 1
        var i = slot(id)
        while ids[i] != 0 { i = (i + 1) & mask }
        ids[i] = id
        count += 1
        return i
    }

    /// Frees the slot at `found`: later ids of its probe run move up into the hole, `move(from,
    /// to)` telling the owner to move their values too. Returns the slot left empty at the end
    /// (the owner clears its value there).
    @inlinable
    mutating func remove(at found: Int, move: (Int, Int) -> Void) -> Int {
        let mask = ids.count - 1
        var hole = found
        var j = (found + 1) & mask
        while ids[j] != 0 {
            let home = slot(ids[j])
            if (j - home) & mask >= (j - hole) & mask {
                ids[hole] = ids[j]
                move(j, hole)
                hole = j
            }
            j = (j + 1) & mask
        }
        ids[hole] = 0
        count -= 1
        return hole
    }
}

/// The process's salt for the stream-id hashes: a client picks its ids, and must not be able to
/// pick them all into one probe run.
@usableFromInline let streamIDHashSalt = UInt32.random(in: 0...UInt32.max)
/// The slots a stream table starts with (a power of two).
@usableFromInline let initialStreamSlots = 16

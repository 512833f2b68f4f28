/// The session's live streams by id: an open-addressing table (linear probing, at most half
/// full) with a multiplicative hash, in place of `[UInt32: HTTP2StreamState]`.
///
/// Why not a Dictionary: every DATA frame in and out looks its stream up several times (window,
/// phase, credit), and a Dictionary hashes a `UInt32` key with SipHash each time (~150
/// instructions per lookup, a tenth of a relayed WebSocket message's cost; callgrind). Here a
/// lookup is a multiply, a shift and usually one comparison; the states are plain values in an
/// array (no reference counting). A client picks its stream ids, so the hash is salted per
/// process, and a probe can never be longer than the streams open at once
/// (`SETTINGS_MAX_CONCURRENT_STREAMS`, at most 1024): a hostile choice of ids costs at worst a
/// linear scan of that many `UInt32`s.
struct HTTP2StreamTable: Sendable {
    /// 0 marks an empty slot (stream 0 is the connection, never a stream here).
    private var ids: [UInt32]
    private var states: [HTTP2StreamState]
    private(set) var count = 0
    /// 32 - log2(slots): the hash keeps the product's top bits.
    private var shift: UInt32
    /// The process's salt, copied in (a static read costs a `swift_once` check per lookup).
    private let salt = streamIDHashSalt

    static let initialSlots = initialStreamSlots
    private static let vacant = HTTP2StreamState(phase: .closed, sendWindow: HTTP2SendWindow(0),
                                                 receiveWindow: HTTP2ReceiveWindow(target: 0))

    init() {
        ids = [UInt32](repeating: 0, count: Self.initialSlots)
        states = [HTTP2StreamState](repeating: Self.vacant, count: Self.initialSlots)
        shift = 32 - UInt32(Self.initialSlots.trailingZeroBitCount)
    }

    var isEmpty: Bool { count == 0 }

    /// The ids of the live streams (a copy: the caller may change the table while it iterates).
    var keys: [UInt32] { ids.filter { $0 != 0 } }

    subscript(id: UInt32) -> HTTP2StreamState? {
        get {
            guard let i = find(id) else { return nil }
            return states[i]
        }
        set {
            if let newValue { insert(id, newValue) } else { _ = removeValue(forKey: id) }
        }
    }

    /// Like `Dictionary.compactMap` over (id, state) pairs.
    func compactMap<T>(_ transform: (UInt32, HTTP2StreamState) throws -> T?) rethrows -> [T] {
        var out: [T] = []
        for i in ids.indices where ids[i] != 0 {
            if let t = try transform(ids[i], states[i]) { out.append(t) }
        }
        return out
    }

    @discardableResult
    mutating func removeValue(forKey id: UInt32) -> HTTP2StreamState? {
        guard let found = find(id) else { return nil }
        let removed = states[found]
        let mask = ids.count - 1
        // Backward-shift deletion: later entries of the probe run move up into the hole, so a
        // lookup never needs tombstones and the table never degrades with churn.
        var hole = found
        var j = (found + 1) & mask
        while ids[j] != 0 {
            let home = slot(ids[j])
            if (j - home) & mask >= (j - hole) & mask {
                ids[hole] = ids[j]
                states[hole] = states[j]
                hole = j
            }
            j = (j + 1) & mask
        }
        ids[hole] = 0
        states[hole] = Self.vacant
        count -= 1
        return removed
    }

    // MARK: probing

    @inline(__always)
    private func slot(_ id: UInt32) -> Int {
        Int(truncatingIfNeeded: ((id ^ salt) &* 0x9E37_79B1) >> shift)
    }

    @inline(__always)
    private func find(_ id: UInt32) -> Int? {
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

    private mutating func insert(_ id: UInt32, _ state: HTTP2StreamState) {
        guard id != 0 else { return }   // stream 0 is the connection (callers never store it)
        if let i = find(id) { states[i] = state; return }
        if (count + 1) * 2 > ids.count { grow() }
        let mask = ids.count - 1
        var i = slot(id)
        while ids[i] != 0 { i = (i + 1) & mask }
        ids[i] = id
        states[i] = state
        count += 1
    }

    private mutating func grow() {
        let oldIDs = ids, oldStates = states
        let slots = ids.count * 2
        ids = [UInt32](repeating: 0, count: slots)
        states = [HTTP2StreamState](repeating: Self.vacant, count: slots)
        shift = 32 - UInt32(slots.trailingZeroBitCount)
        count = 0
        for i in oldIDs.indices where oldIDs[i] != 0 { insert(oldIDs[i], oldStates[i]) }
    }
}

/// The process's salt for the stream-id hashes (`HTTP2StreamTable`, `HTTP2StreamMap`): a client
/// picks its ids, and must not be able to pick them all into one probe run.
@usableFromInline let streamIDHashSalt = UInt32.random(in: 0...UInt32.max)
/// The slots a stream table starts with (a power of two).
@usableFromInline let initialStreamSlots = 16

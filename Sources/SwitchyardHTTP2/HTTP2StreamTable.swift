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
    private var index = HTTP2StreamIDSlots(slots: initialStreamSlots)
    private var states: [HTTP2StreamState]
    var count: Int { index.count }

    static let initialSlots = initialStreamSlots
    private static let vacant = HTTP2StreamState(phase: .closed, sendWindow: HTTP2SendWindow(0),
                                                 receiveWindow: HTTP2ReceiveWindow(target: 0))

    init() {
        states = [HTTP2StreamState](repeating: Self.vacant, count: Self.initialSlots)
    }

    var isEmpty: Bool { count == 0 }

    /// The ids of the live streams (a copy: the caller may change the table while it iterates).
    var keys: [UInt32] { index.ids.filter { $0 != 0 } }

    subscript(id: UInt32) -> HTTP2StreamState? {
        get {
            guard let i = index.find(id) else { return nil }
            return states[i]
        }
        set {
            if let newValue { insert(id, newValue) } else { _ = removeValue(forKey: id) }
        }
    }

    /// Where a live stream's state is, to read and change it in place (`self[slot:]`) rather than
    /// copy it out and back: valid until the next insert or removal.
    func slot(of id: UInt32) -> Int? { index.find(id) }

    subscript(slot slot: Int) -> HTTP2StreamState {
        get { states[slot] }
        _modify { yield &states[slot] }
    }

    /// Like `Dictionary.compactMap` over (id, state) pairs.
    func compactMap<T>(_ transform: (UInt32, HTTP2StreamState) throws -> T?) rethrows -> [T] {
        var out: [T] = []
        for i in index.ids.indices where index.ids[i] != 0 {
            if let t = try transform(index.ids[i], states[i]) { out.append(t) }
        }
        return out
    }

    @discardableResult
    mutating func removeValue(forKey id: UInt32) -> HTTP2StreamState? {
        guard let found = index.find(id) else { return nil }
        let removed = states[found]
        let emptied = index.remove(at: found) { from, to in states[to] = states[from] }
        states[emptied] = Self.vacant
        return removed
    }

    private mutating func insert(_ id: UInt32, _ state: HTTP2StreamState) {
        guard id != 0 else { return }   // stream 0 is the connection (callers never store it)
        if let i = index.find(id) { states[i] = state; return }
        if index.isFullForOneMore { grow() }
        states[index.claim(id)] = state
    }

    private mutating func grow() {
        let old = index, oldStates = states
        index = HTTP2StreamIDSlots(slots: old.ids.count * 2)
        states = [HTTP2StreamState](repeating: Self.vacant, count: old.ids.count * 2)
        for i in old.ids.indices where old.ids[i] != 0 { states[index.claim(old.ids[i])] = oldStates[i] }
    }
}

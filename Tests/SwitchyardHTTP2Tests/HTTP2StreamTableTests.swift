import Testing
@testable import SwitchyardHTTP2

/// The session's stream table (open addressing, backward-shift deletion) against a Dictionary,
/// and the output drain that keeps its buffer.
struct HTTP2StreamTableTests {
    static func state(_ n: Int) -> HTTP2StreamState {
        HTTP2StreamState(phase: .open, sendWindow: HTTP2SendWindow(n), receiveWindow: HTTP2ReceiveWindow(target: 65_535))
    }

    /// Random inserts, updates and removals of client-like odd ids (300 of them, so they share
    /// probe runs) through several growths, mirrored in a Dictionary: `set` and `remove` act on the
    /// table under test, `check` compares it with the model every 200 steps. True when every
    /// removal returned what the model held.
    static func churn(seed: UInt64, set: (UInt32, Int) -> Void, remove: (UInt32) -> Int?,
                      check: ([UInt32: Int]) -> Void) -> [UInt32: Int] {
        var model: [UInt32: Int] = [:]
        var rng = SplitMix(seed: seed)
        var removedRight = true
        for step in 0..<6_000 {
            let id = UInt32(rng.next() % 300) * 2 + 1
            if rng.next() % 3 < 2 {
                set(id, step)
                model[id] = step
            } else {
                removedRight = removedRight && remove(id) == model.removeValue(forKey: id)
            }
            if step % 200 == 0 { check(model) }
        }
        #expect(removedRight)
        return model
    }

    @Test func matchesADictionaryUnderChurn() {
        var table = HTTP2StreamTable()
        _ = Self.churn(seed: 0x5EED, set: { table[$0] = Self.state($1) },
                       remove: { table.removeValue(forKey: $0)?.sendWindow.value }) { model in
            #expect(table.count == model.count)
            #expect((UInt32(0)..<602).map { table[$0]?.sendWindow.value } == (UInt32(0)..<602).map { model[$0] })
            #expect(table.keys.sorted() == model.keys.sorted())
        }
    }

    /// The connection's map of exchanges by stream id (`HTTP2StreamMap`), class values as there:
    /// the same contents as a Dictionary at every step of the same churn, `values`, `removeAll`.
    @Test func streamMapMatchesADictionaryUnderChurn() {
        final class Box { let n: Int; init(_ n: Int) { self.n = n } }
        var map = HTTP2StreamMap<Box>()
        let model = Self.churn(seed: 0xB0C5, set: { map[$0] = Box($1) }, remove: { map.removeValue(forKey: $0)?.n }) { model in
            #expect(map.count == model.count)
            #expect((UInt32(0)..<602).map { map[$0]?.n } == (UInt32(0)..<602).map { model[$0] })
            #expect(map.values.map(\.n).sorted() == model.values.sorted())
        }
        map[0] = Box(0)   // stream 0 is never stored
        #expect(map[0] == nil && map.count == model.count)
        map.removeAll()
        #expect(map.isEmpty && map.values.isEmpty && map[1] == nil)
        map[1] = Box(1)
        #expect(map[1]?.n == 1 && map.count == 1)
    }

    @Test func inPlaceChangesAndNilRemove() {
        var table = HTTP2StreamTable()
        for id in stride(from: UInt32(1), through: 199, by: 2) { table[id] = Self.state(Int(id)) }
        #expect(table.count == 100)
        _ = table[7]!.sendWindow.grow(by: 10)
        #expect(table[7]?.sendWindow.value == 17)
        table[7] = nil
        #expect(table[7] == nil && table.count == 99)
        #expect(table[0] == nil)
        table[0] = Self.state(1)   // stream 0 is never stored
        #expect(table.count == 99)
        #expect(table.compactMap { id, s in s.sendWindow.value == Int(id) ? id : nil }.count == 99)
        for id in table.keys { table.removeValue(forKey: id) }
        #expect(table.isEmpty)
    }

    /// `drainOutput` hands over exactly what `takeOutput` would and keeps the buffer for the next
    /// frames (no new array per write).
    @Test func drainOutputKeepsTheBuffer() throws {
        var a = HTTP2TestClient.connected()
        var b = HTTP2TestClient.connected()
        for c in [0, 1] {
            var client = c == 0 ? a : b
            _ = client.send(client.headers(1, HTTP2TestClient.get()))
            try client.session.sendHeaders(streamID: 1, fields: [HPACKHeaderField(name: ":status", value: "200")], endStream: false)
            _ = try client.session.sendData(streamID: 1, [UInt8](repeating: 7, count: 100), endStream: false)
            if c == 0 { a = client } else { b = client }
        }
        let taken = a.session.takeOutput()
        var drained: [UInt8] = []
        b.session.drainOutput { drained.append(contentsOf: $0) }
        #expect(drained == taken && !taken.isEmpty)
        let left = b.session.hasOutput
        #expect(!left)
        #expect(b.session.output.capacity >= taken.count)
    }

    /// A small deterministic generator for the churn test.
    struct SplitMix {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}

/// Per-request evaluation of conditional blocks: one pass over `contexts` with a memo, because a
/// block's result depends only on its parent and its earlier else-branches, all of which precede it.
extension ConfigDocument {
    /// Indices of contexts that match, in document order (parent-first).
    public func matchingContexts(_ input: ConditionInput) -> [Int] {
        if let mask = matchingMask(input) { return Self.contextIndices(of: mask) }
        var matched = [Bool](repeating: false, count: contexts.count)
        var result: [Int] = []
        for i in contexts.indices where contextMatches(i, input, matched: { matched[$0] }) {
            matched[i] = true
            result.append(i)
        }
        return result
    }

    /// `matchingContexts` as bits (context `i` is bit `i`) for a document of at most 64 blocks,
    /// nil for a larger one: a request's routing then needs no array, and the bits key a cache.
    public func matchingMask(_ input: ConditionInput) -> UInt64? {
        guard contexts.count <= 64 else { return nil }
        var matched: UInt64 = 0
        for i in contexts.indices where contextMatches(i, input, matched: { matched & (1 << UInt64($0)) != 0 }) {
            matched |= 1 << UInt64(i)
        }
        return matched
    }

    /// The indices of the bits of a `matchingMask`, in order.
    public static func contextIndices(of mask: UInt64) -> [Int] {
        (0..<64).filter { mask & (1 << UInt64($0)) != 0 }
    }

    /// Block `i` matches when its parent did, no earlier branch of its else-chain did, and its own
    /// condition does (a plain `else` has none); `matched` answers for the blocks before it.
    @inline(__always)
    private func contextMatches(_ i: Int, _ input: ConditionInput, matched: (Int) -> Bool) -> Bool {
        if let parent = contexts[i].parent, !matched(parent) { return false }
        if contexts[i].elsePredecessors.contains(where: matched) { return false }
        if contexts[i].isElse { return true }
        guard let subject = input.subject(for: contexts[i].condition.field) else { return false }
        return contexts[i].condition.matches(subject)
    }

    /// Effective value of a key for a request: the global value overridden by each matching context in
    /// order (later matching blocks win). `+=` inside a block was already applied at parse time to the
    /// value visible in the enclosing scope, as lighttpd does.
    public func value(_ key: String, matching: [Int]) -> ConfigEntry? {
        var entry = global[key]
        for index in matching {
            if let override = contexts[index].settings[key] { entry = override }
        }
        return entry
    }

    /// Every effective setting for a request (global merged with matching contexts, later wins).
    public func settings(matching: [Int]) -> [String: ConfigEntry] {
        var merged = global
        for index in matching {
            merged.merge(contexts[index].settings) { _, new in new }
        }
        return merged
    }
}

/// Bounds on what one configuration may make the parser do. The language can nest, include and double
/// values (`a += a`), so a small hostile or broken config could otherwise overflow the stack, include
/// files exponentially often or grow values without bound. The limits sit far above real configs.
enum ConfigLimits {
    /// Open arrays, blocks and includes at once; deeper input is rejected before the recursion can
    /// exhaust the stack.
    static let maxNestingDepth = 64
    /// Files (and `include_shell` outputs) parsed in total, counting a file included twice twice.
    static let maxIncludes = 1024
    /// Longest string value, in UTF-8 bytes, and most elements in one array.
    static let maxStringBytes = 1 << 16
    static let maxArrayElements = 1 << 14
    /// Total weight of every value assigned (a string weighs its bytes + 1, an integer 1, an array
    /// 1 + its elements). Values are shared, not copied, when a variable is reused, so this bounds
    /// what walking the document (`dump()`, evaluation) can cost, not only memory.
    static let maxTotalWeight = 1 << 20
}

extension ConfigValue {
    /// The value's weight (see `ConfigLimits.maxTotalWeight`), or nil once it exceeds `limit`. Stops
    /// early, so nested arrays that share storage cost at most `limit` steps, not their expansion.
    func weight(limit: Int) -> Int? {
        var total = 0
        func add(_ value: ConfigValue) -> Bool {
            switch value {
            case .string(let s): total += s.utf8.count + 1
            case .integer: total += 1
            case .array(let elements):
                total += 1
                for element in elements {
                    if let key = element.key { total += key.utf8.count }
                    guard total <= limit, add(element.value) else { return false }
                }
            }
            return total <= limit
        }
        return add(self) ? total : nil
    }
}

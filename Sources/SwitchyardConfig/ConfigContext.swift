/// A conditional block. lighttpd evaluates blocks per request; flattening them into an indexed list
/// (parent-first, document order) lets the evaluator walk them once with a `[Bool]` memo.
///
/// A block matches when its parent matches, every earlier branch of its else-chain does NOT match,
/// and its own condition matches (a plain `else` has no condition of its own).
public struct ConfigContext: Sendable {
    /// Position in `ConfigDocument.contexts`.
    public var index: Int
    /// Index of the enclosing block in `contexts`, `nil` for the global scope.
    public var parent: Int?
    /// The block's test. For a plain `else` this is the preceding branch's condition and is ignored.
    public var condition: ConfigCondition
    /// Indices of the earlier branches of the same `if / else if / else` chain, in order.
    public var elsePredecessors: [Int]
    /// A plain `else { }` without a condition of its own.
    public var isElse: Bool
    /// Settings assigned directly in this block (values already resolved, `+=` already applied).
    public var settings: [String: ConfigEntry]
    /// Where the block starts (the `$` or `else`).
    public var location: ConfigSourceLocation

    public init(index: Int, parent: Int?, condition: ConfigCondition, elsePredecessors: [Int] = [],
                isElse: Bool = false, settings: [String: ConfigEntry] = [:], location: ConfigSourceLocation? = nil) {
        self.index = index
        self.parent = parent
        self.condition = condition
        self.elsePredecessors = elsePredecessors
        self.isElse = isElse
        self.settings = settings
        self.location = location ?? condition.location
    }
}

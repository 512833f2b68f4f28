/// lighttpd's comparison operators for conditional blocks. Raw values are the source spelling.
public enum ConditionOperator: String, Sendable, CaseIterable {
    case equal = "=="
    case notEqual = "!="
    /// `=^`: the subject starts with the pattern.
    case prefix = "=^"
    /// `=$`: the subject ends with the pattern.
    case suffix = "=$"
    /// `=~`: POSIX extended regular expression search.
    case regex = "=~"
    /// `!~`: negated regular expression search.
    case notRegex = "!~"
}

/// An ordered list of CGI meta-variables.
///
/// One value type feeds every backend protocol: `envp()` for a spawned CGI process, and the
/// SCGI netstring, uwsgi packet and FastCGI PARAMS encoders. Order is kept because SCGI wants
/// `CONTENT_LENGTH` first and because stable order makes golden-byte tests possible; names are
/// unique (`set` replaces in place) so a later source can never add a second, conflicting copy.
public struct CGIEnvironment: Sendable, Sequence {
    public typealias Element = (name: String, value: String)

    /// The variables in insertion order.
    public private(set) var pairs: [(name: String, value: String)] = []
    private var index: [String: Int] = [:]

    public init() {}

    /// Builds an environment from pairs; a repeated name replaces the earlier value in place.
    public init(_ pairs: some Sequence<(name: String, value: String)>) {
        for p in pairs { set(p.name, p.value) }
    }

    /// Sets `name` to `value`, replacing an existing value in place (keeping its position) or appending.
    public mutating func set(_ name: String, _ value: String) {
        if let i = index[name] {
            pairs[i].value = value
        } else {
            index[name] = pairs.count
            pairs.append((name: name, value: value))
        }
    }

    /// Removes `name`, returning its value. O(n): it re-indexes the variables that follow.
    @discardableResult
    public mutating func remove(_ name: String) -> String? {
        guard let i = index.removeValue(forKey: name) else { return nil }
        let old = pairs.remove(at: i).value
        for j in i..<pairs.count { index[pairs[j].name] = j }
        return old
    }

    public func value(_ name: String) -> String? {
        guard let i = index[name] else { return nil }
        return pairs[i].value
    }

    public subscript(name: String) -> String? { value(name) }

    public func contains(_ name: String) -> Bool { index[name] != nil }

    public var count: Int { pairs.count }
    public var isEmpty: Bool { pairs.isEmpty }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        pairs.makeIterator()
    }

    /// `"NAME=value"` strings for `execve`/`posix_spawn`.
    public func envp() -> [String] {
        pairs.map { $0.name + "=" + $0.value }
    }
}

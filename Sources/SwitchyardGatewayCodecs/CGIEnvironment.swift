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
    /// Name -> position, built only once the list outgrows a linear scan (a request's ~30
    /// variables are found faster by comparing than by hashing; a hostile SCGI/FastCGI peer
    /// sending thousands of names still gets O(1) lookups).
    private var index: [String: Int]?
    private static let linearLimit = 64

    public init() {}

    /// Builds an environment from pairs; a repeated name replaces the earlier value in place.
    public init(_ pairs: some Sequence<(name: String, value: String)>) {
        for p in pairs { set(p.name, p.value) }
    }

    private mutating func position(of name: String) -> Int? {
        if index == nil {
            if pairs.count <= CGIEnvironment.linearLimit {
                for i in pairs.indices where pairs[i].name == name { return i }
                return nil
            }
            var built = [String: Int](minimumCapacity: pairs.count * 2)
            for i in pairs.indices { built[pairs[i].name] = i }
            index = built
        }
        return index![name]
    }

    /// Sets `name` to `value`, replacing an existing value in place (keeping its position) or appending.
    public mutating func set(_ name: String, _ value: String) {
        if let i = position(of: name) {
            pairs[i].value = value
        } else {
            append(uniqueName: name, value)
        }
    }

    /// Appends a variable the caller knows is not present yet (the builder's fixed names).
    mutating func append(uniqueName name: String, _ value: String) {
        if index != nil { index![name] = pairs.count }
        pairs.append((name: name, value: value))
    }

    /// Reserves room for `n` variables.
    public mutating func reserveCapacity(_ n: Int) { pairs.reserveCapacity(n) }

    /// Removes `name`, returning its value. O(n): it re-indexes the variables that follow.
    @discardableResult
    public mutating func remove(_ name: String) -> String? {
        guard let i = position(of: name) else { return nil }
        let old = pairs.remove(at: i).value
        if index != nil {
            index![name] = nil
            for j in i..<pairs.count { index![pairs[j].name] = j }
        }
        return old
    }

    public func value(_ name: String) -> String? {
        if let index {
            guard let i = index[name] else { return nil }
            return pairs[i].value
        }
        for p in pairs where p.name == name { return p.value }
        return nil
    }

    public subscript(name: String) -> String? { value(name) }

    public func contains(_ name: String) -> Bool { value(name) != nil }

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

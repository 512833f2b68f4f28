import SwitchyardHTTP

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

    /// `"NAME=value"` strings for `execve`/`posix_spawn`. Header bytes kept as escapes by the
    /// HTTP parser stay escaped here; `envpBytes` is the byte-exact form for spawning.
    public func envp() -> [String] {
        pairs.map { $0.name + "=" + $0.value }
    }

    /// `NAME=value` byte strings (no NUL) for spawning a CGI, header bytes exact (`FieldValueBytes`).
    public func envpBytes() -> [[UInt8]] {
        pairs.map { p in
            var line: [UInt8] = []
            line.reserveCapacity(p.name.utf8.count + 1 + p.value.utf8.count)
            line.appendUTF8(p.name)
            line.append(0x3D)
            FieldValueBytes.append(p.value, to: &line)
            return line
        }
    }

    /// The largest `spawnSize` a CGI is started with. Linux refuses (E2BIG, "Argument list too
    /// long") any single `NAME=value` over 128 KiB (MAX_ARG_STRLEN) and all of argv + envp over a
    /// quarter of the stack limit; the whole environment is held to the smaller bound, so a request
    /// whose headers would not fit is answered 431 before any spawn is tried.
    public static let maxSpawnSize = 128 * 1024

    /// Bytes the environment occupies in a spawned process (`NAME=value\0` plus one pointer
    /// each): what counts against the kernel's argument/environment limit.
    public var spawnSize: Int {
        var total = 0
        for p in pairs { total += p.name.utf8.count + 2 + FieldValueBytes.byteCount(p.value) + MemoryLayout<Int>.size }
        return total
    }
}

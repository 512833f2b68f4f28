/// An ordered list of header fields, as they appeared on the wire.
///
/// Order and duplicates are kept because they matter when headers are forwarded to a CGI /
/// SCGI / FastCGI backend (and `Set-Cookie` must never be merged). Names keep the case
/// they were received with; every lookup is ASCII case-insensitive. Lookups are linear,
/// which beats hashing for the dozen-or-so fields a request carries.
public struct HTTPHeaders: Sequence, Sendable, Equatable, ExpressibleByDictionaryLiteral {
    struct Field: Sendable, Equatable {
        var name: String
        var value: String
        init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    var fields: [Field] = []

    public init() {}

    public init(_ pairs: [(name: String, value: String)]) {
        fields.reserveCapacity(pairs.count)
        for p in pairs { fields.append(Field(name: p.name, value: p.value)) }
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        for (n, v) in elements { fields.append(Field(name: n, value: v)) }
    }

    /// Number of field lines (duplicates counted).
    public var count: Int { fields.count }
    public var isEmpty: Bool { fields.isEmpty }

    /// Appends a field, keeping any existing ones with the same name.
    public mutating func add(name: String, value: String) {
        fields.append(Field(name: name, value: value))
    }

    /// Removes all fields with that name.
    public mutating func remove(name: String) {
        fields.removeAll { ASCII.caseInsensitiveEquals($0.name, name) }
    }

    /// Sets the value of the first field with that name (at its position) and removes the
    /// others; appends when there is none.
    public mutating func replaceOrAdd(name: String, value: String) {
        guard let i = fields.firstIndex(where: { ASCII.caseInsensitiveEquals($0.name, name) }) else {
            add(name: name, value: value)
            return
        }
        fields[i].value = value
        var j = fields.count - 1
        while j > i {
            if ASCII.caseInsensitiveEquals(fields[j].name, name) { fields.remove(at: j) }
            j -= 1
        }
    }

    /// Value of the first field with that name.
    public func first(_ name: String) -> String? {
        guard let i = firstIndex(of: name) else { return nil }
        return fields[i].value
    }

    /// Handlers ask for several headers a request usually lacks: compare lengths before bytes,
    /// and look at the fields in place instead of copying each one out.
    private func firstIndex(of name: String) -> Int? {
        let length = name.utf8.count
        for i in fields.indices where fields[i].name.utf8.count == length {
            if ASCII.caseInsensitiveEquals(fields[i].name, name) { return i }
        }
        return nil
    }

    /// True when a field named `If-…` or `Range` (any case) is present: a static response reads
    /// four such fields, and one pass over the names tells when it can skip all four lookups.
    public var mayBeConditionalOrRanged: Bool {
        for i in fields.indices {
            var name = fields[i].name
            let found = name.withUTF8 { n in
                if n.count == 5 { return ASCII.lower(n[0]) == 0x72 && ASCII.lower(n[1]) == 0x61 && ASCII.lower(n[2]) == 0x6E
                    && ASCII.lower(n[3]) == 0x67 && ASCII.lower(n[4]) == 0x65 }                                  // "range"
                return n.count > 3 && ASCII.lower(n[0]) == 0x69 && ASCII.lower(n[1]) == 0x66 && n[2] == 0x2D   // "if-"
            }
            if found { return true }
        }
        return false
    }

    /// Values of all fields with that name, in order.
    public func values(_ name: String) -> [String] {
        fields.compactMap { ASCII.caseInsensitiveEquals($0.name, name) ? $0.value : nil }
    }

    public func contains(_ name: String) -> Bool {
        firstIndex(of: name) != nil
    }

    /// Comma-separated list elements of all fields with that name, trimmed, empty ones
    /// dropped (RFC 9110 5.6.1), e.g. `Accept-Encoding: gzip, br` -> ["gzip", "br"].
    public func listElements(_ name: String) -> [String] {
        var out: [String] = []
        for f in fields where ASCII.caseInsensitiveEquals(f.name, name) {
            var value = f.value
            value.withUTF8 { buf in
                ASCII.forEachListElement(UnsafeRawBufferPointer(buf)) { element in
                    out.append(ASCII.string(element))
                    return true
                }
            }
        }
        return out
    }

    /// Subscript for the first value; setting replaces (or removes with nil).
    public subscript(name: String) -> String? {
        get { first(name) }
        set {
            if let v = newValue { replaceOrAdd(name: name, value: v) } else { remove(name: name) }
        }
    }

    public struct Iterator: IteratorProtocol {
        var base: IndexingIterator<[Field]>
        public mutating func next() -> (name: String, value: String)? {
            guard let f = base.next() else { return nil }
            return (f.name, f.value)
        }
    }

    public func makeIterator() -> Iterator { Iterator(base: fields.makeIterator()) }

    public var underestimatedCount: Int { fields.count }
}

extension HTTPHeaders: CustomStringConvertible {
    public var description: String {
        "[" + fields.map { "\($0.name): \($0.value)" }.joined(separator: ", ") + "]"
    }
}

/// Builds an `HTTPRequestHead` from a request's parts (method, target, field name/value bytes)
/// that never were HTTP/1.1 text: the HTTP/2 gateway's way to the head routes and handlers read.
///
/// The outcome is the one `HTTPRequestParser` gives for the text
/// `method SP target SP HTTP/1.1 CRLF (name ": " value CRLF)* CRLF`: the same limits (414 for the
/// request line, 431 for the field count and the block size, checked before anything else as
/// the parser's scanner does), the same line and field checks (`RequestLine`, values trimmed and
/// free of control characters), the same cross-field rules (`FieldState`: Host, Content-Length,
/// Transfer-Encoding, Connection, Expect, Upgrade) and the same interned strings. Only the text,
/// its line scan and its second pass are gone. Parts must not contain CR, LF or NUL (an HTTP/2
/// field cannot, RFC 9113 §8.2.1): they would have split the text into other lines.
public struct HTTPRequestHeadBuilder {
    private let limits: HTTPParserLimits
    private var line: RequestLine?
    /// The scanner's verdict (414/431) wins over any parse error, wherever that was found.
    private var scanError: HTTPParseError?
    private var parseError: HTTPParseError?
    private var fieldState = FieldState()
    private var headers = HTTPHeaders()
    /// Bytes the text would have had so far (request line and field lines with their CRLF).
    private var blockBytes = 0
    private var fieldCount = 0

    /// Checks the line in `startLine` after a plain initialisation of the parts: with the checks and
    /// their early returns in the initialiser itself, the compiler copied the whole builder (its
    /// strings, field state and header array: a retain and release of each) to return it.
    public init(method: UnsafeRawBufferPointer, target: UnsafeRawBufferPointer, limits: HTTPParserLimits,
                fieldCapacity: Int = 16) {
        self.init(limits: limits, fieldCapacity: fieldCapacity)
        startLine(method: method, target: target)
    }

    /// The same for a method and a target held as arrays that recur from request to request (an
    /// HTTP/2 request's `:method` and `:path`, read from the HPACK tables or its recent literals):
    /// a request line made from the same two arrays before is taken from `cache`, not made again.
    public init(method: [UInt8], target: [UInt8], limits: HTTPParserLimits, fieldCapacity: Int = 16,
                cache: inout FieldStringCache) {
        self.init(limits: limits, fieldCapacity: fieldCapacity)
        startLine(method: method, target: target, cache: &cache)
    }

    private init(limits: HTTPParserLimits, fieldCapacity: Int) {
        self.limits = limits
        self.fieldCapacity = fieldCapacity
    }

    /// Room reserved for the fields at the first one (not at once: a head that adopts remembered
    /// fields, `adoptRememberedFields`, never needs an array of its own).
    private let fieldCapacity: Int

    @inline(__always)
    private mutating func append(name: String, value: String) {
        if headers.fields.capacity == 0 { headers.fields.reserveCapacity(fieldCapacity) }
        headers.add(name: name, value: value)
    }

    /// The bytes counted so far (the request line's and the fields'): what `rememberFields` is
    /// told at the start of the fields.
    public var countedBytes: Int { blockBytes }

    /// Takes the fields a request made of exactly the same arrays made before (`FieldStringCache`
    /// remembers the last such set, `rememberFields`): the same header list (shared), the same
    /// cross-field state, the same counts. Only before any field was added, and only when the
    /// counts stay within the limits (a head over them takes the field-by-field way, which finds
    /// the limit where the parser would). False: add the fields one by one.
    /// `cache` is `inout` only to be read in place: passed by value, the whole cache was copied.
    public mutating func adoptRememberedFields(_ cache: inout FieldStringCache) -> Bool {
        guard fieldCount == 0, headers.fields.isEmpty, scanError == nil, parseError == nil,
              let count = cache.fieldsMemo?.fieldCount, let bytes = cache.fieldsMemo?.fieldBytes,
              count <= limits.maxHeaderCount, blockBytes + bytes + 2 <= limits.maxHeaderBlockSize else {
            return false
        }
        fieldCount = count
        blockBytes += bytes
        fieldState = cache.fieldsMemo!.fieldState
        headers = cache.fieldsMemo!.headers
        return true
    }

    /// Remembers the fields added since `countedBytes` was `bytesBefore` (all of them: none were
    /// added before) as made of `arrays` (each field's name and value, in order), for
    /// `adoptRememberedFields`. Only a set that raised no error is remembered.
    public func rememberFields(in cache: inout FieldStringCache, arrays: [[UInt8]], bytesBefore: Int) {
        guard scanError == nil, parseError == nil, arrays.count == 2 * fieldCount else { return }
        cache.rememberFields(FieldStringCache.FieldsMemo(headers: headers, fieldState: fieldState, fieldCount: fieldCount,
                                                         fieldBytes: blockBytes - bytesBefore), arrays: arrays)
    }

    private mutating func startLine(method: UnsafeRawBufferPointer, target: UnsafeRawBufferPointer) {
        let lineLength = method.count + 1 + target.count + 9   // "M T HTTP/1.1"
        if lineLength > limits.maxRequestLineLength {
            scanError = .init(status: 414, reason: "request line longer than \(limits.maxRequestLineLength) bytes")
        }
        countLine(lineLength)
        guard RequestLine.isValidMethod(method) else { parseError = .badRequest("malformed method in request line"); return }
        guard RequestLine.isValidTarget(target) else { parseError = .badRequest("malformed request-target"); return }
        do { line = try RequestLine.make(method: method, target: target, version: .http1_1) } catch { parseError = error }
    }

    private mutating func startLine(method: [UInt8], target: [UInt8], cache: inout FieldStringCache) {
        if let known = cache.line(method: method, target: target) {
            // What depends on the limits is applied each time, as `startLine` does.
            let lineLength = method.count + 1 + target.count + 9
            if lineLength > limits.maxRequestLineLength {
                scanError = .init(status: 414, reason: "request line longer than \(limits.maxRequestLineLength) bytes")
            }
            countLine(lineLength)
            line = known
            return
        }
        method.withUnsafeBytes { m in target.withUnsafeBytes { t in startLine(method: m, target: t) } }
        // Only a line that was made is kept: a refused one is refused again.
        if let line, parseError == nil { cache.remember(line, method: method, target: target) }
    }

    /// One field line, as `name: value`.
    public mutating func add(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        add(name: name, value: value, nameIsToken: false)
    }

    /// A field whose name the caller knows is a token (an HTTP/2 field name the session validated
    /// as a lowercase token, RFC 9113 §8.2.1): the same as `add(name:value:)` without reading the
    /// name's bytes a second time.
    public mutating func add(tokenName name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        assert(name.allSatisfy { ASCII.isTokenChar($0) }, "not a token")
        add(name: name, value: value, nameIsToken: true)
    }

    @inline(__always)
    private mutating func add(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, nameIsToken: Bool) {
        fieldCount += 1
        if scanError == nil && fieldCount > limits.maxHeaderCount {
            scanError = .init(status: 431, reason: "more than \(limits.maxHeaderCount) header fields")
        }
        countLine(name.count + 2 + value.count)
        guard scanError == nil, parseError == nil else { return }
        guard !name.isEmpty else { parseError = .badRequest("empty header name"); return }
        guard nameIsToken || name.allSatisfy({ ASCII.isTokenChar($0) }) else { parseError = .badRequest("invalid character in header name"); return }
        let value = ASCII.trimmed(value)
        if let b = ASCII.firstForbiddenInValue(value) {
            parseError = .badRequest(b == 0 ? "NUL in header value" : b == ASCII.cr ? "bare CR in header value" : "control character in header value")
            return
        }
        let valueString = FieldValueBytes.string(value)
        if let e = fieldState.note(name: name, value: value, valueString: valueString) { parseError = e; return }
        append(name: CommonStrings.fieldName(name), value: valueString)
    }

    /// `add(tokenName:value:)` for a field held as arrays that recur from request to request (an
    /// HTTP/2 field read from the HPACK tables: the same arrays each time it is referenced). The
    /// work that depends only on the bytes (trimming, the forbidden-byte check, the name's and the
    /// value's Strings) is done once and kept in `cache`; the count, the limits and `FieldState`
    /// (which depends on the other fields) are applied each time, as `add(tokenName:value:)` does.
    public mutating func add(tokenName name: [UInt8], value: [UInt8], cache: inout FieldStringCache) {
        fieldCount += 1
        if scanError == nil && fieldCount > limits.maxHeaderCount {
            scanError = .init(status: 431, reason: "more than \(limits.maxHeaderCount) header fields")
        }
        countLine(name.count + 2 + value.count)
        guard scanError == nil, parseError == nil else { return }
        let slot = cache.slot(name: name, value: value)
        if slot.hit {
            // The entry's parts read in place: a copy of it would retain and release its arrays too.
            let (nameString, valueString, trimStart, trimCount, validAuthority) = cache.entries.withUnsafeBufferPointer { entries in
                let e = slot.index
                return (entries[e].nameString, entries[e].valueString, entries[e].trimStart, entries[e].trimCount,
                        entries[e].isValidAuthority)
            }
            let error: HTTPParseError? = name.withUnsafeBytes { n in
                value.withUnsafeBytes { v in
                    fieldState.note(name: n, value: UnsafeRawBufferPointer(rebasing: v[trimStart..<trimStart + trimCount]),
                                    valueString: valueString, validAuthority: validAuthority)
                }
            }
            if let error { parseError = error; return }
            append(name: nameString, value: valueString)
            return
        }
        name.withUnsafeBytes { n in
            value.withUnsafeBytes { v in
                assert(!n.isEmpty && n.allSatisfy { ASCII.isTokenChar($0) }, "not a token")
                let trimmed = ASCII.trimmed(v)
                if let b = ASCII.firstForbiddenInValue(trimmed) {
                    parseError = .badRequest(b == 0 ? "NUL in header value" : b == ASCII.cr ? "bare CR in header value" : "control character in header value")
                    return
                }
                let nameString = CommonStrings.fieldName(n)
                let valueString = FieldValueBytes.string(trimmed)
                // Only a value that passed the checks is kept: a refused one is refused again.
                if value.count <= FieldStringCache.maxValueCount {
                    let start = v.isEmpty ? 0 : trimmed.baseAddress! - v.baseAddress!
                    // Whether it would pass as a Host value (only read for a Host field).
                    let isValidAuthority = n.count == 4 && RequestLine.isValidAuthority(trimmed)
                    cache.store(FieldStringCache.Entry(name: name, value: value, nameString: nameString, valueString: valueString,
                                                       trimStart: start, trimCount: trimmed.count,
                                                       isValidAuthority: isValidAuthority), at: slot.index)
                }
                if let e = fieldState.note(name: n, value: trimmed, valueString: valueString) { parseError = e; return }
                append(name: nameString, value: valueString)
            }
        }
    }

    /// A field the caller writes itself (e.g. `upgrade: websocket`).
    public mutating func add(name: StaticString, value: String) {
        var value = value
        value.withUTF8 { v in add(name: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount),
                                  value: UnsafeRawBufferPointer(v)) }
    }

    /// The head, or the error the parser would have answered the text with. Call once: the line
    /// and the fields move into the head.
    public mutating func finish() throws(HTTPParseError) -> HTTPRequestHead {
        countLine(0)   // the final empty line
        if let scanError { throw scanError }
        if let parseError { throw parseError }
        guard let line = line.take() else { throw .badRequest("empty request") }
        var fields = HTTPHeaders()
        swap(&fields, &headers)
        return try fieldState.makeHead(line: line, headers: fields, headBytes: blockBytes, limits: limits)
    }

    private mutating func countLine(_ length: Int) {
        blockBytes += length + 2
        if scanError == nil && blockBytes > limits.maxHeaderBlockSize {
            scanError = .init(status: 431, reason: "request header block larger than \(limits.maxHeaderBlockSize) bytes")
        }
    }
}

/// What `HTTPRequestHeadBuilder.add(tokenName:value:cache:)` worked out for a field's bytes,
/// kept for the next request that carries the same arrays (one cache per HTTP/2 connection).
///
/// The key is the identity of the two arrays' storage (their element addresses), not their
/// bytes: comparing two addresses costs nothing, comparing and hashing the bytes would cost what
/// the cache saves. An address stands for the bytes only while the storage lives and does not
/// change; the entry therefore holds both arrays: storage the cache holds cannot be freed (so
/// no other array can get its address), and cannot be written (an array that shares its storage
/// copies it before a write). Two-way set-associative (a field may take either slot of its pair; a
/// new one replaces the older of the two): two hot fields whose addresses share a pair do not
/// push each other out on every request, as they did with one slot each.
public struct FieldStringCache {
    struct Entry {
        /// Held (see above): they keep the keys' storage alive and unchanged.
        var name: [UInt8]
        var value: [UInt8]
        var nameString: String
        var valueString: String
        /// The value without surrounding whitespace: `value[trimStart..<trimStart + trimCount]`.
        var trimStart: Int
        var trimCount: Int
        /// The trimmed value passes `RequestLine.isValidAuthority` (worked out for 4-byte names
        /// only: Host's; false for the others, whose values nobody asks about).
        var isValidAuthority: Bool

        static let empty = Entry(name: [], value: [], nameString: "", valueString: "", trimStart: 0, trimCount: 0,
                                 isValidAuthority: false)
    }

    static let slotCount = 32
    /// Longer values are not kept: the cache must not hold on to large arrays the HPACK table
    /// has evicted.
    static let maxValueCount = 1024
    /// At most this many bytes of names and values are held by the field slots, and as many by
    /// the remembered field set (each also as Strings): the size of the HPACK table they come
    /// from (4 KiB by default). Without a budget a client sending a few requests of large,
    /// distinct fields left ~45 KiB pinned in every idle connection (300 connections of five
    /// requests with seven 900-byte fields: 47.8 KiB each before the cache, 90.6 KiB with it).
    static let heldBytesLimit = 4096
    private(set) var heldBytes = 0

    private(set) var entries: [Entry]

    /// Request lines (`RequestLine`: method, target, path, query as Strings) by the identity of
    /// the method's and the target's arrays, held for the same reason as the fields' arrays.
    static let lineSlotCount = 4
    private var lines: [RequestLine?] = Array(repeating: nil, count: lineSlotCount)
    /// Per slot the method's and the target's arrays (held: see above), and their addresses.
    private var lineArrays: [[UInt8]] = Array(repeating: [], count: 2 * lineSlotCount)
    private var lineKeys: [UInt] = Array(repeating: 0, count: 2 * lineSlotCount)
    private var nextLine = 0
    /// Per slot, the element addresses of the entry's name and value (0: an empty slot; a
    /// field name is never empty, so its address is never 0).
    private var nameKeys: [UInt]
    private var valueKeys: [UInt]
    /// Per slot, when it was last stored (`storeCount` then): the older slot of a pair is replaced.
    private var stamps: [UInt64]
    private var storeCount: UInt64 = 0

    public init() {
        entries = Array(repeating: Entry.empty, count: Self.slotCount)
        nameKeys = Array(repeating: 0, count: Self.slotCount)
        valueKeys = Array(repeating: 0, count: Self.slotCount)
        stamps = Array(repeating: 0, count: Self.slotCount)
    }

    @inline(__always)
    static func key(_ bytes: [UInt8]) -> UInt {
        bytes.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
    }

    /// The slot of that name and value, and whether it holds them.
    @inline(__always)
    func slot(name: [UInt8], value: [UInt8]) -> (index: Int, hit: Bool) {
        let n = Self.key(name), v = Self.key(value)
        let pair = Int(truncatingIfNeeded: (((n &* 31) ^ v) &* 0x9E37_79B9_7F4A_7C15) >> 60) * 2   // top 4 bits: 16 pairs
        return nameKeys.withUnsafeBufferPointer { names in
            valueKeys.withUnsafeBufferPointer { values in
                if n != 0 {
                    if names[pair] == n && values[pair] == v { return (pair, true) }
                    if names[pair + 1] == n && values[pair + 1] == v { return (pair + 1, true) }
                }
                return (stamps.withUnsafeBufferPointer { $0[pair] <= $0[pair + 1] } ? pair : pair + 1, false)
            }
        }
    }

    /// What the last request's fields made, when every one was added from arrays: the arrays (held,
    /// as above) and their addresses in order, name then value for each field.
    struct FieldsMemo {
        var headers: HTTPHeaders
        var fieldState: FieldState
        var fieldCount: Int
        var fieldBytes: Int
    }
    private(set) var fieldsMemo: FieldsMemo?
    private var memoArrays: [[UInt8]] = []
    private var memoKeys: [UInt] = []

    /// How many arrays the remembered fields were made of (two per field), -1 for none. (The
    /// `mutating` readers here are read in place through the caller's `inout`; non-mutating, the
    /// caller's closure copied the whole cache for each call.)
    public mutating func rememberedArrayCount() -> Int { fieldsMemo == nil ? -1 : memoKeys.count }

    /// Whether the remembered fields' array `i` is exactly `array` (the same storage).
    @inline(__always)
    public mutating func rememberedArray(_ i: Int, is array: [UInt8]) -> Bool {
        memoKeys.withUnsafeBufferPointer { $0[i] } == Self.key(array)
    }

    mutating func rememberFields(_ memo: FieldsMemo, arrays: [[UInt8]]) {
        // Bounded as the slots are (`heldBytesLimit`); a larger set is not remembered.
        guard arrays.count <= 64, arrays.reduce(0, { $0 + $1.count }) <= Self.heldBytesLimit else {
            fieldsMemo = nil
            memoArrays = []
            memoKeys = []
            return
        }
        fieldsMemo = memo
        memoArrays = arrays
        memoKeys = arrays.map { Self.key($0) }
    }

    /// The line made from exactly these two arrays before, if it is one of the last few.
    func line(method: [UInt8], target: [UInt8]) -> RequestLine? {
        let m = Self.key(method), t = Self.key(target)
        guard t != 0 else { return nil }
        let slot: Int? = lineKeys.withUnsafeBufferPointer { keys in
            for i in 0..<Self.lineSlotCount where keys[2 * i + 1] == t && keys[2 * i] == m { return i }
            return nil
        }
        guard let slot else { return nil }
        return lines[slot]
    }

    mutating func remember(_ line: RequestLine, method: [UInt8], target: [UInt8]) {
        guard target.count <= Self.maxValueCount else { return }
        lineKeys[2 * nextLine] = Self.key(method)
        lineKeys[2 * nextLine + 1] = Self.key(target)
        lineArrays[2 * nextLine] = method
        lineArrays[2 * nextLine + 1] = target
        lines[nextLine] = line
        nextLine = (nextLine + 1) % Self.lineSlotCount
    }

    mutating func store(_ entry: Entry, at index: Int) {
        // Within the budget, counting what the slot gives up. Over it the slots start over (only a
        // client sending large, varied fields gets there), so old large values never stop new
        // fields from being kept.
        let given = entries[index].name.count + entries[index].value.count
        let taken = entry.name.count + entry.value.count
        if heldBytes - given + taken > Self.heldBytesLimit {
            entries = Array(repeating: Entry.empty, count: Self.slotCount)
            nameKeys = Array(repeating: 0, count: Self.slotCount)
            valueKeys = Array(repeating: 0, count: Self.slotCount)
            heldBytes = 0
            guard taken <= Self.heldBytesLimit else { return }
        } else {
            heldBytes -= given
        }
        heldBytes += taken
        storeCount &+= 1
        stamps[index] = storeCount
        nameKeys[index] = Self.key(entry.name)
        valueKeys[index] = Self.key(entry.value)
        entries[index] = entry
    }
}

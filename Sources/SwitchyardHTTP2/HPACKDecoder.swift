import Glibc

/// Why a header block cannot be decoded (RFC 7541 §3.3, §6). Any of these is a connection error
/// of type COMPRESSION_ERROR (RFC 9113 §4.3): the shared dynamic table can no longer be trusted.
public enum HPACKDecodingError: Error, Equatable, Sendable {
    case primitive(HPACKPrimitives.DecodingError)
    case invalidIndex(Int)
    case tableSizeUpdateNotAtStart
    case tableSizeTooLarge(Int)
}

/// A decoded header block. `exceedsListSize` says the block was larger than the decoder's
/// `maxHeaderListSize`: it was decoded to the end (the dynamic table stays in sync with the
/// peer), but `fields` stops before the field that crossed the limit.
public struct HPACKDecodedBlock: Equatable, Sendable {
    public var fields: [HPACKHeaderField]
    public var exceedsListSize: Bool
    /// RFC 9113 §6.5.2 header list size of everything the block held, as far as it was counted.
    public var listSize: Int
    /// Bit `i` set: the name of `fields[i]` (of the first 64) came from a table entry whose name
    /// is known to pass the HTTP/2 field-name rule (every static entry's; a dynamic entry's that
    /// passed it when inserted). The request validator does not read those names again.
    public var checkedNames: UInt64 = 0
    /// Bit `i` set: the value of `fields[i]` (of the first 64) is known to pass the HTTP/2
    /// field-value rule (`HTTP2HeaderValidator.isValidValue`): a static entry's, a dynamic entry's
    /// found valid when inserted, a literal's checked as it was inserted. Not read again.
    public var checkedValues: UInt64 = 0
    /// Four bits per field for the first 16: its `HTTP2FieldMark.Kind` when its name and value are
    /// known valid and its kind needs no look at its bytes (a pseudo-header's slot, a plain regular
    /// field), 0 otherwise. The validator takes a marked field on its mark alone.
    public var kinds: UInt64 = 0

    /// The kind of `fields[i]` (see `kinds`).
    public func kind(at i: Int) -> HTTP2FieldMark.Kind { HTTP2FieldMark.kind(in: kinds, at: i) }
}

/// HPACK decoder (RFC 7541 §3, §6) for one connection direction.
///
/// Bounded against hostile blocks: the list size counts every field, including each repeat of a
/// dynamic-table reference (an "HPACK bomb" of 1-byte references to a 4 KiB entry stops growing the
/// list at `maxHeaderListSize`), strings are refused before they are materialised when they could
/// not fit, integers are capped, and the table never exceeds the size we advertised.
public struct HPACKDecoder: Sendable {
    public private(set) var table: HPACKDynamicTable
    /// The SETTINGS_HEADER_TABLE_SIZE we advertised: the bound on size updates.
    public private(set) var maxTableSize: Int
    /// SETTINGS_MAX_HEADER_LIST_SIZE we advertised (RFC 7541 §4.1 units).
    public var maxHeaderListSize: Int

    /// `HPACKStaticTable.fields`, held here: a read of the global costs a `swift_once` check, and
    /// the decoder reads it two or three times per field.
    private let staticFields = HPACKStaticTable.fields
    private var recentLiterals = RecentLiterals()
    /// The static entries' marks (`HTTP2FieldMark`), by index - 1.
    private let staticMarks = HPACKDecoder.staticTableMarks
    static let staticTableMarks: [HTTP2FieldMark] = HPACKStaticTable.fields.map { HTTP2HeaderValidator.mark($0, nameKnownValid: false) }

    public init(maxTableSize: Int = 4096, maxHeaderListSize: Int = 64 << 10) {
        self.table = HPACKDynamicTable(maxSize: maxTableSize)
        self.maxTableSize = maxTableSize
        self.maxHeaderListSize = maxHeaderListSize
    }

    /// The last block that left the dynamic table as it found it (indexed fields and literals not
    /// indexed: nghttp2's clients send exactly such a block for every repeat of a request), and
    /// what it decoded to. The same bytes against the same table decode to the same fields.
    private var repeatable = RepeatableBlock()
    struct RepeatableBlock {
        var bytes: [UInt8] = []
        var decoded: HPACKDecodedBlock?
        var tableChange = 0
        var listLimit = 0
        /// Longer blocks are decoded every time (a cookie-laden block rarely repeats whole).
        static let maxBytes = 256
    }

    /// Decodes one complete header block.
    public mutating func decode(_ block: UnsafeRawBufferPointer) throws(HPACKDecodingError) -> HPACKDecodedBlock {
        if let known = repeatable.decoded, block.count == repeatable.bytes.count, table.changeCount == repeatable.tableChange,
           maxHeaderListSize == repeatable.listLimit, let base = block.baseAddress,
           repeatable.bytes.withUnsafeBytes({ memcmp($0.baseAddress!, base, block.count) == 0 }) {
            return known
        }
        repeatable.decoded = nil
        let tableChange = table.changeCount
        let decoded = try decodeFresh(block)
        if table.changeCount == tableChange && !block.isEmpty && block.count <= RepeatableBlock.maxBytes {
            repeatable.bytes.removeAll(keepingCapacity: true)
            repeatable.bytes.append(contentsOf: block)
            repeatable.decoded = decoded
            repeatable.tableChange = tableChange
            repeatable.listLimit = maxHeaderListSize
        }
        return decoded
    }

    private mutating func decodeFresh(_ block: UnsafeRawBufferPointer) throws(HPACKDecodingError) -> HPACKDecodedBlock {
        var fields: [HPACKHeaderField] = []
        // A request carries a dozen fields or more (a browser's 15 to 20): one allocation instead
        // of growing 1, 2, 4, 8, 16, 32 (every field takes at least a byte of the block).
        fields.reserveCapacity(min(block.count, 32))
        var listSize = 0
        var exceeded = false
        var offset = 0
        var fieldSeen = false
        // The largest string worth materialising: anything longer would exceed the list anyway.
        let maxString = max(maxHeaderListSize, maxTableSize)
        var checkedNames: UInt64 = 0, checkedValues: UInt64 = 0, kinds: UInt64 = 0
        while offset < block.count {
            let byte = block[offset]
            let field: HPACKHeaderField?
            var mark: HTTP2FieldMark
            if byte & 0x80 != 0 {                       // §6.1 indexed
                let index = try integer(block, &offset, prefixBits: 7)
                field = try entry(index)
                mark = self.mark(index)
            } else if byte & 0xc0 == 0x40 {             // §6.2.1 literal with incremental indexing
                let literalMark: HTTP2FieldMark
                (field, literalMark) = try literal(block, &offset, prefixBits: 6, maxString: maxString)
                // A string too long to keep is larger than the table too: §4.4 empties it. A new
                // name and a new value are checked once here, for every later reference to the entry.
                mark = HTTP2FieldMark()
                if let field {
                    mark = HTTP2HeaderValidator.mark(field, nameKnownValid: literalMark.nameIsValid)
                    table.insert(field, mark: mark)
                } else {
                    table.removeAll()
                }
            } else if byte & 0xe0 == 0x20 {             // §6.3 dynamic table size update
                guard !fieldSeen else { throw .tableSizeUpdateNotAtStart }
                let size = try integer(block, &offset, prefixBits: 5)
                guard size <= maxTableSize else { throw .tableSizeTooLarge(size) }
                table.setMaxSize(size)
                continue
            } else {                                    // §6.2.2 without indexing, §6.2.3 never indexed
                var plain: HPACKHeaderField?
                (plain, mark) = try literal(block, &offset, prefixBits: 4, maxString: maxString)
                plain?.neverIndexed = byte & 0x10 != 0
                field = plain
            }
            fieldSeen = true
            guard let field else {
                // Skipped, not an error: the request is too large (431), the connection is fine.
                listSize += maxString + 32
                exceeded = true
                continue
            }
            listSize += field.hpackSize
            if listSize > maxHeaderListSize { exceeded = true }
            if !exceeded {
                if fields.count < 64 {
                    if mark.nameIsValid { checkedNames |= 1 << UInt64(fields.count) }
                    if mark.valueIsValid { checkedValues |= 1 << UInt64(fields.count) }
                    if fields.count < 16 { kinds |= UInt64(mark.kind.rawValue) << UInt64(4 * fields.count) }
                }
                fields.append(field)
            }
        }
        return HPACKDecodedBlock(fields: fields, exceedsListSize: exceeded, listSize: listSize, checkedNames: checkedNames,
                                 checkedValues: checkedValues, kinds: kinds)
    }

    /// Decodes a byte array (the session's assembled blocks, tests and tools). In place: a copy
    /// of the decoder would share the table's arrays, and the next insertion would copy them.
    public mutating func decode(_ bytes: [UInt8]) throws(HPACKDecodingError) -> HPACKDecodedBlock {
        let result: Result<HPACKDecodedBlock, HPACKDecodingError> = bytes.withUnsafeBytes { raw in
            do throws(HPACKDecodingError) { return .success(try self.decode(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Static (1...61) or dynamic (62...) entry.
    private func entry(_ index: Int) throws(HPACKDecodingError) -> HPACKHeaderField {
        let staticCount = staticFields.count
        if index >= 1 && index <= staticCount { return staticFields[index - 1] }
        guard index > staticCount && index - staticCount <= table.count else { throw .invalidIndex(index) }
        return table[index - staticCount]
    }

    /// The mark of entry `index` (a valid index): a static entry's computed once (every static
    /// name and value passes the HTTP/2 rules), a dynamic entry's when it was inserted.
    private func mark(_ index: Int) -> HTTP2FieldMark {
        index <= staticMarks.count ? staticMarks[index - 1] : table.mark(at: index - staticMarks.count)
    }

    /// A literal field (nil when its name or value is longer than `maxString`: skipped, not kept)
    /// and its mark: the name valid when it came from an entry whose name is marked valid, the
    /// value as checked (once per recent literal, see `RecentLiterals`), and the name's entry's
    /// kind when both are valid (a kind is the name's: a pseudo-header's slot, or plain).
    private mutating func literal(_ block: UnsafeRawBufferPointer, _ offset: inout Int, prefixBits: Int,
                         maxString: Int) throws(HPACKDecodingError) -> (HPACKHeaderField?, HTTP2FieldMark) {
        let nameIndex = try integer(block, &offset, prefixBits: prefixBits)
        var nameMark = HTTP2FieldMark()
        let name: [UInt8]?
        var unused = false
        if nameIndex == 0 {
            name = try string(block, &offset, maxString, valueIsValid: &unused)
        } else {
            name = try entry(nameIndex).name
            nameMark = mark(nameIndex)
        }
        var valueIsValid = false
        let value = try string(block, &offset, maxString, valueIsValid: &valueIsValid)
        guard let name, let value else { return (nil, HTTP2FieldMark()) }
        return (HPACKHeaderField(name: name, value: value),
                HTTP2FieldMark(nameIsValid: nameMark.nameIsValid, valueIsValid: valueIsValid,
                               kind: valueIsValid ? nameMark.kind : .unmarked))
    }

    private func integer(_ block: UnsafeRawBufferPointer, _ offset: inout Int, prefixBits: Int) throws(HPACKDecodingError) -> Int {
        do { return try HPACKPrimitives.decodeInteger(block, offset: &offset, prefixBits: prefixBits) } catch { throw .primitive(error) }
    }

    /// nil for a string longer than `maxLength`: `offset` is past it (the primitive advances before
    /// it refuses), so the rest of the block still decodes and the dynamic table stays in sync.
    /// A string whose representation is one of the last few decoded is that one's array again.
    /// `valueIsValid`: set to whether the string passes the HTTP/2 value rule
    /// (`HTTP2HeaderValidator.isValidValue`), remembered with a recent literal.
    private mutating func string(_ block: UnsafeRawBufferPointer, _ offset: inout Int, _ maxLength: Int,
                                 valueIsValid: inout Bool) throws(HPACKDecodingError) -> [UInt8]? {
        let start = offset
        var end = offset
        // (Only while any remembered literal fits `maxLength`: a hit then returns what decoding would.)
        if maxLength >= RecentLiterals.maxRepresentationCount * 8 / 5,
           let length = try? HPACKPrimitives.decodeInteger(block, offset: &end, prefixBits: 7),
           length <= block.count - end, end + length - start <= RecentLiterals.maxRepresentationCount {
            end += length
            let representation = UnsafeRawBufferPointer(rebasing: block[start..<end])
            if let known = recentLiterals.decoded(representation) {
                offset = end
                valueIsValid = known.isValidValue
                return known.array
            }
            let decoded = try decodeString(block, &offset, maxLength)
            if let decoded {
                valueIsValid = HTTP2HeaderValidator.isValidValue(decoded)
                recentLiterals.remember(representation, decoded: decoded, isValidValue: valueIsValid)
            }
            return decoded
        }
        let decoded = try decodeString(block, &offset, maxLength)
        valueIsValid = decoded.map { HTTP2HeaderValidator.isValidValue($0) } ?? false
        return decoded
    }

    private func decodeString(_ block: UnsafeRawBufferPointer, _ offset: inout Int, _ maxLength: Int) throws(HPACKDecodingError) -> [UInt8]? {
        do { return try HPACKPrimitives.decodeString(block, offset: &offset, maxLength: maxLength) } catch {
            if case .stringTooLong = error { return nil }
            throw .primitive(error)
        }
    }
}

/// The last few string literals a decoder read (each one's whole representation: its length
/// prefix with the Huffman flag, and its bytes) and the array each became.
///
/// A client may send the same literal on every request: nghttp2's clients (curl, h2load) never
/// index `:path`, so a client asking for one resource again and again sends its Huffman code
/// each time. A repeat is the array made the first time: no Huffman decoding, no allocation,
/// and the same array, which the gateway's caches keyed by an array's identity then recognise.
/// The representation is compared byte for byte, so the array is the one its bytes decode to.
struct RecentLiterals: Sendable {
    static let slotCount = 4
    /// Longer literals are not kept (a cookie, a token): they rarely repeat and would pin memory.
    static let maxRepresentationCount = 128

    private var representations: [[UInt8]] = Array(repeating: [], count: slotCount)
    private var arrays: [[UInt8]] = Array(repeating: [], count: slotCount)
    /// Per slot: the array passes the HTTP/2 value rule (`HTTP2HeaderValidator.isValidValue`).
    private var valid: [Bool] = Array(repeating: false, count: slotCount)
    /// The slot the next literal replaces (round robin).
    private var next = 0

    /// The array of a literal with exactly that representation, if it is one of the last few.
    func decoded(_ representation: UnsafeRawBufferPointer) -> (array: [UInt8], isValidValue: Bool)? {
        guard let base = representation.baseAddress, !representation.isEmpty else { return nil }
        let slot: Int? = representations.withUnsafeBufferPointer { known in
            for i in 0..<Self.slotCount where known[i].count == representation.count {
                if known[i].withUnsafeBytes({ memcmp($0.baseAddress!, base, representation.count) == 0 }) { return i }
            }
            return nil
        }
        guard let slot else { return nil }
        return (arrays[slot], valid[slot])
    }

    mutating func remember(_ representation: UnsafeRawBufferPointer, decoded: [UInt8], isValidValue: Bool) {
        representations[next] = Array(representation)
        arrays[next] = decoded
        valid[next] = isValidValue
        next = (next + 1) % Self.slotCount
    }
}

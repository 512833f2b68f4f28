import Glibc

/// HPACK encoder (RFC 7541 §6) for the responses a server sends.
///
/// Exact matches (static, then dynamic) become one index; other fields are literals with
/// incremental indexing and the name indexed when known (static names first, as RFC 7541
/// Appendix C does), except fields marked `neverIndexed` (§7.1.3) and values too large to be
/// worth a table slot. Huffman coding is used whenever it is shorter.
public struct HPACKEncoder: Sendable {
    public private(set) var table: HPACKDynamicTable
    /// Our own cap on the table, whatever the peer allows (memory per connection).
    public let maxTableSizeCap: Int
    /// A size update owed to the peer at the start of the next block (§4.2, §6.3).
    private var pendingSizeUpdates: [Int] = []
    public var useHuffman: Bool
    /// The last field list whose block left the dynamic table as it was, and that block.
    private var repeated = RepeatedBlock()

    public init(maxTableSize: Int = 4096, useHuffman: Bool = true) {
        self.table = HPACKDynamicTable(maxSize: maxTableSize)
        self.maxTableSizeCap = maxTableSize
        self.useHuffman = useHuffman
    }

    /// Applies the peer's SETTINGS_HEADER_TABLE_SIZE (capped by `maxTableSizeCap`); the change is
    /// announced at the start of the next block, the smallest value first when it shrank and grew.
    public mutating func setPeerMaxTableSize(_ size: Int) {
        let newSize = min(size, maxTableSizeCap)
        guard newSize != table.maxSize || !pendingSizeUpdates.isEmpty else { return }
        if newSize < table.maxSize || pendingSizeUpdates.contains(where: { $0 < newSize }) {
            let smallest = min(newSize, pendingSizeUpdates.min() ?? newSize)
            pendingSizeUpdates = smallest == newSize ? [newSize] : [smallest, newSize]
        } else {
            pendingSizeUpdates = [newSize]
        }
        table.setMaxSize(newSize)
    }

    /// Appends the header block for `fields`.
    public mutating func encode(_ fields: [HPACKHeaderField], into out: inout [UInt8]) {
        appendSizeUpdates(into: &out)
        for field in fields {
            field.name.withUnsafeBufferPointer { name in
                field.value.withUnsafeBufferPointer { value in
                    encodeField(name: name, value: value, neverIndexed: field.neverIndexed, into: &out)
                }
            }
        }
    }

    /// Appends the header block of a response's field list: `:status`, then the fields, compared
    /// with the tables in place (nothing is allocated for a field the tables already hold).
    ///
    /// A list equal to the last one whose block changed nothing in the dynamic table (every field
    /// an index or a literal not indexed), with the table unchanged since, has that block again:
    /// the same static file answered on one connection costs a compare and a copy, not a search
    /// of both tables per field (callgrind: ~4k instructions per h2 static response).
    public mutating func encode(_ list: HTTP2FieldList, into out: inout [UInt8]) {
        if pendingSizeUpdates.isEmpty && repeated.matches(list, tableChanges: table.changeCount, huffman: useHuffman) {
            out.append(contentsOf: repeated.block)
            return
        }
        let hadSizeUpdates = !pendingSizeUpdates.isEmpty
        let changesBefore = table.changeCount
        let blockStart = out.count
        appendSizeUpdates(into: &out)
        if let index = HPACKStaticTable.statusIndex(list.status) {
            HPACKPrimitives.appendInteger(index, prefixBits: 7, flags: 0x80, into: &out)
        } else {
            HTTP2ResponseFields.statusName.withUnsafeBufferPointer { name in
                Array(String(list.status).utf8).withUnsafeBufferPointer { value in
                    encodeField(name: name, value: value, neverIndexed: false, into: &out)
                }
            }
        }
        list.bytes.withUnsafeBufferPointer { all in
            for span in list.spans {
                encodeField(name: UnsafeBufferPointer(rebasing: all[span.nameStart..<span.nameStart + span.nameCount]),
                            value: UnsafeBufferPointer(rebasing: all[span.valueStart..<span.valueStart + span.valueCount]),
                            neverIndexed: false, into: &out)
            }
        }
        if !hadSizeUpdates && table.changeCount == changesBefore {
            repeated.remember(list, block: out[blockStart...], tableChanges: changesBefore, huffman: useHuffman)
        } else {
            repeated.forget()
        }
    }

    private mutating func appendSizeUpdates(into out: inout [UInt8]) {
        for size in pendingSizeUpdates { HPACKPrimitives.appendInteger(size, prefixBits: 5, flags: 0x20, into: &out) }
        pendingSizeUpdates.removeAll()
    }

    private mutating func encodeField(name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>,
                                      neverIndexed: Bool, into out: inout [UInt8]) {
        let staticCount = HPACKStaticTable.fields.count
        let staticName = HPACKStaticTable.nameIndex(of: name)
        if !neverIndexed {
            if let s = staticName, let index = HPACKStaticTable.pairIndex(nameIndex: s, value: value) {
                HPACKPrimitives.appendInteger(index, prefixBits: 7, flags: 0x80, into: &out)
                return
            }
            if let index = table.index(name: name, value: value) {
                HPACKPrimitives.appendInteger(staticCount + index, prefixBits: 7, flags: 0x80, into: &out)
                return
            }
        }
        let nameIndex = staticName ?? table.index(ofName: name).map { staticCount + $0 } ?? 0
        let indexing = !neverIndexed && name.count + value.count + 32 <= table.maxSize / 2 + 32 + 1
        if indexing {
            HPACKPrimitives.appendInteger(nameIndex, prefixBits: 6, flags: 0x40, into: &out)
        } else {
            HPACKPrimitives.appendInteger(nameIndex, prefixBits: 4, flags: neverIndexed ? 0x10 : 0, into: &out)
        }
        if nameIndex == 0 { HPACKPrimitives.appendString(name, huffman: useHuffman, into: &out) }
        HPACKPrimitives.appendString(value, huffman: useHuffman, into: &out)
        if indexing { table.insert(HPACKHeaderField(name: Array(name), value: Array(value))) }
    }
}

/// A field list and the block it encoded to, with the dynamic table's `changeCount` then: the
/// block is only right again for an equal list and a table in that same state. The list is kept
/// as it came (its arrays shared, not copied): a caller that sends the same list value again (the
/// connection's last static-file head) is recognised by its arrays' identity, without comparing
/// a byte; another list is compared byte for byte.
struct RepeatedBlock: Sendable {
    private var list = HTTP2FieldList(status: -1, capacity: 0)
    private(set) var block: [UInt8] = []
    private var tableChanges = -1
    private var huffman = false

    func matches(_ other: HTTP2FieldList, tableChanges: Int, huffman: Bool) -> Bool {
        guard self.tableChanges == tableChanges, list.status == other.status, self.huffman == huffman else { return false }
        return Self.sameContents(list.bytes, other.bytes) && Self.sameContents(list.spans, other.spans)
    }

    mutating func remember(_ list: HTTP2FieldList, block encoded: ArraySlice<UInt8>, tableChanges: Int, huffman: Bool) {
        self.list = list
        block.removeAll(keepingCapacity: true)
        block.append(contentsOf: encoded)
        self.tableChanges = tableChanges
        self.huffman = huffman
    }

    mutating func forget() {
        tableChanges = -1
        list = HTTP2FieldList(status: -1, capacity: 0)
    }

    /// Equal arrays of plain values (bytes, spans of `Int`s): the same storage, or the same bytes.
    private static func sameContents<T>(_ a: [T], _ b: [T]) -> Bool {
        a.withUnsafeBytes { a in
            b.withUnsafeBytes { b in
                a.count == b.count && (a.count == 0 || a.baseAddress == b.baseAddress || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
            }
        }
    }
}

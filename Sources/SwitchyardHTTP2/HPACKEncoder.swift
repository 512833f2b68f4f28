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
    public mutating func encode(_ list: HTTP2FieldList, into out: inout [UInt8]) {
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

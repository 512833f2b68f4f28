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
        for size in pendingSizeUpdates { HPACKPrimitives.appendInteger(size, prefixBits: 5, flags: 0x20, into: &out) }
        pendingSizeUpdates.removeAll()
        for field in fields { encode(field, into: &out) }
    }

    private mutating func encode(_ field: HPACKHeaderField, into out: inout [UInt8]) {
        let name = field.nameString
        let staticCount = HPACKStaticTable.fields.count
        if !field.neverIndexed {
            if let index = HPACKStaticTable.pairIndex[name + "\u{0}" + field.valueString], HPACKStaticTable.fields[index - 1] == field {
                HPACKPrimitives.appendInteger(index, prefixBits: 7, flags: 0x80, into: &out)
                return
            }
            if let index = table.index(of: field) {
                HPACKPrimitives.appendInteger(staticCount + index, prefixBits: 7, flags: 0x80, into: &out)
                return
            }
        }
        let nameIndex = HPACKStaticTable.nameIndex[name] ?? table.index(ofName: field.name).map { staticCount + $0 } ?? 0
        let indexing = !field.neverIndexed && field.hpackSize <= table.maxSize / 2 + 32 + 1
        if indexing {
            HPACKPrimitives.appendInteger(nameIndex, prefixBits: 6, flags: 0x40, into: &out)
        } else {
            HPACKPrimitives.appendInteger(nameIndex, prefixBits: 4, flags: field.neverIndexed ? 0x10 : 0, into: &out)
        }
        if nameIndex == 0 { HPACKPrimitives.appendString(field.name, huffman: useHuffman, into: &out) }
        HPACKPrimitives.appendString(field.value, huffman: useHuffman, into: &out)
        if indexing { table.insert(field) }
    }
}

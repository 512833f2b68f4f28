/// The HPACK dynamic table (RFC 7541 §2.3.2, §4): newest entry first, bounded by a size in
/// RFC 7541 §4.1 units (name + value + 32), oldest entries evicted to make room.
///
/// Entries are stored oldest-first behind a moving start index, so evicting is O(1) and the
/// array is compacted only when the dead prefix outgrows the live part.
///
/// Each entry also has a `Key` (lengths and the value's last eight bytes) in a parallel array: the
/// encoder looks up every field of every response here, and comparing two words per entry rules
/// out nearly all of them (the Date values the table collects differ only near their end).
public struct HPACKDynamicTable: Sendable {
    private var storage: [HPACKHeaderField] = []
    private var keys: [Key] = []
    /// Per entry: what the decoder found out about it when it inserted it (`HTTP2FieldMark`: its
    /// name and its value pass the HTTP/2 rules, the kind of field it is), so a reference to it
    /// needs no second look.
    private var marks: [UInt8] = []
    private var start = 0
    /// Sum of the entries' sizes.
    public private(set) var size = 0
    /// Current maximum size (changed by dynamic table size updates, §6.3).
    public private(set) var maxSize: Int
    /// Counts every change of the entries or the maximum size: equal counts mean the same table
    /// (the encoder reuses a block only for the table it was encoded against).
    public private(set) var changeCount = 0

    public init(maxSize: Int) {
        self.maxSize = maxSize
    }

    public var count: Int { storage.count - start }

    /// Entry `index` (1 = newest).
    public subscript(index: Int) -> HPACKHeaderField {
        storage[storage.count - index]
    }

    /// Changes the maximum size, evicting what no longer fits.
    public mutating func setMaxSize(_ newValue: Int) {
        maxSize = newValue
        changeCount &+= 1
        evict(toFit: 0)
    }

    /// Empties the table (an entry larger than the table was added, §4.4).
    public mutating func removeAll() {
        changeCount &+= 1
        storage.removeAll(keepingCapacity: true)
        keys.removeAll(keepingCapacity: true)
        marks.removeAll(keepingCapacity: true)
        start = 0
        size = 0
    }

    /// Adds `field` as the newest entry (§4.4): an entry larger than the table empties it and is not added.
    /// `mark`: what the decoder found out about the field (`HTTP2FieldMark`; see `mark(at:)`).
    public mutating func insert(_ field: HPACKHeaderField, mark: HTTP2FieldMark = HTTP2FieldMark()) {
        changeCount &+= 1
        let entrySize = field.hpackSize
        guard entrySize <= maxSize else {
            removeAll()
            return
        }
        evict(toFit: entrySize)
        var stored = field
        stored.neverIndexed = false
        storage.append(stored)
        keys.append(stored.name.withUnsafeBufferPointer { n in stored.value.withUnsafeBufferPointer { Key(name: n, value: $0) } })
        marks.append(mark.rawValue)
        size += entrySize
    }

    /// The mark entry `index` (1 = newest) was inserted with.
    public func mark(at index: Int) -> HTTP2FieldMark {
        HTTP2FieldMark(rawValue: marks[marks.count - index])
    }

    /// Whether entry `index` (1 = newest) was inserted with its name marked valid.
    public func nameIsValid(at index: Int) -> Bool { mark(at: index).nameIsValid }

    /// Whether entry `index` (1 = newest) was inserted with its value marked valid.
    public func valueIsValid(at index: Int) -> Bool { mark(at: index).valueIsValid }

    /// The newest index holding exactly `field` (name and value), or nil.
    public func index(of field: HPACKHeaderField) -> Int? {
        field.name.withUnsafeBufferPointer { name in field.value.withUnsafeBufferPointer { value in index(name: name, value: value) } }
    }

    /// The newest index holding exactly that name and value, or nil (compared in place).
    public func index(name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) -> Int? {
        let key = Key(name: name, value: value)
        // Entries read through buffer pointers: in place, without a retain and release of each.
        return keys.withUnsafeBufferPointer { keys in
            storage.withUnsafeBufferPointer { storage in
                var i = keys.count - 1
                while i >= start {
                    if keys[i] == key && HPACKStaticTable.equalBytes(storage[i].value, value)
                        && HPACKStaticTable.equalBytes(storage[i].name, name) {
                        return keys.count - i
                    }
                    i -= 1
                }
                return nil
            }
        }
    }

    /// Both lengths and the last (up to) eight bytes of the value: equal for equal fields.
    struct Key: Equatable, Sendable {
        var lengths: UInt64
        var tail: UInt64

        init(name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) {
            lengths = UInt64(name.count) << 32 | UInt64(value.count)
            var tail: UInt64 = 0
            var i = max(0, value.count - 8)
            while i < value.count {
                tail = tail << 8 | UInt64(value[i])
                i += 1
            }
            self.tail = tail
        }
    }

    /// The newest index with that name, or nil.
    public func index(ofName name: [UInt8]) -> Int? {
        name.withUnsafeBufferPointer { index(ofName: $0) }
    }

    public func index(ofName name: UnsafeBufferPointer<UInt8>) -> Int? {
        storage.withUnsafeBufferPointer { storage in
            var i = storage.count - 1
            while i >= start {
                if HPACKStaticTable.equalBytes(storage[i].name, name) { return storage.count - i }
                i -= 1
            }
            return nil
        }
    }

    private mutating func evict(toFit incoming: Int) {
        while size + incoming > maxSize && start < storage.count {
            size -= storage[start].hpackSize
            start += 1
        }
        if start > 32 && start * 2 > storage.count {
            storage.removeFirst(start)
            keys.removeFirst(start)
            marks.removeFirst(start)
            start = 0
        }
    }
}

/// RFC 9113 §8.2 and §8.3 checks on a decoded header list. A failure is a malformed request:
/// a stream error of type PROTOCOL_ERROR (§8.1.1).
///
/// Every check reads the decoded bytes in place: a request is validated without a String, a
/// copy of a field or a second list (the head keeps the list and where its pseudo-headers are).
public enum HTTP2HeaderValidator {
    static let pseudoNames: [[UInt8]] = [":method", ":scheme", ":authority", ":path", ":protocol"].map { Array($0.utf8) }

    /// Validates a request header block and takes its pseudo-header fields apart. `checkedNames`:
    /// the decoder's bits for the names known valid already (`HPACKDecodedBlock.checkedNames`);
    /// `checkedValues` the same for values; `kinds` the decoder's kinds of the first 16 fields
    /// (`HPACKDecodedBlock.kinds`): a field of a known kind is taken on it, its bytes not read.
    public static func request(_ list: [HPACKHeaderField], streamID: UInt32, connectProtocolEnabled: Bool,
                               checkedNames: UInt64 = 0, checkedValues: UInt64 = 0,
                               kinds: UInt64 = 0) throws(HTTP2Error) -> HTTP2RequestHead {
        var scan = Scan()
        // Through a buffer pointer: each field is read in place. A field passed to `note` is still
        // copied for the call (two retains, two releases): the kinds spare most fields that.
        let failure: HTTP2Error? = list.withUnsafeBufferPointer { fields in
            for i in fields.indices {
                if i < 16 {
                    let kind = HTTP2FieldMark.kind(in: kinds, at: i)
                    if kind == .plain {
                        if scan.regularStart < 0 { scan.regularStart = i }
                        continue
                    }
                    if let slot = kind.pseudoSlot {
                        if let misplaced = scan.placePseudo(slot, at: i) {
                            return misplaced.error(fields[i].nameString, streamID: streamID)
                        }
                        continue
                    }
                }
                let nameChecked = i < 64 && checkedNames >> UInt64(i) & 1 != 0
                let valueChecked = i < 64 && checkedValues >> UInt64(i) & 1 != 0
                if let error = scan.note(fields[i], at: i, streamID: streamID, nameChecked: nameChecked,
                                         valueChecked: valueChecked) { return error }
            }
            return nil
        }
        if let failure { throw failure }
        let head = HTTP2RequestHead(list: list, regularStart: scan.regularStart < 0 ? list.count : scan.regularStart,
                                    slots: scan.slots, contentLength: scan.contentLength)
        guard scan.slots.0 >= 0 else { throw malformed(streamID, "no :method") }
        if scan.hostIndex >= 0, let authority = head.authority {
            let host = list[scan.hostIndex].valueString
            if !sameAuthority(authority, host, scheme: head.scheme) {
                // §8.3.1 (a SHOULD): the gateway routes on Host, a cache or a log may key on :authority;
                // two different names for one request is how requests get smuggled past vhost rules.
                throw malformed(streamID, "host \(host) differs from :authority \(authority)")
            }
        }
        try checkPseudo(head, streamID: streamID, connectProtocolEnabled: connectProtocolEnabled)
        return head
    }

    /// What the pass over the fields found: pseudo-header positions, where the regular fields
    /// start, the declared length, the first `host`.
    struct Scan {
        var slots: (Int32, Int32, Int32, Int32, Int32) = (-1, -1, -1, -1, -1)
        var regularStart = -1
        var contentLength: Int?
        var hostIndex = -1

        /// A pseudo-header field for `slot` at `i`: nil, or why it may not be there (§8.3).
        mutating func placePseudo(_ slot: Int, at i: Int) -> Misplaced? {
            guard regularStart < 0 else { return .afterRegular }
            guard HTTP2RequestHead.get(slots, slot) < 0 else { return .duplicate }
            HTTP2RequestHead.set(&slots, slot, Int32(i))
            return nil
        }

        mutating func note(_ field: HPACKHeaderField, at i: Int, streamID: UInt32, nameChecked: Bool = false,
                           valueChecked: Bool = false) -> HTTP2Error? {
            do throws(HTTP2Error) {
                if !(nameChecked && valueChecked) {
                    try HTTP2HeaderValidator.checkField(field, streamID: streamID, nameChecked: nameChecked, valueChecked: valueChecked)
                }
                if field.name.first == UInt8(ascii: ":") {
                    guard regularStart < 0 else { throw Misplaced.afterRegular.error(field.nameString, streamID: streamID) }
                    guard let slot = HTTP2HeaderValidator.pseudoSlot(field.name) else {
                        throw HTTP2HeaderValidator.malformed(streamID, "pseudo-header \(field.nameString) in a request")
                    }
                    if let misplaced = placePseudo(slot, at: i) { throw misplaced.error(field.nameString, streamID: streamID) }
                    return nil
                }
                if regularStart < 0 { regularStart = i }
                try HTTP2HeaderValidator.checkRegular(field, streamID: streamID)
                if hostIndex < 0 && HTTP2HeaderValidator.equals(field.name, "host") {
                    hostIndex = i
                } else if HTTP2HeaderValidator.equals(field.name, "content-length") {
                    // 1*DIGIT (RFC 9110 §8.6): no sign, no spaces, and short enough for an Int.
                    guard let value = HTTP2HeaderValidator.digits(field.value), contentLength == nil || contentLength == value else {
                        throw HTTP2HeaderValidator.malformed(streamID, "content-length \(field.valueString)")
                    }
                    contentLength = value
                }
                return nil
            } catch {
                return error
            }
        }
    }

    /// What is wrong with where a pseudo-header field is.
    enum Misplaced {
        case afterRegular, duplicate

        func error(_ name: String, streamID: UInt32) -> HTTP2Error {
            switch self {
            case .afterRegular: return HTTP2HeaderValidator.malformed(streamID, "pseudo-header \(name) after a regular field")
            case .duplicate: return HTTP2HeaderValidator.malformed(streamID, "duplicate \(name)")
            }
        }
    }

    /// The §8.2.1 rules and the kind of a field (`HTTP2FieldMark`), worked out once for a table
    /// entry. `nameKnownValid`: the name came from an entry whose name is marked valid.
    static func mark(_ field: HPACKHeaderField, nameKnownValid: Bool) -> HTTP2FieldMark {
        let nameValid = nameKnownValid || isValidName(field.name)
        let valueValid = isValidValue(field.value)
        var kind = HTTP2FieldMark.Kind.unmarked
        if nameValid && valueValid {
            if field.name.first == UInt8(ascii: ":") {
                if let slot = pseudoSlot(field.name) { kind = HTTP2FieldMark.Kind(pseudoSlot: slot) }
            } else if !isConnectionSpecific(field.name) && !equals(field.name, "te") && !equals(field.name, "host")
                        && !equals(field.name, "content-length") {
                // Any other regular field: nothing about it but its place (the fields above are
                // refused, compared or counted, and always read).
                kind = .plain
            }
        }
        return HTTP2FieldMark(nameIsValid: nameValid, valueIsValid: valueValid, kind: kind)
    }

    /// A pseudo-header's slot (see `HTTP2RequestHead.Pseudo`), by length first.
    static func pseudoSlot(_ name: [UInt8]) -> Int? {
        switch name.count {
        case 5: return equals(name, ":path") ? 3 : nil
        case 7: return equals(name, ":method") ? 0 : equals(name, ":scheme") ? 1 : nil
        case 9: return equals(name, ":protocol") ? 4 : nil
        case 10: return equals(name, ":authority") ? 2 : nil
        default: return nil
        }
    }

    /// Byte equality with a literal, without an array for the literal.
    @inline(__always)
    static func equals(_ bytes: [UInt8], _ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard bytes.count == count else { return false }
        return bytes.withUnsafeBufferPointer { buffer in
            for i in 0..<count where buffer[i] != literal.utf8Start[i] { return false }
            return true
        }
    }

    /// The value of 1 to 18 ASCII digits; nil for anything else.
    static func digits(_ value: [UInt8]) -> Int? {
        guard !value.isEmpty, value.count <= 18 else { return nil }
        var n = 0
        for byte in value {
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            n = n * 10 + Int(byte - 0x30)
        }
        return n
    }


    /// RFC 3986 §6.2.2/6.2.3 comparison: case-insensitive, a scheme's default port ignored.
    static func sameAuthority(_ a: String, _ b: String, scheme: String?) -> Bool {
        func normalized(_ s: String) -> String {
            let lower = s.lowercased()
            let defaultPort = scheme == "https" ? ":443" : scheme == "http" ? ":80" : nil
            if let port = defaultPort, lower.hasSuffix(port) { return String(lower.dropLast(port.count)) }
            return lower
        }
        return normalized(a) == normalized(b)
    }

    /// Trailers: regular fields only (§8.1).
    public static func trailers(_ list: [HPACKHeaderField], streamID: UInt32) throws(HTTP2Error) {
        for field in list {
            try checkField(field, streamID: streamID)
            guard field.name.first != UInt8(ascii: ":") else { throw malformed(streamID, "pseudo-header in trailers") }
            try checkRegular(field, streamID: streamID)
        }
    }

    private static func checkPseudo(_ head: HTTP2RequestHead, streamID: UInt32, connectProtocolEnabled: Bool) throws(HTTP2Error) {
        if head.isPlainOriginFormRequest { return }
        let scheme = head.pseudo(.scheme), path = head.pseudo(.path), authority = head.pseudo(.authority)
        if head.methodIs("CONNECT") {
            if let proto = head.pseudo(.protocol) {
                // RFC 8441 §4: extended CONNECT carries all of :scheme, :path, :authority.
                guard connectProtocolEnabled else { throw malformed(streamID, ":protocol without SETTINGS_ENABLE_CONNECT_PROTOCOL") }
                guard !proto.isEmpty, scheme != nil, let path, !path.isEmpty, authority != nil else {
                    throw malformed(streamID, "extended CONNECT without :scheme, :path and :authority")
                }
            } else {
                // §8.5: plain CONNECT has only :method and :authority.
                guard scheme == nil, path == nil, let authority, !authority.isEmpty else {
                    throw malformed(streamID, "CONNECT must carry :authority and neither :scheme nor :path")
                }
            }
            return
        }
        guard !head.isExtendedConnect else { throw malformed(streamID, ":protocol on a \(head.method) request") }
        guard let scheme, !scheme.isEmpty else { throw malformed(streamID, "no :scheme") }
        guard let path, !path.isEmpty else { throw malformed(streamID, "no :path or an empty one") }
        guard !isOriginForm(path) else { return }
        guard (path == asterisk && head.methodIs("OPTIONS")) || (scheme != httpName && scheme != httpsName) else {
            throw malformed(streamID, ":path \(head.path ?? "") is not origin-form")
        }
    }

    /// Starts with "/" as a character: a combining mark after the slash makes another first
    /// character (the String rule this replaces), so a non-ASCII second byte asks the String.
    private static func isOriginForm(_ path: [UInt8]) -> Bool {
        guard path[0] == UInt8(ascii: "/") else { return false }
        if path.count == 1 || path[1] < 0x80 { return true }
        return String(decoding: path, as: UTF8.self).first == "/"
    }

    static let asterisk = Array("*".utf8)
    static let httpName = Array("http".utf8)
    static let httpsName = Array("https".utf8)

    /// §8.2.1: lowercase token names, values without NUL/CR/LF or surrounding whitespace.
    /// `nameChecked`, `valueChecked`: the decoder took the name, the value from a table entry whose
    /// name, value is known valid (most of a request's): it is not read again.
    private static func checkField(_ field: HPACKHeaderField, streamID: UInt32, nameChecked: Bool = false,
                                   valueChecked: Bool = false) throws(HTTP2Error) {
        guard !field.name.isEmpty else { throw malformed(streamID, "empty field name") }
        if !nameChecked {
            for (i, byte) in field.name.enumerated() where !(i == 0 && byte == UInt8(ascii: ":")) {
                guard isLowercaseTokenByte(byte) else { throw malformed(streamID, "invalid byte 0x\(String(byte, radix: 16)) in a field name") }
            }
        }
        if valueChecked { return }
        if containsNulCROrLF(field.value) {
            throw malformed(streamID, "NUL, CR or LF in the value of \(field.nameString)")
        }
        if hasSurroundingWhitespace(field.value) {
            throw malformed(streamID, "whitespace around the value of \(field.nameString)")
        }
    }

    /// The §8.2.1 value rule `checkField` applies: no NUL, CR or LF, no SP or HTAB first or last.
    /// The HPACK decoder notes it per dynamic-table entry.
    static func isValidValue(_ value: [UInt8]) -> Bool {
        !containsNulCROrLF(value) && !hasSurroundingWhitespace(value)
    }

    @inline(__always)
    static func hasSurroundingWhitespace(_ value: [UInt8]) -> Bool {
        guard let first = value.first, let last = value.last else { return false }
        return first == 0x20 || first == 0x09 || last == 0x20 || last == 0x09
    }

    /// The §8.2.1 name rule `checkField` applies: not empty, lowercase token bytes, a colon
    /// allowed first (a pseudo-header's). The HPACK decoder notes it per dynamic-table entry.
    static func isValidName(_ name: [UInt8]) -> Bool {
        guard !name.isEmpty else { return false }
        for (i, byte) in name.enumerated() where !(i == 0 && byte == UInt8(ascii: ":")) {
            guard isLowercaseTokenByte(byte) else { return false }
        }
        return true
    }

    /// Whether `value` holds a NUL, CR or LF byte: eight bytes at a time (a word holds one of them
    /// when the word XORed with that byte repeated has a zero byte; the zero-byte test is exact),
    /// the rest one by one. Every byte of every request value passes here: a browser's
    /// user-agent, accept and cookie values are some hundreds of bytes.
    static func containsNulCROrLF(_ value: [UInt8]) -> Bool {
        value.withUnsafeBytes { raw in
            let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
            var i = 0
            while i + 8 <= raw.count {
                let word = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                let lf = word ^ (ones &* 0x0a), cr = word ^ (ones &* 0x0d)
                if ((word &- ones) & ~word | (lf &- ones) & ~lf | (cr &- ones) & ~cr) & highs != 0 { return true }
                i += 8
            }
            while i < raw.count {
                let byte = raw[i]
                if byte == 0 || byte == 0x0a || byte == 0x0d { return true }
                i += 1
            }
            return false
        }
    }

    private static func checkRegular(_ field: HPACKHeaderField, streamID: UInt32) throws(HTTP2Error) {
        if isConnectionSpecific(field.name) { throw malformed(streamID, "connection-specific field \(field.nameString)") }
        if equals(field.name, "te") && !equals(field.value, "trailers") {
            throw malformed(streamID, "te: \(field.valueString)")
        }
    }

    /// Connection-specific fields, forbidden in HTTP/2 (§8.2.2), found by length first.
    static func isConnectionSpecific(_ name: [UInt8]) -> Bool {
        switch name.count {
        case 7: return equals(name, "upgrade")
        case 10: return equals(name, "connection") || equals(name, "keep-alive")
        case 16: return equals(name, "proxy-connection")
        case 17: return equals(name, "transfer-encoding")
        default: return false
        }
    }


    /// RFC 9110 token characters, uppercase letters excluded (§8.2: names are lowercase in HTTP/2).
    @inline(__always)
    static func isLowercaseTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): return true
        default: return false
        }
    }

    static func malformed(_ streamID: UInt32, _ reason: String) -> HTTP2Error {
        .stream(streamID, .protocolError, "malformed request: \(reason)")
    }
}

/// What the HPACK decoder found out about a field when it entered a table (a dynamic entry's when
/// inserted, a static entry's once), so that a reference to the entry is not read again: whether
/// its name and its value pass the RFC 9113 §8.2.1 rules, and its kind. One byte per entry.
public struct HTTP2FieldMark: Equatable, Sendable {
    public var rawValue: UInt8

    /// What a field is, as far as the request validator is concerned: set only when the name
    /// and the value are valid. `unmarked`: the validator reads the field (a new one, or a field
    /// it must compare or refuse: host, content-length, te, the connection-specific ones).
    public enum Kind: UInt8, Sendable {
        case unmarked = 0
        /// A regular field the validator only places.
        case plain = 1
        /// The pseudo-header fields, in `HTTP2RequestHead.Pseudo` order.
        case method = 2, scheme, authority, path, `protocol`

        init(pseudoSlot slot: Int) { self = Kind(rawValue: UInt8(2 + slot)) ?? .unmarked }

        /// The `HTTP2RequestHead.Pseudo` slot of a pseudo-header kind.
        var pseudoSlot: Int? { rawValue >= 2 ? Int(rawValue) - 2 : nil }
    }

    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public init(nameIsValid: Bool = false, valueIsValid: Bool = false, kind: Kind = .unmarked) {
        rawValue = (nameIsValid ? 0x10 : 0) | (valueIsValid ? 0x20 : 0) | kind.rawValue
    }

    public var nameIsValid: Bool { rawValue & 0x10 != 0 }
    public var valueIsValid: Bool { rawValue & 0x20 != 0 }
    public var kind: Kind { Kind(rawValue: rawValue & 0x0f) ?? .unmarked }

    /// Field `i`'s kind in `HPACKDecodedBlock.kinds` (four bits a field, the first 16 fields).
    @inline(__always)
    static func kind(in kinds: UInt64, at i: Int) -> Kind {
        Kind(rawValue: UInt8(truncatingIfNeeded: kinds >> UInt64(4 * i)) & 0x0f) ?? .unmarked
    }
}

/// A validated HTTP/2 request head (RFC 9113 §8.3.1), the pseudo-header fields taken apart.
///
/// It keeps the decoded header list as it arrived (pseudo-header fields first, as §8.3 demands)
/// and the positions of the pseudo-header fields in it: taking a request apart costs no copy of a
/// field and no String. The strings below are made when asked for (tests, error messages); the
/// gateway reads the bytes (`pseudo(_:)`, `regularFields`).
public struct HTTP2RequestHead: Equatable, Sendable {
    /// The pseudo-header fields a request may carry, by slot.
    public enum Pseudo: Int, Sendable, CaseIterable {
        case method = 0, scheme, authority, path, `protocol`
    }

    /// The header list as decoded: pseudo-header fields, then the regular fields from `regularStart`.
    public private(set) var list: [HPACKHeaderField]
    public private(set) var regularStart: Int
    /// Index in `list` of each `Pseudo` slot; -1 when absent.
    private var slots: (Int32, Int32, Int32, Int32, Int32)
    /// The content-length the request declared, if any (checked against the DATA received).
    public var contentLength: Int?

    /// The validator's way in: `slots` index `list`, whose regular fields start at `regularStart`.
    init(list: [HPACKHeaderField], regularStart: Int, slots: (Int32, Int32, Int32, Int32, Int32), contentLength: Int?) {
        self.list = list
        self.regularStart = regularStart
        self.slots = slots
        self.contentLength = contentLength
    }

    public init(method: String, scheme: String?, authority: String?, path: String?, connectProtocol: String? = nil,
                fields: [HPACKHeaderField] = [], contentLength: Int? = nil) {
        var list: [HPACKHeaderField] = []
        var slots: (Int32, Int32, Int32, Int32, Int32) = (-1, -1, -1, -1, -1)
        for (slot, value) in [method, scheme, authority, path, connectProtocol].enumerated() {
            guard let value else { continue }
            Self.set(&slots, slot, Int32(list.count))
            list.append(HPACKHeaderField(name: HTTP2HeaderValidator.pseudoNames[slot], value: Array(value.utf8)))
        }
        let start = list.count
        self.init(list: list + fields, regularStart: start, slots: slots, contentLength: contentLength)
    }

    /// The value of a pseudo-header field, nil when the request has none.
    public func pseudo(_ which: Pseudo) -> [UInt8]? {
        let index = Self.get(slots, which.rawValue)
        return index < 0 ? nil : list[Int(index)].value
    }

    public var method: String { pseudoString(.method) ?? "" }
    /// nil for plain CONNECT.
    public var scheme: String? { pseudoString(.scheme) }
    public var authority: String? { pseudoString(.authority) }
    /// nil for plain CONNECT.
    public var path: String? { pseudoString(.path) }
    /// RFC 8441 `:protocol` (e.g. "websocket"): set only for extended CONNECT.
    public var connectProtocol: String? { pseudoString(.protocol) }

    /// The regular fields in order (names lowercase), in place.
    public var regularFields: ArraySlice<HPACKHeaderField> { list[regularStart...] }
    /// The regular fields as an array (tests).
    public var fields: [HPACKHeaderField] { Array(regularFields) }

    /// An extended CONNECT (RFC 8441 §4): the stream is a tunnel for `connectProtocol`.
    public var isExtendedConnect: Bool { Self.get(slots, Pseudo.protocol.rawValue) >= 0 }

    /// Whether `:method` is exactly `method` (no String made).
    public func methodIs(_ method: StaticString) -> Bool {
        guard let bytes = pseudo(.method), bytes.count == method.utf8CodeUnitCount else { return false }
        return bytes.withUnsafeBytes { $0.elementsEqual(UnsafeRawBufferPointer(start: method.utf8Start, count: bytes.count)) }
    }

    /// The usual request, checked in place (no copy of a pseudo-header's bytes): not CONNECT, no
    /// `:protocol`, a non-empty `:scheme` and a `:path` that is origin-form by its first two bytes
    /// (a slash, then the end or an ASCII byte). Anything else takes the validator's full checks.
    var isPlainOriginFormRequest: Bool {
        let method = Self.get(slots, Pseudo.method.rawValue), scheme = Self.get(slots, Pseudo.scheme.rawValue)
        let path = Self.get(slots, Pseudo.path.rawValue)
        guard method >= 0, scheme >= 0, path >= 0, Self.get(slots, Pseudo.protocol.rawValue) < 0 else { return false }
        return list.withUnsafeBufferPointer { fields in
            let m = fields[Int(method)].value, p = fields[Int(path)].value
            return !(m.count == 7 && HTTP2HeaderValidator.equals(m, "CONNECT")) && !fields[Int(scheme)].value.isEmpty
                && !p.isEmpty && p[0] == UInt8(ascii: "/") && (p.count == 1 || p[1] < 0x80)
        }
    }

    private func pseudoString(_ which: Pseudo) -> String? {
        pseudo(which).map { String(decoding: $0, as: UTF8.self) }
    }

    public static func == (a: HTTP2RequestHead, b: HTTP2RequestHead) -> Bool {
        Pseudo.allCases.allSatisfy { a.pseudo($0) == b.pseudo($0) } && a.regularFields.elementsEqual(b.regularFields)
            && a.contentLength == b.contentLength
    }

    /// The fields as an HTTP/1.1 gateway wants them: `host` from `:authority` when the request has
    /// no Host field (RFC 9113 §8.3.1), cookie crumbs joined with "; " into one field at the place of
    /// the first (§8.2.3), everything else in order. Values are bytes (any octet but NUL/CR/LF).
    public func http1Fields() -> [(name: [UInt8], value: [UInt8])] {
        let host = Array("host".utf8), cookie = Array("cookie".utf8)
        var out: [(name: [UInt8], value: [UInt8])] = []
        out.reserveCapacity(list.count - regularStart + 1)
        if let authority = pseudo(.authority), !regularFields.contains(where: { $0.name == host }) { out.append((host, authority)) }
        var cookieIndex: Int?
        for field in regularFields {
            if field.name == cookie, let index = cookieIndex {
                out[index].value += Array("; ".utf8) + field.value
                continue
            }
            if field.name == cookie { cookieIndex = out.count }
            out.append((field.name, field.value))
        }
        return out
    }

    /// Value of the first regular field named `name` (lowercase).
    public func first(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        return regularFields.first { $0.name == bytes }?.valueString
    }

    static func get(_ slots: (Int32, Int32, Int32, Int32, Int32), _ slot: Int) -> Int32 {
        switch slot {
        case 0: return slots.0
        case 1: return slots.1
        case 2: return slots.2
        case 3: return slots.3
        default: return slots.4
        }
    }

    static func set(_ slots: inout (Int32, Int32, Int32, Int32, Int32), _ slot: Int, _ value: Int32) {
        switch slot {
        case 0: slots.0 = value
        case 1: slots.1 = value
        case 2: slots.2 = value
        case 3: slots.3 = value
        default: slots.4 = value
        }
    }
}

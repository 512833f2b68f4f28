/// Reads the one-line JSON object `switchyard-bench --json` prints: a flat object whose values are
/// numbers, strings, booleans, null or arrays of strings. Values come back as their text (strings
/// unescaped, arrays as their raw text); enough for the comparison driver, no Foundation needed.
public enum FlatJSON {
    public static func parse(_ text: String) -> [String: String]? {
        let s = Array(text.utf8)
        var i = 0
        var out: [String: String] = [:]
        func skipSpace() { while i < s.count, s[i] == 0x20 || s[i] == 0x0A || s[i] == 0x0D || s[i] == 0x09 { i += 1 } }
        func string() -> String? {
            guard i < s.count, s[i] == UInt8(ascii: "\"") else { return nil }
            i += 1
            var bytes: [UInt8] = []
            while i < s.count {
                let c = s[i]
                i += 1
                if c == UInt8(ascii: "\"") { return String(decoding: bytes, as: UTF8.self) }
                if c == UInt8(ascii: "\\") {
                    guard i < s.count else { return nil }
                    let e = s[i]
                    i += 1
                    switch e {
                    case UInt8(ascii: "n"): bytes.append(0x0A)
                    case UInt8(ascii: "r"): bytes.append(0x0D)
                    case UInt8(ascii: "t"): bytes.append(0x09)
                    case UInt8(ascii: "u"):
                        guard i + 4 <= s.count, let v = UInt32(String(decoding: s[i..<(i + 4)], as: UTF8.self), radix: 16),
                              let scalar = Unicode.Scalar(v) else { return nil }
                        bytes.append(contentsOf: Array(String(Character(scalar)).utf8))
                        i += 4
                    default: bytes.append(e)
                    }
                } else {
                    bytes.append(c)
                }
            }
            return nil
        }
        skipSpace()
        guard i < s.count, s[i] == UInt8(ascii: "{") else { return nil }
        i += 1
        skipSpace()
        if i < s.count, s[i] == UInt8(ascii: "}") { return out }
        while true {
            skipSpace()
            guard let key = string() else { return nil }
            skipSpace()
            guard i < s.count, s[i] == UInt8(ascii: ":") else { return nil }
            i += 1
            skipSpace()
            guard i < s.count else { return nil }
            if s[i] == UInt8(ascii: "\"") {
                guard let v = string() else { return nil }
                out[key] = v
            } else {
                let start = i
                var depth = 0
                var inString = false
                while i < s.count {
                    let c = s[i]
                    if inString {
                        if c == UInt8(ascii: "\\") { i += 1 } else if c == UInt8(ascii: "\"") { inString = false }
                    } else if c == UInt8(ascii: "\"") {
                        inString = true
                    } else if c == UInt8(ascii: "[") {
                        depth += 1
                    } else if c == UInt8(ascii: "]") {
                        depth -= 1
                    } else if depth == 0 && (c == UInt8(ascii: ",") || c == UInt8(ascii: "}")) {
                        break
                    }
                    i += 1
                }
                var raw = String(decoding: s[start..<min(i, s.count)], as: UTF8.self)
                while raw.last == " " { raw.removeLast() }
                guard !raw.isEmpty else { return nil }
                out[key] = raw
            }
            skipSpace()
            guard i < s.count else { return nil }
            if s[i] == UInt8(ascii: ",") { i += 1; continue }
            if s[i] == UInt8(ascii: "}") { return out }
            return nil
        }
    }
}

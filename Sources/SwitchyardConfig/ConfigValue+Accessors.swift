/// Typed views for consumers. They are deliberately lenient in the same directions lighttpd is:
/// a number may be written as a string (`"port" => "8081"`) and a boolean as `"enable"`, `1` or `"true"`.
extension ConfigValue {
    /// The string, or an integer rendered in decimal; `nil` for arrays.
    public var stringValue: String? {
        switch self {
        case .string(let s): return s
        case .integer(let i): return String(i)
        case .array: return nil
        }
    }

    /// The integer, or a string consisting of an optional `-` and decimal digits.
    public var intValue: Int? {
        switch self {
        case .integer(let i): return i
        case .string(let s): return Int(s)
        case .array: return nil
        }
    }

    /// `"enable"`/`"true"`/`"1"`/non-zero integer → `true`; `"disable"`/`"false"`/`"0"`/`0` → `false`
    /// (strings compared case-insensitively); anything else `nil`.
    public var boolValue: Bool? {
        switch self {
        case .integer(let i): return i != 0
        case .string(let s):
            switch s.lowercased() {
            case "enable", "true", "1": return true
            case "disable", "false", "0": return false
            default: return nil
            }
        case .array: return nil
        }
    }

    /// The elements of an array value; `nil` for scalars.
    public var arrayElements: [ConfigArrayElement]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    /// The scalar values of an array (keys ignored, integers rendered in decimal), or a one-element list
    /// for a lone string (lighttpd accepts `server.indexfiles = "index.html"`). `nil` if any element is
    /// itself an array.
    public var stringList: [String]? {
        switch self {
        case .string(let s): return [s]
        case .integer(let i): return [String(i)]
        case .array(let elements):
            var result: [String] = []
            result.reserveCapacity(elements.count)
            for element in elements {
                guard let s = element.value.stringValue else { return nil }
                result.append(s)
            }
            return result
        }
    }

    /// Keyed lookup in an array value (keys are unique within one array); `nil` for scalars or a missing key.
    public subscript(key: String) -> ConfigValue? {
        guard case .array(let elements) = self else { return nil }
        for element in elements where element.key == key {
            return element.value
        }
        return nil
    }

    /// Keys of a keyed array in document order (unkeyed elements skipped).
    public var arrayKeys: [String] {
        arrayElements?.compactMap(\.key) ?? []
    }
}

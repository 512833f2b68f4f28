/// lighttpd's `+` operator (and `+=`): strings concatenate, integers add, arrays append. Mixed
/// string/integer concatenates the decimal form, as lighttpd does. Appending a scalar to an array adds
/// it as an unkeyed element (lighttpd rejects that; accepting it is harmless).
extension ConfigValue {
    /// `self + other`, or a message explaining why the two cannot be combined. Results over
    /// `ConfigLimits.maxStringBytes` / `maxArrayElements` are refused (operands are within them, so
    /// the refused result costs at most twice the limit).
    func combined(with other: ConfigValue) -> Result<ConfigValue, CombineFailure> {
        let result = sum(with: other)
        switch result {
        case .success(.string(let s)) where s.utf8.count > ConfigLimits.maxStringBytes:
            return .failure(CombineFailure(message: "string longer than \(ConfigLimits.maxStringBytes) bytes"))
        case .success(.array(let a)) where a.count > ConfigLimits.maxArrayElements:
            return .failure(CombineFailure(message: "array with more than \(ConfigLimits.maxArrayElements) elements"))
        default:
            return result
        }
    }

    private func sum(with other: ConfigValue) -> Result<ConfigValue, CombineFailure> {
        switch (self, other) {
        case (.string(let a), .string(let b)): return .success(.string(a + b))
        case (.string(let a), .integer(let b)): return .success(.string(a + String(b)))
        case (.integer(let a), .string(let b)): return .success(.string(String(a) + b))
        case (.integer(let a), .integer(let b)):
            let (sum, overflow) = a.addingReportingOverflow(b)
            return overflow ? .failure(CombineFailure(message: "integer overflow in '+'")) : .success(.integer(sum))
        case (.array(let a), .array(let b)):
            var keys = Set(a.compactMap(\.key))
            for element in b {
                if let key = element.key, !keys.insert(key).inserted {
                    return .failure(CombineFailure(message: "duplicate array key \(ConfigValue.quoted(key))"))
                }
            }
            return .success(.array(a + b))
        case (.array(let a), _): return .success(.array(a + [ConfigArrayElement(value: other)]))
        case (_, .array):
            return .failure(CombineFailure(message: "cannot append an array to a \(typeName)"))
        }
    }

    /// `string`, `integer` or `array`, for messages.
    var typeName: String {
        switch self {
        case .string: return "string"
        case .integer: return "integer"
        case .array: return "array"
        }
    }
}

/// Why two values could not be combined with `+`.
struct CombineFailure: Error {
    var message: String
}

/// Builds one JSON object with keys in insertion order (scripts diff the output, so order is stable).
public struct JSONObjectWriter {
    private var fields: [String] = []

    public init() {}

    public mutating func add(_ key: String, _ value: String) {
        fields.append("\(JSONObjectWriter.quote(key)): \(JSONObjectWriter.quote(value))")
    }

    public mutating func add(_ key: String, _ value: Int) {
        fields.append("\(JSONObjectWriter.quote(key)): \(value)")
    }

    public mutating func add(_ key: String, _ value: UInt64) {
        fields.append("\(JSONObjectWriter.quote(key)): \(value)")
    }

    public mutating func add(_ key: String, _ value: Double, decimals: Int = 3) {
        fields.append("\(JSONObjectWriter.quote(key)): \(NumberFormat.json(value, decimals: decimals))")
    }

    public mutating func add(_ key: String, _ value: Bool) {
        fields.append("\(JSONObjectWriter.quote(key)): \(value ? "true" : "false")")
    }

    public mutating func add(_ key: String, _ values: [String]) {
        fields.append("\(JSONObjectWriter.quote(key)): [\(values.map(JSONObjectWriter.quote).joined(separator: ", "))]")
    }

    /// `{"a": 1, "b": "x"}` on one line.
    public var text: String { "{" + fields.joined(separator: ", ") + "}" }

    /// A JSON string literal: quotes, backslashes and control characters escaped.
    public static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}

/// Parsing and printing of byte counts as given on the command line: "16", "4k", "1m", "2M",
/// "64KiB", "1g"; suffixes are binary multiples (k = 1024) and case-insensitive.
public enum ByteSize {
    /// The number of bytes, or nil when `text` is not a non-negative integer with an optional suffix.
    public static func parse(_ text: String) -> Int? {
        var digits = Substring(text.lowercased())
        var shift = 0
        for suffix in ["kib", "mib", "gib", "kb", "mb", "gb", "k", "m", "g", "b"] where digits.hasSuffix(suffix) {
            switch suffix.first! {
            case "k": shift = 10
            case "m": shift = 20
            case "g": shift = 30
            default: shift = 0
            }
            digits = digits.dropLast(suffix.count)
            break
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(digits) else { return nil }
        guard n <= (Int.max >> shift) else { return nil }
        return n << shift
    }

    /// "16 B", "4 KiB", "1 MiB", "1.50 MiB".
    public static func format(_ bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB"]
        var unit = 0
        while unit < units.count - 1 && bytes >= 1 << (10 * (unit + 1)) { unit += 1 }
        let divisor = 1 << (10 * unit)
        if bytes % divisor == 0 { return "\(bytes / divisor) \(units[unit])" }
        return "\(NumberFormat.fixed(Double(bytes) / Double(divisor), decimals: 2)) \(units[unit])"
    }
}

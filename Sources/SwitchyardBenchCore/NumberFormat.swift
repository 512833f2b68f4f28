/// Number formatting without Foundation (fixed decimals, thousands separators, rates).
public enum NumberFormat {
    /// `value` with exactly `decimals` digits after the point ("12.50"); "nan"/"inf" passed through.
    public static func fixed(_ value: Double, decimals: Int) -> String {
        guard value.isFinite else { return "\(value)" }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let negative = value < 0
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 9.0e18 else { return "\(value)" }
        let n = UInt64(scaled)
        let whole = n / UInt64(scale)
        var text = (negative && n != 0 ? "-" : "") + String(whole)
        if decimals > 0 {
            let frac = String(n % UInt64(scale))
            text += "." + String(repeating: "0", count: decimals - frac.count) + frac
        }
        return text
    }

    /// "1,234,567".
    public static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return value < 0 ? "-" + out : out
    }

    /// A rate with a k/M suffix and three significant-ish digits: "987", "12.3k", "1.09M".
    public static func compact(_ value: Double) -> String {
        let a = abs(value)
        if a >= 1e6 { return fixed(value / 1e6, decimals: a >= 1e8 ? 0 : (a >= 1e7 ? 1 : 2)) + "M" }
        if a >= 1e3 { return fixed(value / 1e3, decimals: a >= 1e5 ? 0 : (a >= 1e4 ? 1 : 2)) + "k" }
        return fixed(value, decimals: a >= 100 || value == value.rounded() ? 0 : 1)
    }

    /// A JSON number: shortest round-trip form rounded to `decimals`; non-finite values become null.
    public static func json(_ value: Double, decimals: Int = 3) -> String {
        guard value.isFinite else { return "null" }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        if rounded == rounded.rounded(), abs(rounded) < 9.0e15 { return String(Int64(rounded)) }
        return "\(rounded)"
    }
}

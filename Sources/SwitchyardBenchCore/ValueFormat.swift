/// How a measured figure is printed in the comparison table and chart.
public enum ValueFormat: Sendable, Equatable {
    /// Events per second: "987", "12.3k", "1.09M".
    case rate
    /// MB/s: "1234", "87.5".
    case megabytes
    /// KiB: "12.5".
    case kibibytes
    /// Microseconds: "3.42", "17.1", "250".
    case microseconds
    /// A share 0...1 printed as a percentage: "48 %".
    case percent

    public func format(_ value: Double) -> String {
        guard value.isFinite else { return "–" }
        switch self {
        case .rate:
            return NumberFormat.compact(value)
        case .megabytes:
            return NumberFormat.fixed(value, decimals: abs(value) >= 100 ? 0 : 1)
        case .kibibytes:
            return NumberFormat.fixed(value, decimals: abs(value) >= 100 ? 0 : 1)
        case .microseconds:
            return NumberFormat.fixed(value, decimals: abs(value) >= 100 ? 0 : (abs(value) >= 10 ? 1 : 2))
        case .percent:
            return NumberFormat.fixed(value * 100, decimals: 0) + " %"
        }
    }

    /// A ratio: "1.12×".
    public static func ratio(_ value: Double) -> String {
        guard value.isFinite else { return "–" }
        return NumberFormat.fixed(value, decimals: 2) + "×"
    }
}

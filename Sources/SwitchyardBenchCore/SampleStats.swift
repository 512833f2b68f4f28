/// Median, minimum and maximum of a few runs' figures (the comparison reports all three).
public struct SampleStats: Equatable, Sendable {
    public let samples: [Double]

    public init(_ samples: [Double]) { self.samples = samples }

    public var isEmpty: Bool { samples.isEmpty }
    public var min: Double { samples.min() ?? 0 }
    public var max: Double { samples.max() ?? 0 }

    /// The middle value; the mean of the two middle values for an even count; 0 when empty.
    public var median: Double {
        guard !samples.isEmpty else { return 0 }
        let sorted = samples.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
}

/// A log-linear latency histogram in the style of HdrHistogram: fixed memory, microsecond units.
///
/// Values below `subBucketCount` (2048 µs) are recorded exactly; above that each power-of-two range
/// is split into 1024 equal buckets, so any recorded value is off by at most 1/1024 (< 0.1 %).
/// Values above `highestTrackable` (2^36 µs, about 19 hours) are clamped. Recording is one
/// `leadingZeroBitCount`, two shifts and an increment: no allocation, no branches on the data
/// beyond the min/max update.
public struct LatencyHistogram {
    public static let subBucketHalfCountMagnitude = 10
    public static let subBucketHalfCount = 1 << subBucketHalfCountMagnitude      // 1024
    public static let subBucketCount = subBucketHalfCount << 1                     // 2048
    public static let subBucketMask = UInt64(subBucketCount - 1)
    public static let highestTrackable: UInt64 = 1 << 36
    /// Buckets needed so that `subBucketCount << (bucketCount - 1)` exceeds `highestTrackable`.
    public static let bucketCount = 27
    public static let countsLength = (bucketCount + 1) << subBucketHalfCountMagnitude

    public private(set) var counts: [UInt64]
    public private(set) var totalCount: UInt64 = 0
    public private(set) var minValue: UInt64 = .max
    public private(set) var maxValue: UInt64 = 0
    /// Sum of recorded values (for the mean); UInt64 µs does not overflow in any realistic run.
    public private(set) var sum: UInt64 = 0

    public init() {
        counts = [UInt64](repeating: 0, count: LatencyHistogram.countsLength)
    }

    @inline(__always)
    public static func countsIndex(for value: UInt64) -> Int {
        let pow2Ceiling = 64 - (value | subBucketMask).leadingZeroBitCount
        let bucketIndex = pow2Ceiling - (subBucketHalfCountMagnitude + 1)
        let subBucketIndex = Int(truncatingIfNeeded: value >> UInt64(bucketIndex))
        return ((bucketIndex + 1) << subBucketHalfCountMagnitude) + (subBucketIndex - subBucketHalfCount)
    }

    /// The smallest value that lands in bucket `index`.
    public static func lowestValue(at index: Int) -> UInt64 {
        var bucketIndex = (index >> subBucketHalfCountMagnitude) - 1
        var subBucketIndex = (index & (subBucketHalfCount - 1)) + subBucketHalfCount
        if bucketIndex < 0 {
            subBucketIndex -= subBucketHalfCount
            bucketIndex = 0
        }
        return UInt64(subBucketIndex) << UInt64(bucketIndex)
    }

    /// The largest value that lands in bucket `index`.
    public static func highestValue(at index: Int) -> UInt64 {
        let bucketIndex = max((index >> subBucketHalfCountMagnitude) - 1, 0)
        return lowestValue(at: index) + (UInt64(1) << UInt64(bucketIndex)) - 1
    }

    /// Records one value in microseconds.
    @inline(__always)
    public mutating func record(_ microseconds: UInt64) {
        let v = microseconds < LatencyHistogram.highestTrackable ? microseconds : LatencyHistogram.highestTrackable - 1
        counts[LatencyHistogram.countsIndex(for: v)] &+= 1
        totalCount &+= 1
        sum &+= v
        if v < minValue { minValue = v }
        if v > maxValue { maxValue = v }
    }

    /// Records a duration given in nanoseconds (rounded to the nearest microsecond).
    @inline(__always)
    public mutating func record(nanoseconds: UInt64) {
        record((nanoseconds &+ 500) / 1000)
    }

    public mutating func reset() {
        for i in counts.indices { counts[i] = 0 }
        totalCount = 0
        minValue = .max
        maxValue = 0
        sum = 0
    }

    public mutating func add(_ other: LatencyHistogram) {
        guard other.totalCount > 0 else { return }
        for i in counts.indices { counts[i] &+= other.counts[i] }
        totalCount &+= other.totalCount
        sum &+= other.sum
        minValue = min(minValue, other.minValue)
        maxValue = max(maxValue, other.maxValue)
    }

    public var isEmpty: Bool { totalCount == 0 }

    public var mean: Double { totalCount == 0 ? 0 : Double(sum) / Double(totalCount) }

    /// The value at `percentile` (0...100): the highest value equivalent to the recorded one at
    /// that rank (as HdrHistogram reports it), never above the largest value recorded. 0 when empty.
    public func value(atPercentile percentile: Double) -> UInt64 {
        guard totalCount > 0 else { return 0 }
        let p = min(max(percentile, 0), 100)
        var target = UInt64((p / 100 * Double(totalCount)).rounded(.up))
        if target < 1 { target = 1 }
        if target > totalCount { target = totalCount }
        var running: UInt64 = 0
        for i in counts.indices where counts[i] != 0 {
            running &+= counts[i]
            if running >= target {
                return min(LatencyHistogram.highestValue(at: i), maxValue)
            }
        }
        return maxValue
    }
}

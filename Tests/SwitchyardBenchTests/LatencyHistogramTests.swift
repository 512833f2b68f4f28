import Testing
@testable import SwitchyardBenchCore

@Suite struct LatencyHistogramTests {
    @Test func bucketRoundTripKeepsValuesWithinTheirBucket() {
        var value: UInt64 = 0
        while value < LatencyHistogram.highestTrackable {
            let i = LatencyHistogram.countsIndex(for: value)
            #expect(i >= 0 && i < LatencyHistogram.countsLength)
            #expect(LatencyHistogram.lowestValue(at: i) <= value, "value \(value)")
            #expect(LatencyHistogram.highestValue(at: i) >= value, "value \(value)")
            // Relative error of the bucket is at most 1/1024.
            let width = LatencyHistogram.highestValue(at: i) - LatencyHistogram.lowestValue(at: i) + 1
            #expect(width == 1 || Double(width) / Double(value) <= 1.0 / 1024 + 1e-9, "value \(value)")
            value = value < 4096 ? value + 1 : value + value / 7 + 1
        }
    }

    @Test func smallValuesAreExact() {
        for v: UInt64 in [0, 1, 2, 100, 1023, 1024, 2047] {
            let i = LatencyHistogram.countsIndex(for: v)
            #expect(LatencyHistogram.lowestValue(at: i) == v)
            #expect(LatencyHistogram.highestValue(at: i) == v)
        }
    }

    @Test func percentilesOfOneToThousand() {
        var h = LatencyHistogram()
        for v in 1...1000 { h.record(UInt64(v)) }
        #expect(h.totalCount == 1000)
        #expect(h.minValue == 1)
        #expect(h.maxValue == 1000)
        #expect(h.value(atPercentile: 50) == 500)
        #expect(h.value(atPercentile: 90) == 900)
        #expect(h.value(atPercentile: 99) == 990)
        #expect(h.value(atPercentile: 100) == 1000)
        #expect(h.value(atPercentile: 0) == 1)
        #expect(h.mean == 500.5)
    }

    @Test func largeValuesWithinPrecision() {
        var h = LatencyHistogram()
        h.record(1_000_000)
        let p = h.value(atPercentile: 50)
        #expect(p <= 1_000_000)            // never above the largest value recorded
        #expect(p >= 1_000_000 - 1_000_000 / 1024)
    }

    @Test func emptyHistogram() {
        let h = LatencyHistogram()
        #expect(h.isEmpty)
        #expect(h.value(atPercentile: 50) == 0)
        #expect(h.mean == 0)
    }

    @Test func mergeAddsCountsAndKeepsExtremes() {
        var a = LatencyHistogram(), b = LatencyHistogram()
        for v in 1...100 { a.record(UInt64(v)) }
        for v in 901...1000 { b.record(UInt64(v)) }
        a.add(b)
        #expect(a.totalCount == 200)
        #expect(a.minValue == 1)
        #expect(a.maxValue == 1000)
        #expect(a.value(atPercentile: 50) == 100)
        #expect(a.value(atPercentile: 51) == 902)   // rank 102 of 200
        var empty = LatencyHistogram()
        empty.add(LatencyHistogram())
        #expect(empty.isEmpty)
        a.reset()
        #expect(a.isEmpty && a.maxValue == 0)
    }

    @Test func hugeValuesAreClamped() {
        var h = LatencyHistogram()
        h.record(UInt64.max)
        h.record(LatencyHistogram.highestTrackable)
        #expect(h.totalCount == 2)
        #expect(h.maxValue == LatencyHistogram.highestTrackable - 1)
        #expect(h.value(atPercentile: 100) == LatencyHistogram.highestTrackable - 1)
    }

    @Test func nanosecondsRoundToMicroseconds() {
        var h = LatencyHistogram()
        h.record(nanoseconds: 1_499)
        h.record(nanoseconds: 1_500)
        #expect(h.minValue == 1)
        #expect(h.maxValue == 2)
    }
}

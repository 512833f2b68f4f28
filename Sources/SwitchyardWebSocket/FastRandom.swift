/// wyrand, a small fast generator for masking keys, seeded from the system generator.
///
/// `SystemRandomNumberGenerator` costs a `getrandom` call per value, too much per frame on the
/// benchmark path. Masking only has to stop a peer from predicting keys, not resist cryptanalysis.
public struct FastRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public init() {
        var system = SystemRandomNumberGenerator()
        state = system.next()
    }

    public mutating func next() -> UInt64 {
        state &+= 0xA076_1D64_78BD_642F
        let product = state.multipliedFullWidth(by: state ^ 0xE703_7ED1_A0B4_28DB)
        return product.high ^ product.low
    }
}

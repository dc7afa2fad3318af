/// A small, fast, seeded random number generator (SplitMix64), so that training, weight
/// initialisation and shuffling give the same result for the same seed on every machine.
///
/// Thread: a value owned by one thread.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// A uniform value in `[0, 1)` with 53 random bits.
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// A uniform value in `[-bound, bound)`.
    public mutating func symmetric<T: BLASScalar>(_ bound: T) -> T {
        T(unit() * 2 - 1) * bound
    }

    /// A generator for a sub-task, derived from this one's seed and a label, so that adding
    /// a use of randomness in one place does not shift the numbers drawn in another.
    public func derived(_ label: UInt64) -> SeededRandom {
        var copy = SeededRandom(seed: state ^ (label &* 0xd6e8_feb8_6659_fd93))
        _ = copy.next()
        return copy
    }
}

import OspreyCore

/// Weight initialisation's draw on top of the project's seeded generator (``SeededRandom`` in
/// OspreyCore, SplitMix64), so that a seed gives the same network on every machine.
extension SeededRandom {
    /// A uniform value in `[-bound, bound)`.
    public mutating func symmetric<T: BLASScalar>(_ bound: T) -> T {
        T(unit() * 2 - 1) * bound
    }
}

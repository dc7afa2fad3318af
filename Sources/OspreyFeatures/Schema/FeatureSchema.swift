/// The named, ordered features of a vector, with a hash that identifies the set.
///
/// A model records the schema it was trained on and refuses vectors of another one: the hash
/// covers the names, their order and ``revision``, so adding, removing, renaming or reordering a
/// feature, or changing how one is computed (bump ``revision``), gives a different hash.
///
/// Thread: any; a value type.
public struct FeatureSchema: Sendable, Hashable, CustomStringConvertible {
    /// The features' names in vector order (`user_amount_sum_1h`, `TX_AMOUNT`, ...).
    public let names: [String]
    /// Bumped by hand when a feature's definition changes but its name does not.
    public let revision: Int

    public init(names: [String], revision: Int = 1) {
        precondition(Set(names).count == names.count, "feature names must be unique")
        self.names = names
        self.revision = revision
    }

    /// The number of features, the vector's length.
    public var count: Int { names.count }

    /// The position of the feature called `name`, or nil.
    public func index(of name: String) -> Int? { names.firstIndex(of: name) }

    /// The schema's identity as 16 lower-case hex digits: FNV-1a (64-bit) over the revision and
    /// every name, each followed by a newline.
    ///
    /// FNV-1a is not a cryptographic hash; it guards against mistakes, not against an attacker
    /// who writes model files, and that is all a schema check needs.
    public var hash: String {
        var state: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ text: String) {
            for byte in text.utf8 {
                state ^= UInt64(byte)
                state &*= 0x0000_0100_0000_01b3
            }
            state ^= 0x0a
            state &*= 0x0000_0100_0000_01b3
        }
        mix("revision=\(revision)")
        for name in names { mix(name) }
        let digits = String(state, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    public var description: String { "FeatureSchema(\(count) features, hash \(hash))" }
}

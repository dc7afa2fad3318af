/// An entity's identity: a 128-bit hash of its id's bytes.
///
/// Ids are never kept as strings on the hot path; the store interns them by this hash.
///
/// - Important: Two different ids that hash alike would share state. With 128 bits the chance
///   is negligible for honest data (about 10⁻²⁰ for a billion ids), but the hash is not
///   cryptographic: someone who controls ids and knows the function could forge a collision.
public struct EntityKey: Hashable, Sendable, BitwiseCopyable {
    public var low: UInt64
    public var high: UInt64

    public init(low: UInt64, high: UInt64) {
        self.low = low
        self.high = high
    }

    /// The key of the id written as `bytes`: ``IDHash`` with two seeds, in one pass.
    public init(bytes: UnsafeRawBufferPointer) {
        (low, high) = IDHash.hashPair(
            bytes, seeds: (0x9e37_79b9_7f4a_7c15, 0xc2b2_ae3d_27d4_eb4f))
    }

    /// The key of the id `text` (tests and tools; the hot path hashes raw bytes).
    public init(_ text: String) {
        var copy = text
        self = copy.withUTF8 { EntityKey(bytes: UnsafeRawBufferPointer($0)) }
    }
}

/// A fast 64-bit hash of short byte strings (ids, countries, categories).
///
/// Not cryptographic. Words of eight bytes are mixed with a multiply and fold, the tail is
/// padded with its length, and a final avalanche spreads every input bit.
public enum IDHash {
    @inline(__always)
    static func fold(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let product = a.multipliedFullWidth(by: b)
        return product.high ^ product.low
    }

    public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64) -> UInt64 {
        var state = seed ^ (UInt64(bytes.count) &* 0x9fb2_1c65_1e98_df25)
        var offset = 0
        let count = bytes.count
        while offset + 8 <= count {
            let word = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            state = fold(state ^ word, 0xa076_1d64_78bd_642f)
            offset += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while offset < count {
            tail |= UInt64(bytes[offset]) << shift
            shift += 8
            offset += 1
        }
        return finish(state, tail)
    }

    /// ``hash(_:seed:)`` with two seeds at once (the same two values, one pass over the bytes).
    @inline(__always)
    public static func hashPair(_ bytes: UnsafeRawBufferPointer, seeds: (UInt64, UInt64))
        -> (UInt64, UInt64)
    {
        let lengthMix = UInt64(bytes.count) &* 0x9fb2_1c65_1e98_df25
        var first = seeds.0 ^ lengthMix
        var second = seeds.1 ^ lengthMix
        var offset = 0
        let count = bytes.count
        while offset + 8 <= count {
            let word = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            first = fold(first ^ word, 0xa076_1d64_78bd_642f)
            second = fold(second ^ word, 0xa076_1d64_78bd_642f)
            offset += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while offset < count {
            tail |= UInt64(bytes[offset]) << shift
            shift += 8
            offset += 1
        }
        return (finish(first, tail), finish(second, tail))
    }

    @inline(__always)
    static func finish(_ state: UInt64, _ tail: UInt64) -> UInt64 {
        var state = fold(state ^ tail ^ 0xe703_7ed1_a0b4_28db, 0x8ebc_6af0_9c88_c6e3)
        state ^= state >> 33
        state &*= 0xff51_afd7_ed55_8ccd
        state ^= state >> 33
        return state
    }

    /// The hash of `text`'s UTF-8 bytes.
    public static func hash(_ text: String, seed: UInt64 = 0x5851_f42d_4c95_7f2d) -> UInt64 {
        var copy = text
        return copy.withUTF8 { hash(UnsafeRawBufferPointer($0), seed: seed) }
    }
}

import CSimdjsonBridge

#if canImport(Glibc)
    import Glibc
#endif

/// A hash table from 64-bit hashes (event ids, countries, categories) to small values: open
/// addressing with linear probing and backward-shift deletion, in two `malloc` blocks.
///
/// Keys are already hashes, so their low bits pick the bucket (no second hash as in
/// `Dictionary`); it is a class over raw storage, so that updates make no copy-on-write
/// check. Key 0 marks an empty bucket; its value, if any, is kept aside. The table doubles
/// when more than 70% full. Memory: 8 bytes plus the value's stride per bucket.
///
/// Thread: owned by one ``FeatureStore``; one thread at a time.
final class HashTable64<Value: BitwiseCopyable> {
    private var keys: UnsafeMutablePointer<UInt64>
    private var values: UnsafeMutablePointer<Value>
    private var size: Int
    private(set) var count = 0
    private var zero: Value?

    init(capacity: Int = 16) {
        var size = 16
        while size * 7 / 10 < capacity { size *= 2 }
        self.size = size
        keys = .allocate(capacity: size)
        keys.initialize(repeating: 0, count: size)
        values = .allocate(capacity: size)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    @inline(__always)
    private var mask: Int { size - 1 }

    /// The bucket holding `key`, or the empty one where it would go.
    @inline(__always)
    private func bucket(_ key: UInt64) -> Int {
        var bucket = Int(truncatingIfNeeded: key) & mask
        while keys[bucket] != 0, keys[bucket] != key { bucket = (bucket + 1) & mask }
        return bucket
    }

    /// Hints the processor to load the bucket where a lookup of `key` starts.
    @inline(__always)
    func prefetch(_ key: UInt64) {
        let bucket = Int(truncatingIfNeeded: key) & mask
        osprey_prefetch(keys + bucket)
        osprey_prefetch(values + bucket)
    }

    subscript(key: UInt64) -> Value? {
        guard key != 0 else { return zero }
        let bucket = self.bucket(key)
        return keys[bucket] == 0 ? nil : values[bucket]
    }

    /// Sets or replaces the value of `key`.
    func set(_ key: UInt64, _ value: Value) {
        guard key != 0 else {
            if zero == nil { count += 1 }
            zero = value
            return
        }
        var bucket = self.bucket(key)
        if keys[bucket] == 0 {
            if (count + 1) * 10 > size * 7 {
                grow()
                bucket = self.bucket(key)
            }
            keys[bucket] = key
            count += 1
        }
        (values + bucket).initialize(to: value)
    }

    /// Removes `key`; returns its value, nil when it was absent.
    @discardableResult
    func remove(_ key: UInt64) -> Value? {
        guard key != 0 else {
            defer { zero = nil }
            if zero != nil { count -= 1 }
            return zero
        }
        var hole = bucket(key)
        guard keys[hole] != 0 else { return nil }
        let removed = values[hole]
        var next = (hole + 1) & mask
        while keys[next] != 0 {
            let home = Int(truncatingIfNeeded: keys[next]) & mask
            // Move the entry back when its home does not lie cyclically in (hole, next].
            if (hole - home) & mask < (next - home) & mask {
                keys[hole] = keys[next]
                (values + hole).initialize(to: values[next])
                hole = next
            }
            next = (next + 1) & mask
        }
        keys[hole] = 0
        count -= 1
        return removed
    }

    /// Every entry, in bucket order (not a stable order: sort for output).
    func forEach(_ body: (UInt64, Value) throws -> Void) rethrows {
        if let zero { try body(0, zero) }
        for bucket in 0..<size where keys[bucket] != 0 { try body(keys[bucket], values[bucket]) }
    }

    /// Every entry, by ascending key.
    func sorted() -> [(key: UInt64, value: Value)] {
        var entries: [(key: UInt64, value: Value)] = []
        entries.reserveCapacity(count)
        forEach { entries.append(($0, $1)) }
        return entries.sorted { $0.key < $1.key }
    }

    /// Heap bytes held: both blocks.
    var heapBytes: Int { size * (8 + MemoryLayout<Value>.stride) }

    private func grow() {
        let oldKeys = keys
        let oldValues = values
        let oldSize = size
        size *= 2
        keys = .allocate(capacity: size)
        keys.initialize(repeating: 0, count: size)
        values = .allocate(capacity: size)
        for old in 0..<oldSize where oldKeys[old] != 0 {
            let bucket = self.bucket(oldKeys[old])
            keys[bucket] = oldKeys[old]
            (values + bucket).initialize(to: oldValues[old])
        }
        oldKeys.deallocate()
        oldValues.deallocate()
    }
}

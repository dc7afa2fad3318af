import CSimdjsonBridge

/// A hash table from ``EntityKey`` to a slot number: open addressing with linear probing and
/// backward-shift deletion, so that removals leave no tombstones.
///
/// Keys are already hashes, so their low bits pick the bucket. The table doubles when more
/// than 70% full. Memory: 20 bytes per bucket (the key and the slot).
struct SlotIndex {
    private static let empty = UInt32.max
    private var keys: ContiguousArray<EntityKey>
    private var slots: ContiguousArray<UInt32>
    private(set) var count = 0

    init(capacity: Int = 64) {
        var size = 16
        while size * 7 / 10 < capacity { size *= 2 }
        keys = ContiguousArray(repeating: EntityKey(low: 0, high: 0), count: size)
        slots = ContiguousArray(repeating: SlotIndex.empty, count: size)
    }

    @inline(__always)
    private var mask: Int { slots.count - 1 }

    /// The slot of `key`, or nil.
    @inline(__always)
    func find(_ key: EntityKey) -> UInt32? {
        var bucket = Int(truncatingIfNeeded: key.low) & mask
        while true {
            let slot = slots[bucket]
            if slot == SlotIndex.empty { return nil }
            if keys[bucket] == key { return slot }
            bucket = (bucket + 1) & mask
        }
    }

    /// Hints the processor to load the bucket where a lookup of `key` starts.
    @inline(__always)
    func prefetch(_ key: EntityKey) {
        let bucket = Int(truncatingIfNeeded: key.low) & mask
        keys.withUnsafeBufferPointer { osprey_prefetch($0.baseAddress! + bucket) }
        slots.withUnsafeBufferPointer { osprey_prefetch($0.baseAddress! + bucket) }
    }

    /// Records `key` at `slot`; the key must not be present.
    mutating func insert(_ key: EntityKey, slot: UInt32) {
        if (count + 1) * 10 > slots.count * 7 { grow() }
        var bucket = Int(truncatingIfNeeded: key.low) & mask
        while slots[bucket] != SlotIndex.empty { bucket = (bucket + 1) & mask }
        keys[bucket] = key
        slots[bucket] = slot
        count += 1
    }

    /// Forgets `key`, moving later entries of its probe run back so that lookups still work.
    mutating func remove(_ key: EntityKey) {
        var bucket = Int(truncatingIfNeeded: key.low) & mask
        while true {
            if slots[bucket] == SlotIndex.empty { return }
            if keys[bucket] == key { break }
            bucket = (bucket + 1) & mask
        }
        var hole = bucket
        var next = (hole + 1) & mask
        while slots[next] != SlotIndex.empty {
            let home = Int(truncatingIfNeeded: keys[next].low) & mask
            // Move the entry back when its home does not lie cyclically in (hole, next].
            let distanceToNext = (next - home) & mask
            let distanceToHole = (hole - home) & mask
            if distanceToHole < distanceToNext {
                keys[hole] = keys[next]
                slots[hole] = slots[next]
                hole = next
            }
            next = (next + 1) & mask
        }
        slots[hole] = SlotIndex.empty
        count -= 1
    }

    private mutating func grow() {
        let oldKeys = keys
        let oldSlots = slots
        keys = ContiguousArray(repeating: EntityKey(low: 0, high: 0), count: oldSlots.count * 2)
        slots = ContiguousArray(repeating: SlotIndex.empty, count: oldSlots.count * 2)
        count = 0
        for index in 0..<oldSlots.count where oldSlots[index] != SlotIndex.empty {
            insert(oldKeys[index], slot: oldSlots[index])
        }
    }

    var heapBytes: Int {
        keys.capacity * MemoryLayout<EntityKey>.stride + slots.capacity * 4
    }
}

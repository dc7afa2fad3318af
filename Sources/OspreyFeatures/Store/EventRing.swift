import CSimdjsonBridge

/// One event as an entity keeps it: 16 bytes.
struct RingEntry: Equatable {
    /// Event time, epoch milliseconds.
    var time: Int64
    /// Amount in hundredths (orders; 0 for clicks).
    var cents: Int32
    /// Bit 0: the event is an order.
    var flags: UInt32

    var isOrder: Bool { flags & 1 != 0 }
}

/// The user's extra facts about one event, kept beside its ``RingEntry``: 16 bytes. Each is a
/// small interned id, ``RingAttributes/none`` when the event did not say.
struct RingAttributes: Equatable {
    static let none = UInt32.max
    var device: UInt32
    var ip: UInt32
    var country: UInt32
    var category: UInt32

    @inline(__always)
    subscript(kind: Int) -> UInt32 {
        switch kind {
        case 0: return device
        case 1: return ip
        case 2: return country
        default: return category
        }
    }
}

/// An entity's events in time order, in a ring buffer that grows by a quarter and shrinks
/// when half empty, so that its slack stays small (copies stay amortised O(1) per event).
///
/// Positions are absolute indices (``base`` is the oldest's) that wrap at 2³², so that window
/// starts stay valid as the oldest events leave. A ring made with attributes (users) keeps
/// each event's ``RingAttributes`` in the 16 bytes right after its ``RingEntry``, in the same
/// buffer: one allocation and, mostly, one cache line per event.
///
/// Cost: appending and removing the oldest are O(1) amortised; inserting an out-of-order event
/// moves the events after it (bounded by the allowed lateness).
struct EventRing {
    /// `capacity` slots of `stride` entries each.
    private(set) var storage: ContiguousArray<RingEntry> = []
    private(set) var capacity: Int32 = 0
    private(set) var head: Int32 = 0
    private(set) var count: Int32 = 0
    /// The absolute index of the oldest event.
    private(set) var base: UInt32 = 0
    let tracksAttributes: Bool
    /// Where `storage`'s elements were when it was last allocated: used only as an address to
    /// prefetch, never read through, so that a hint costs no access to the buffer's header.
    private var hint: UnsafeRawPointer?

    init(tracksAttributes: Bool) { self.tracksAttributes = tracksAttributes }

    @inline(__always)
    private var stride: Int { tracksAttributes ? 2 : 1 }

    /// One past the newest event's absolute index.
    var end: UInt32 { base &+ UInt32(count) }
    var isEmpty: Bool { count == 0 }

    /// The slot of absolute index `index`.
    @inline(__always)
    func physical(_ index: UInt32) -> Int {
        let slot = Int(head) + Int(index &- base)
        return slot >= Int(capacity) ? slot - Int(capacity) : slot
    }

    @inline(__always)
    subscript(index: UInt32) -> RingEntry { storage[physical(index) * stride] }

    @inline(__always)
    func attributes(at index: UInt32) -> RingAttributes {
        RingAttributes(packed: storage[physical(index) * 2 + 1])
    }

    /// Hints the processor to load the buffer's header, the newest event and the events where
    /// `starts` begin, without touching the buffer (so without waiting for it).
    ///
    /// `mutating` only so that a call through a pointer to the ring works in place: a
    /// non-mutating call copied the ring, retaining and releasing its storage on every hint.
    @inline(__always)
    mutating func prefetch(starts: UnsafeBufferPointer<WindowState>) {
        guard count > 0, let hint else { return }
        // Swift keeps an array's count and capacity in the 32 bytes before its elements.
        osprey_prefetch(hint - 32)
        let size = MemoryLayout<RingEntry>.stride * stride
        osprey_prefetch(hint + physical(end &- 1) * size)
        for window in starts { osprey_prefetch(hint + physical(window.start) * size) }
    }

    /// The newest event.
    var last: RingEntry { self[end &- 1] }

    @inline(__always)
    private mutating func store(_ entry: RingEntry, _ extra: RingAttributes, slot: Int) {
        if tracksAttributes {
            storage[slot * 2] = entry
            storage[slot * 2 + 1] = extra.packed
        } else {
            storage[slot] = entry
        }
    }

    mutating func append(_ entry: RingEntry, _ extra: RingAttributes) {
        if count == capacity { resize(to: Int(capacity) + max(2, Int(capacity) / 4)) }
        store(entry, extra, slot: physical(end))
        count += 1
    }

    /// Inserts before the event now at `index`, moving the later ones up by one.
    mutating func insert(_ entry: RingEntry, _ extra: RingAttributes, at index: UInt32) {
        if count == capacity { resize(to: Int(capacity) + max(2, Int(capacity) / 4)) }
        count += 1
        var position = end &- 1
        while position != index {
            let to = physical(position) * stride
            let from = physical(position &- 1) * stride
            storage[to] = storage[from]
            if tracksAttributes { storage[to + 1] = storage[from + 1] }
            position = position &- 1
        }
        store(entry, extra, slot: physical(index))
    }

    /// Removes the oldest event.
    mutating func removeFirst() {
        head = head + 1 == capacity ? 0 : head + 1
        count -= 1
        base = base &+ 1
        if capacity > 8, count * 2 <= capacity {
            resize(to: max(8, Int(count) + Int(count) / 4 + 4))
        }
    }

    /// The first absolute index whose time is greater than `time` (``end`` when none is).
    func upperBound(_ time: Int64) -> UInt32 {
        var low = 0
        var high = Int(count)
        while low < high {
            let middle = (low + high) / 2
            if self[base &+ UInt32(middle)].time <= time {
                low = middle + 1
            } else {
                high = middle
            }
        }
        return base &+ UInt32(low)
    }

    private mutating func resize(to newCapacity: Int) {
        var newStorage = ContiguousArray(
            repeating: RingEntry(time: 0, cents: 0, flags: 0), count: newCapacity * stride)
        for offset in 0..<Int(count) {
            let from = physical(base &+ UInt32(offset)) * stride
            for part in 0..<stride { newStorage[offset * stride + part] = storage[from + part] }
        }
        storage = newStorage
        hint = storage.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
        capacity = Int32(newCapacity)
        head = 0
    }

    /// Heap bytes held: the buffer's element storage.
    var heapBytes: Int { storage.capacity * MemoryLayout<RingEntry>.stride }

    /// Whether the ring owns a heap buffer.
    var hasBuffer: Bool { storage.capacity > 0 }

    /// Every event from oldest to newest, for snapshots.
    func forEach(_ body: (RingEntry, RingAttributes?) throws -> Void) rethrows {
        for offset in 0..<Int(count) {
            let index = base &+ UInt32(offset)
            try body(self[index], tracksAttributes ? attributes(at: index) : nil)
        }
    }

    /// Rebuilds a ring from a snapshot: the events in order and the oldest's absolute index.
    mutating func restore(base: UInt32) {
        self.base = base
    }
}

extension RingAttributes {
    /// The four ids in the shape of a ``RingEntry``, to share the ring's buffer.
    var packed: RingEntry {
        RingEntry(
            time: Int64(bitPattern: UInt64(device) | UInt64(ip) << 32),
            cents: Int32(bitPattern: country), flags: category)
    }

    init(packed: RingEntry) {
        let pair = UInt64(bitPattern: packed.time)
        self.init(
            device: UInt32(truncatingIfNeeded: pair), ip: UInt32(truncatingIfNeeded: pair >> 32),
            country: UInt32(bitPattern: packed.cents), category: packed.flags)
    }
}

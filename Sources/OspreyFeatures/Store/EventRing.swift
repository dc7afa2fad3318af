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

/// An entity's events in time order, in a ring buffer that grows and shrinks by powers of two.
///
/// Positions are absolute indices (``base`` is the oldest's) that wrap at 2³², so that window
/// starts stay valid as the oldest events leave. Attributes are kept only when the ring was
/// made with them (users).
///
/// Cost: appending and removing the oldest are O(1) amortised; inserting an out-of-order event
/// moves the events after it (bounded by the allowed lateness).
struct EventRing {
    private(set) var entries: ContiguousArray<RingEntry> = []
    private(set) var attributes: ContiguousArray<RingAttributes> = []
    private(set) var head: Int32 = 0
    private(set) var count: Int32 = 0
    /// The absolute index of the oldest event.
    private(set) var base: UInt32 = 0
    let tracksAttributes: Bool

    init(tracksAttributes: Bool) { self.tracksAttributes = tracksAttributes }

    /// One past the newest event's absolute index.
    var end: UInt32 { base &+ UInt32(count) }
    var isEmpty: Bool { count == 0 }

    @inline(__always)
    func physical(_ index: UInt32) -> Int {
        (Int(head) + Int(index &- base)) & (entries.count - 1)
    }

    @inline(__always)
    subscript(index: UInt32) -> RingEntry { entries[physical(index)] }

    @inline(__always)
    func attributes(at index: UInt32) -> RingAttributes { attributes[physical(index)] }

    /// Hints the processor to load the event at `index` and the newest one.
    @inline(__always)
    func prefetch(_ index: UInt32) {
        guard count > 0 else { return }
        entries.withUnsafeBufferPointer { buffer in
            osprey_prefetch(buffer.baseAddress! + physical(index))
            osprey_prefetch(buffer.baseAddress! + physical(end &- 1))
        }
    }

    /// The newest event.
    var last: RingEntry { self[end &- 1] }

    mutating func append(_ entry: RingEntry, _ extra: RingAttributes) {
        if Int(count) == entries.count { resize(to: max(4, entries.count * 2)) }
        let slot = (Int(head) + Int(count)) & (entries.count - 1)
        entries[slot] = entry
        if tracksAttributes { attributes[slot] = extra }
        count += 1
    }

    /// Inserts before the event now at `index`, moving the later ones up by one.
    mutating func insert(_ entry: RingEntry, _ extra: RingAttributes, at index: UInt32) {
        if Int(count) == entries.count { resize(to: max(4, entries.count * 2)) }
        var position = end
        while position != index {
            let from = physical(position &- 1)
            let to = (from + 1) & (entries.count - 1)
            entries[to] = entries[from]
            if tracksAttributes { attributes[to] = attributes[from] }
            position = position &- 1
        }
        let slot = physical(index)
        entries[slot] = entry
        if tracksAttributes { attributes[slot] = extra }
        count += 1
    }

    /// Removes the oldest event.
    mutating func removeFirst() {
        head = Int32((Int(head) + 1) & (entries.count - 1))
        count -= 1
        base = base &+ 1
        if entries.count > 8, Int(count) * 4 <= entries.count { resize(to: entries.count / 2) }
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

    private mutating func resize(to capacity: Int) {
        var newEntries = ContiguousArray(
            repeating: RingEntry(time: 0, cents: 0, flags: 0), count: capacity)
        var newAttributes = ContiguousArray<RingAttributes>()
        if tracksAttributes {
            newAttributes = ContiguousArray(
                repeating: RingAttributes(device: 0, ip: 0, country: 0, category: 0),
                count: capacity)
        }
        for offset in 0..<Int(count) {
            let from = physical(base &+ UInt32(offset))
            newEntries[offset] = entries[from]
            if tracksAttributes { newAttributes[offset] = attributes[from] }
        }
        entries = newEntries
        attributes = newAttributes
        head = 0
    }

    /// Heap bytes held (the buffers' element storage).
    var heapBytes: Int {
        entries.capacity * MemoryLayout<RingEntry>.stride + attributes.capacity
            * MemoryLayout<RingAttributes>.stride
    }

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

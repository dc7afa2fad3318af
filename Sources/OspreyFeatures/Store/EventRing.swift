import CSimdjsonBridge

#if canImport(Glibc)
    import Glibc
#endif

/// One event as an entity keeps it: 12 bytes, aligned to 4, so that a user's event with its
/// ``RingAttributes`` takes 28.
struct RingEntry: Equatable {
    private var timeLow: UInt32
    private var timeHigh: Int32
    /// The amount in hundredths for an order; `Int32.min`, which no amount reaches (amounts
    /// are at most ±`Int32.max` hundredths), for a click.
    private var stored: Int32

    /// - Parameter cents: the order's amount; `Int32.min` is kept as `-Int32.max`.
    @inline(__always)
    init(time: Int64, cents: Int32, isOrder: Bool) {
        timeLow = UInt32(truncatingIfNeeded: time)
        timeHigh = Int32(truncatingIfNeeded: time >> 32)
        stored = isOrder ? max(cents, -Int32.max) : .min
    }

    /// Event time, epoch milliseconds.
    var time: Int64 {
        @inline(__always) get { Int64(timeHigh) << 32 | Int64(timeLow) }
    }
    var isOrder: Bool {
        @inline(__always) get { stored != .min }
    }
    /// Amount in hundredths (0 for clicks).
    var cents: Int32 {
        @inline(__always) get { isOrder ? stored : 0 }
    }
}

/// The user's extra facts about one event, kept right after its ``RingEntry``: 16 bytes. Each
/// is a small interned id, ``RingAttributes/none`` when the event did not say.
struct RingAttributes: Equatable {
    static let none = UInt32.max
    var device: UInt32
    var ip: UInt32
    var country: UInt32
    var category: UInt32

    /// No attribute at all.
    static let nothing = RingAttributes(device: none, ip: none, country: none, category: none)

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

/// A value a user has used (device, IP, country or category) and the newest of the user's kept
/// events that carries it: 8 bytes.
///
/// No reference count is kept: the value is in use exactly while its newest use is kept
/// (events leave oldest first), so an entry whose event has left is stale and is dropped.
struct ValueUse: Equatable {
    /// The attribute kind (0 device, 1 IP, 2 country, 3 category) in the top two bits, the
    /// value's id below (ids stay under 2³⁰: entity slots and interned values both do).
    var kindAndValue: UInt32
    /// Absolute ring index of the newest kept event with this value.
    var lastIndex: UInt32

    var kind: Int {
        @inline(__always) get { Int(kindAndValue >> 30) }
    }
}

/// The state of one entity, 72 bytes with no reference-counted parts: its key, its first and
/// newest event times, its events in a ring buffer, and a side table (users: the values in
/// use; merchants: the times of transactions labelled fraud).
///
/// The buffers are `malloc` blocks that the owning ``EntityTable`` frees (in `deinit`, on
/// eviction); copying a record copies the pointers, never the blocks. An entity is live while
/// it keeps an event: every update leaves its own event in the ring.
///
/// Ring positions are absolute indices (``base`` is the oldest's) that wrap at 2³², so that
/// window starts stay valid as the oldest events leave. Each event takes ``stride`` bytes: its
/// ``RingEntry``, then, once a user has used an attribute, its ``RingAttributes``. The buffer
/// grows by a quarter and shrinks when half empty, so that its slack stays small (copies stay
/// amortised O(1)).
struct EntityRecord {
    var key: EntityKey
    var firstSeen: Int64 = .max
    /// The newest event time, `Int64.min` before the first event.
    var newest: Int64 = .min
    var events: UnsafeMutableRawPointer?
    var side: UnsafeMutableRawPointer?
    /// Events the buffer has room for, the physical slot of the oldest, and how many are kept.
    var capacity: UInt32 = 0
    var head: UInt32 = 0
    var count: UInt32 = 0
    /// The absolute index of the oldest event.
    var base: UInt32 = 0
    /// Elements of 8 bytes in ``side``, and its room.
    var sideCount: UInt32 = 0
    var sideCapacity: UInt32 = 0
    /// Bytes per event: ``narrow`` until a user's event carries an attribute, then ``wide``.
    var stride = UInt32(EntityRecord.narrow)

    static let narrow = MemoryLayout<RingEntry>.size
    static let wide = MemoryLayout<RingEntry>.size + MemoryLayout<RingAttributes>.size

    init(key: EntityKey) { self.key = key }

    var isWide: Bool { Int(stride) == EntityRecord.wide }

    var isLive: Bool { count > 0 }
    /// One past the newest event's absolute index.
    var end: UInt32 {
        @inline(__always) get { base &+ count }
    }

    /// The byte offset of absolute index `index` in the buffer.
    @inline(__always)
    func offset(_ index: UInt32) -> Int {
        let slot = Int(head) + Int(index &- base)
        return (slot >= Int(capacity) ? slot - Int(capacity) : slot) * Int(stride)
    }

    @inline(__always)
    func entry(_ index: UInt32) -> RingEntry {
        events.unsafelyUnwrapped.load(
            fromByteOffset: offset(index), as: RingEntry.self)
    }

    /// The attributes of the event at `index` (all ``RingAttributes/none`` in a narrow ring).
    @inline(__always)
    func attributes(_ index: UInt32) -> RingAttributes {
        guard isWide else { return .nothing }
        return events.unsafelyUnwrapped.load(
            fromByteOffset: offset(index) + MemoryLayout<RingEntry>.size,
            as: RingAttributes.self)
    }

    /// Whether `index` lies among the kept events.
    @inline(__always)
    func holds(_ index: UInt32) -> Bool { index &- base < count }

    @inline(__always)
    private func store(_ entry: RingEntry, _ extra: RingAttributes, at offset: Int) {
        let buffer = events.unsafelyUnwrapped
        buffer.storeBytes(of: entry, toByteOffset: offset, as: RingEntry.self)
        if isWide {
            buffer.storeBytes(
                of: extra, toByteOffset: offset + MemoryLayout<RingEntry>.size,
                as: RingAttributes.self)
        }
    }

    @inline(__always)
    mutating func append(_ entry: RingEntry, _ extra: RingAttributes) {
        if count == capacity { resize(to: Int(capacity) + max(2, Int(capacity) / 4)) }
        store(entry, extra, at: offset(end))
        count += 1
    }

    /// Inserts before the event now at `index`, moving the later ones up by one.
    mutating func insert(_ entry: RingEntry, _ extra: RingAttributes, at index: UInt32) {
        if count == capacity { resize(to: Int(capacity) + max(2, Int(capacity) / 4)) }
        count += 1
        let buffer = events.unsafelyUnwrapped
        var position = end &- 1
        while position != index {
            let to = offset(position)
            let from = offset(position &- 1)
            (buffer + to).copyMemory(from: buffer + from, byteCount: Int(stride))
            position = position &- 1
        }
        store(entry, extra, at: offset(index))
    }

    /// Removes the oldest event.
    @inline(__always)
    mutating func removeFirst() {
        head = head + 1 == capacity ? 0 : head + 1
        count -= 1
        base = base &+ 1
        if capacity > 8, count * 2 <= capacity {
            let wanted = max(8, Int(count) + Int(count) / 4 + 4)
            if wanted * 4 < Int(capacity) * 3 { resize(to: wanted) }
        }
    }

    /// The first absolute index whose time is greater than `time` (``end`` when none is).
    func upperBound(_ time: Int64) -> UInt32 {
        var low = 0
        var high = Int(count)
        while low < high {
            let middle = (low + high) / 2
            if entry(base &+ UInt32(middle)).time <= time {
                low = middle + 1
            } else {
                high = middle
            }
        }
        return base &+ UInt32(low)
    }

    /// Moves the events to a block of at least `wanted` events, oldest first.
    private mutating func resize(to wanted: Int) {
        let stride = Int(self.stride)
        let fresh = EntityRecord.allocate(wanted * stride)
        let room = min(osprey_allocation_size(fresh) / stride, Int(UInt32.max))
        if let events, count > 0 {
            let first = min(Int(count), Int(capacity) - Int(head))
            fresh.copyMemory(from: events + Int(head) * stride, byteCount: first * stride)
            if first < Int(count) {
                (fresh + first * stride).copyMemory(
                    from: events, byteCount: (Int(count) - first) * stride)
            }
        }
        free(events)
        events = fresh
        capacity = UInt32(room)
        head = 0
    }

    /// Gives every kept event room for its attributes (``RingAttributes/none`` for those kept
    /// so far): from the first event of a user that carries one.
    mutating func widen() {
        guard !isWide else { return }
        let wanted = Int(count) + max(2, Int(count) / 4)
        let fresh = EntityRecord.allocate(wanted * EntityRecord.wide)
        for offset in 0..<count {
            let index = base &+ offset
            fresh.storeBytes(
                of: entry(index), toByteOffset: Int(offset) * EntityRecord.wide,
                as: RingEntry.self)
            fresh.storeBytes(
                of: RingAttributes.nothing,
                toByteOffset: Int(offset) * EntityRecord.wide + EntityRecord.narrow,
                as: RingAttributes.self)
        }
        free(events)
        events = fresh
        stride = UInt32(EntityRecord.wide)
        capacity = UInt32(min(osprey_allocation_size(fresh) / EntityRecord.wide, Int(UInt32.max)))
        head = 0
    }

    private static func allocate(_ bytes: Int) -> UnsafeMutableRawPointer {
        guard let block = malloc(bytes) else { fatalError("out of memory for an entity's events") }
        return block
    }

    /// Frees both blocks and forgets the events; the key and times stay.
    mutating func releaseBuffers() {
        free(events)
        free(side)
        events = nil
        side = nil
        (capacity, head, count, sideCount, sideCapacity) = (0, 0, 0, 0, 0)
    }

    // MARK: The side table

    /// Makes room for one more 8-byte element in ``side``.
    @inline(__always)
    mutating func reserveSide() {
        guard sideCount == sideCapacity else { return }
        let wanted = Int(sideCapacity) + max(2, Int(sideCapacity) / 2)
        guard let grown = realloc(side, wanted * 8) else {
            fatalError("out of memory for an entity's table")
        }
        side = grown
        sideCapacity = UInt32(min(osprey_allocation_size(grown) / 8, Int(UInt32.max)))
    }

    /// Gives back the side table's room when it is mostly empty.
    mutating func trimSide() {
        if sideCount == 0 {
            free(side)
            side = nil
            sideCapacity = 0
        } else if sideCapacity > 8, sideCount * 3 < sideCapacity {
            guard let smaller = realloc(side, Int(sideCount) * 2 * 8) else { return }
            side = smaller
            sideCapacity = UInt32(min(osprey_allocation_size(smaller) / 8, Int(UInt32.max)))
        }
    }

    /// The side table as value uses (users).
    var uses: UnsafeMutableBufferPointer<ValueUse> {
        UnsafeMutableBufferPointer(
            start: side?.assumingMemoryBound(to: ValueUse.self), count: Int(sideCount))
    }

    /// The side table as fraud times (merchants), ascending.
    var frauds: UnsafeMutableBufferPointer<Int64> {
        UnsafeMutableBufferPointer(
            start: side?.assumingMemoryBound(to: Int64.self), count: Int(sideCount))
    }

    /// Heap bytes held by a block: what malloc gave plus its header.
    static func heldBytes(_ block: UnsafeMutableRawPointer?) -> Int {
        guard let block else { return 0 }
        return osprey_allocation_size(block) + Int(OSPREY_ALLOCATION_HEADER)
    }
}

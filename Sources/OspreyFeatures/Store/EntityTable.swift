import CSimdjsonBridge

#if canImport(Glibc)
    import Glibc
#endif

/// What one window of an entity kind keeps between events; the start is always kept.
///
/// - `full`: orders, amount sum and maximum (users, merchants' public windows);
/// - `counts`: orders only (merchants' delayed windows, which give counts);
/// - `sums`: amount sum only (devices and IPs, whose event count is the window's length).
enum WindowShape: UInt8 {
    case full, counts, sums

    /// 32-bit words kept: the start, then orders, the sum's two halves, the maximum.
    var words: Int {
        switch self {
        case .full: return 5
        case .counts: return 2
        case .sums: return 3
        }
    }
}

/// One window's values after an update: what the feature writer reads.
struct WindowValues: Equatable {
    /// Absolute ring index of the oldest event inside the window.
    var start: UInt32 = 0
    /// Events inside (clicks and orders).
    var events: UInt32 = 0
    /// Orders inside (`full` and `counts` windows).
    var orders: UInt32 = 0
    /// The largest order amount inside, `Int32.min` when there is no order (`full` windows).
    var maxCents: Int32 = .min
    /// The sum of the amounts inside (`full` and `sums` windows).
    var sumCents: Int64 = 0

    var clicks: UInt32 { events &- orders }

    @inline(__always)
    mutating func add(_ entry: RingEntry) {
        guard entry.isOrder else { return }
        orders &+= 1
        sumCents &+= Int64(entry.cents)
        maxCents = max(maxCents, entry.cents)
    }
}

/// What one update tells the feature writer about an entity.
struct EntityUpdate {
    /// Milliseconds since the entity's previous event in time order, -1 when there is none.
    var previousGapMs: Int64 = -1
    /// Milliseconds since the entity's first event.
    var ageMs: Int64 = 0
    /// Bit k set: this is the first kept event of the user with attribute value k.
    var novelty: UInt8 = 0
    var slot: UInt32 = 0
}

/// Every entity of one kind (users, merchants, devices or IPs): their records and windows'
/// running state in one block of fixed-size slots, and the index from key to slot.
///
/// A slot is an ``EntityRecord`` followed by each window's words (see ``WindowShape``): one
/// allocation for the whole table, no reference counting and no copy-on-write check on the
/// update path. The events and side tables are `malloc` blocks that this table owns.
///
/// An event's windows hold exactly the entity's events received so far whose time lies in
/// (t − length, t]. Events arriving in time order update the running state in O(1)
/// amortised per window; the maximum is rescanned only when the largest amount leaves. An
/// event older than the entity's newest is inserted in place, the running state corrected,
/// and its own windows counted by a scan.
///
/// - Important: Distinct counts and novelty scan the user's table of values in use, so their
///   cost grows with how many different devices, IPs, countries and categories a user had in
///   the longest window (a handful for real users; thousands only for abuse).
///
/// Thread: owned by one ``FeatureStore``; one thread at a time.
final class EntityTable {
    let windowsMs: [Int64]
    let shapes: [WindowShape]
    let windowCount: Int
    let retentionMs: Int64
    let tracksAttributes: Bool
    let tracksFrauds: Bool
    /// Bytes per slot.
    let slotStride: Int

    var index = SlotIndex()
    var freeSlots: ContiguousArray<UInt32> = []
    /// Slots in use or free, and room for.
    private(set) var slotCount = 0
    private var slotCapacity = 0
    private var slab: UnsafeMutableRawPointer?
    /// No live entity's newest event is before this (see ``evict(idleBefore:floor:)``).
    private var earliestNewest = Int64.min

    /// Per window, read on every update: its length, its first word in a slot, its shape.
    private let lengths: UnsafeMutableBufferPointer<Int64>
    private let wordOffsets: UnsafeMutableBufferPointer<Int>
    private let shapeCodes: UnsafeMutableBufferPointer<WindowShape>
    /// The latest update's window values, `windowCount` of them.
    let results: UnsafeMutableBufferPointer<WindowValues>
    /// The latest update's distinct counts: `[window * 4 + kind]`.
    let distinct: UnsafeMutableBufferPointer<UInt32>
    private var scratch: ContiguousArray<UInt32> = []

    static let recordBytes = MemoryLayout<EntityRecord>.stride

    init(
        windowsMs: [Int64], shapes: [WindowShape]? = nil, retentionMs: Int64,
        tracksAttributes: Bool, tracksFrauds: Bool
    ) {
        let shapes = shapes ?? Array(repeating: .full, count: windowsMs.count)
        precondition(shapes.count == windowsMs.count)
        self.windowsMs = windowsMs
        self.shapes = shapes
        self.windowCount = windowsMs.count
        self.retentionMs = retentionMs
        self.tracksAttributes = tracksAttributes
        self.tracksFrauds = tracksFrauds
        lengths = .allocate(capacity: windowsMs.count)
        _ = lengths.initialize(from: windowsMs)
        wordOffsets = .allocate(capacity: windowsMs.count)
        shapeCodes = .allocate(capacity: windowsMs.count)
        _ = shapeCodes.initialize(from: shapes)
        var words = 0
        for (window, shape) in shapes.enumerated() {
            wordOffsets[window] = words
            words += shape.words
        }
        slotStride = (EntityTable.recordBytes + words * 4 + 7) & ~7
        results = .allocate(capacity: windowsMs.count)
        results.initialize(repeating: WindowValues())
        distinct = .allocate(capacity: windowsMs.count * 4)
        distinct.initialize(repeating: 0)
    }

    deinit {
        for slot in 0..<slotCount { record(UInt32(slot)).pointee.releaseBuffers() }
        free(slab)
        lengths.deallocate()
        wordOffsets.deallocate()
        shapeCodes.deallocate()
        results.deallocate()
        distinct.deallocate()
    }

    var liveCount: Int { index.count }

    // MARK: Slots

    @inline(__always)
    func record(_ slot: UInt32) -> UnsafeMutablePointer<EntityRecord> {
        (slab.unsafelyUnwrapped + Int(slot) * slotStride).assumingMemoryBound(
            to: EntityRecord.self)
    }

    /// The first word of the slot's window state.
    @inline(__always)
    func windowWords(_ slot: UInt32) -> UnsafeMutablePointer<UInt32> {
        (slab.unsafelyUnwrapped + Int(slot) * slotStride + EntityTable.recordBytes)
            .assumingMemoryBound(to: UInt32.self)
    }

    /// Window `window` of `slot` as values (fields the shape does not keep are their
    /// defaults; `events` is not set).
    @inline(__always)
    func window(_ window: Int, of words: UnsafeMutablePointer<UInt32>) -> WindowValues {
        let word = words + wordOffsets[window]
        var values = WindowValues(start: word[0])
        switch shapeCodes[window] {
        case .full:
            values.orders = word[1]
            values.sumCents = Int64(bitPattern: UInt64(word[2]) | UInt64(word[3]) << 32)
            values.maxCents = Int32(bitPattern: word[4])
        case .counts:
            values.orders = word[1]
        case .sums:
            values.sumCents = Int64(bitPattern: UInt64(word[1]) | UInt64(word[2]) << 32)
        }
        return values
    }

    @inline(__always)
    func setWindow(
        _ window: Int, of words: UnsafeMutablePointer<UInt32>, to values: WindowValues
    ) {
        let word = words + wordOffsets[window]
        word[0] = values.start
        let sum = UInt64(bitPattern: values.sumCents)
        switch shapeCodes[window] {
        case .full:
            word[1] = values.orders
            word[2] = UInt32(truncatingIfNeeded: sum)
            word[3] = UInt32(truncatingIfNeeded: sum >> 32)
            word[4] = UInt32(bitPattern: values.maxCents)
        case .counts:
            word[1] = values.orders
        case .sums:
            word[1] = UInt32(truncatingIfNeeded: sum)
            word[2] = UInt32(truncatingIfNeeded: sum >> 32)
        }
    }

    /// Puts a fresh entity in `slot`: no events, empty windows.
    private func initialize(_ slot: UInt32, key: EntityKey) {
        record(slot).initialize(to: EntityRecord(key: key))
        let words = windowWords(slot)
        for window in 0..<windowCount { setWindow(window, of: words, to: WindowValues()) }
    }

    /// The slot of `key`, made when the entity is new.
    @inline(__always)
    func slot(for key: EntityKey) -> UInt32 {
        if let slot = index.find(key) { return slot }
        return makeSlot(for: key)
    }

    private func makeSlot(for key: EntityKey) -> UInt32 {
        let slot: UInt32
        if let reused = freeSlots.popLast() {
            slot = reused
        } else {
            // Value ids of users' devices and IPs are slots, and must stay under 2³⁰.
            precondition(slotCount < 1 << 30, "more than 2³⁰ entities of one kind")
            if slotCount == slotCapacity { growSlots(to: slotCount + slotCount / 4 + 64) }
            slot = UInt32(slotCount)
            slotCount += 1
        }
        initialize(slot, key: key)
        index.insert(key, slot: slot)
        return slot
    }

    /// Appends a slot for a snapshot being restored: the entity `key`, not yet in the index
    /// (nil: a free slot).
    func appendRestoredSlot(key: EntityKey?) -> UInt32 {
        precondition(slotCount < 1 << 30, "more than 2³⁰ entities of one kind")
        if slotCount == slotCapacity { growSlots(to: slotCount + slotCount / 4 + 64) }
        let slot = UInt32(slotCount)
        slotCount += 1
        initialize(slot, key: key ?? EntityKey(low: 0, high: 0))
        return slot
    }

    /// Words of window state per slot.
    var windowWordCount: Int { shapes.reduce(0) { $0 + $1.words } }

    /// Grows by a quarter rather than doubling: less slack (realloc moves large blocks by
    /// remapping pages, not copying).
    private func growSlots(to wanted: Int) {
        guard let grown = realloc(slab, wanted * slotStride) else {
            fatalError("out of memory for entity slots")
        }
        slab = grown
        slotCapacity = osprey_allocation_size(grown) / slotStride
    }

    // MARK: Prefetching

    /// Hints the processor to load what an update of `key` will touch, in three stages that
    /// a caller issues for events further and further ahead, so that each stage finds in the
    /// cache what the one before it asked for: the index bucket (stage 0), the entity's slot
    /// (stage 1), the events at its windows' starts and its newest (stage 2). A hint only.
    @inline(__always)
    func prefetch(_ key: EntityKey, stage: Int) {
        if stage == 0 {
            index.prefetch(key)
            return
        }
        guard let slot = index.find(key) else { return }
        let start = UnsafeRawPointer(record(slot))
        if stage == 1 {
            for offset in Swift.stride(from: 0, to: slotStride, by: 64) {
                osprey_prefetch(start + offset)
            }
            return
        }
        let entity = record(slot).pointee
        guard let events = entity.events, entity.count > 0 else { return }
        osprey_prefetch(events + entity.offset(entity.end &- 1))
        let words = windowWords(slot)
        for window in 0..<windowCount {
            let begin = words[wordOffsets[window]]
            if entity.holds(begin) {
                osprey_prefetch(events + entity.offset(begin))
            }
        }
    }

    // MARK: Updates

    /// Records one event of the entity `key` and leaves its window values in ``results``.
    func update(
        _ key: EntityKey, time: Int64, entry: RingEntry, attributes: RingAttributes
    ) -> EntityUpdate {
        let slot = self.slot(for: key)
        var update = EntityUpdate()
        update.slot = slot
        let entity = record(slot)
        if tracksAttributes, !entity.pointee.isWide, attributes != .nothing {
            entity.pointee.widen()
        }
        if entity.pointee.count == 0 || time >= entity.pointee.newest {
            appendInOrder(entity, windowWords(slot), entry, attributes, &update)
        } else {
            insertLate(entity, windowWords(slot), entry, attributes, &update)
        }
        return update
    }

    private func appendInOrder(
        _ entity: UnsafeMutablePointer<EntityRecord>, _ words: UnsafeMutablePointer<UInt32>,
        _ entry: RingEntry, _ attributes: RingAttributes, _ update: inout EntityUpdate
    ) {
        let time = entry.time
        if entity.pointee.newest != .min { update.previousGapMs = time - entity.pointee.newest }
        entity.pointee.firstSeen = min(entity.pointee.firstSeen, time)
        update.ageMs = time - entity.pointee.firstSeen
        if entity.pointee.count == 0 {
            let start = entity.pointee.end
            for window in 0..<windowCount { words[wordOffsets[window]] = start }
        }
        entity.pointee.append(entry, attributes)
        entity.pointee.newest = time

        let record = entity.pointee
        let end = record.end
        for window in 0..<windowCount {
            var values = self.window(window, of: words)
            values.add(entry)
            let bound = time - lengths[window]
            var rescan = false
            while values.start != end {
                let old = record.entry(values.start)
                guard old.time <= bound else { break }
                if old.isOrder {
                    values.orders &-= 1
                    values.sumCents &-= Int64(old.cents)
                    if old.cents == values.maxCents { rescan = true }
                }
                values.start = values.start &+ 1
            }
            if rescan, shapeCodes[window] == .full {
                values.maxCents = maximum(record, from: values.start)
            }
            setWindow(window, of: words, to: values)
            values.events = end &- values.start
            results[window] = values
        }

        if tracksAttributes {
            update.novelty = use(entity, attributes, at: end &- 1)
            countDistinct(entity.pointee, words)
        }
        expire(entity, before: time - retentionMs)
    }

    private func insertLate(
        _ entity: UnsafeMutablePointer<EntityRecord>, _ words: UnsafeMutablePointer<UInt32>,
        _ entry: RingEntry, _ attributes: RingAttributes, _ update: inout EntityUpdate
    ) {
        let time = entry.time
        let position = entity.pointee.upperBound(time)
        if position != entity.pointee.base {
            update.previousGapMs = time - entity.pointee.entry(position &- 1).time
        }
        entity.pointee.firstSeen = min(entity.pointee.firstSeen, time)
        update.ageMs = time - entity.pointee.firstSeen
        if tracksAttributes { shiftUses(entity.pointee, from: position) }
        entity.pointee.insert(entry, attributes, at: position)
        if tracksAttributes { update.novelty = use(entity, attributes, at: position) }

        // The running state describes windows ending at the newest event: correct it.
        let newest = entity.pointee.newest
        for window in 0..<windowCount {
            var values = self.window(window, of: words)
            if time > newest - lengths[window] {
                values.add(entry)
            } else {
                values.start = values.start &+ 1
            }
            setWindow(window, of: words, to: values)
        }
        scanWindows(entity.pointee, endingAt: position, time: time)
    }

    /// Counts the windows ending at the event at `position` (time `time`) by walking back.
    private func scanWindows(_ record: EntityRecord, endingAt position: UInt32, time: Int64) {
        let longest = windowsMs.max() ?? 0
        for window in 0..<windowCount { results[window] = WindowValues() }
        var index = position &+ 1
        while index != record.base {
            index = index &- 1
            let entry = record.entry(index)
            guard time - entry.time < longest else { break }
            for window in 0..<windowCount where time - entry.time < lengths[window] {
                results[window].events &+= 1
                results[window].add(entry)
            }
        }
        guard tracksAttributes else { return }
        for window in 0..<windowCount {
            for kind in 0..<4 {
                scratch.removeAll(keepingCapacity: true)
                var index = position &+ 1
                while index != record.base {
                    index = index &- 1
                    guard time - record.entry(index).time < lengths[window]
                    else { break }
                    let value = record.attributes(index)[kind]
                    if value != RingAttributes.none { scratch.append(value) }
                }
                scratch.sort()
                var unique: UInt32 = 0
                for offset in scratch.indices
                where offset == 0 || scratch[offset - 1] != scratch[offset] {
                    unique += 1
                }
                distinct[window * 4 + kind] = unique
            }
        }
    }

    /// Counts, per window and kind, the values whose newest use lies inside the window
    /// (in-order events, whose windows end at the newest event).
    private func countDistinct(_ record: EntityRecord, _ words: UnsafeMutablePointer<UInt32>) {
        for offset in distinct.indices { distinct[offset] = 0 }
        let base = record.base
        for use in record.uses {
            let age = use.lastIndex &- base
            let kind = use.kind
            for window in 0..<windowCount where age >= words[wordOffsets[window]] &- base {
                distinct[window &* 4 &+ kind] &+= 1
            }
        }
    }

    /// Adds the attribute values of the event now at `index` to the user's table; returns the
    /// novelty bits.
    private func use(
        _ entity: UnsafeMutablePointer<EntityRecord>, _ attributes: RingAttributes,
        at index: UInt32
    ) -> UInt8 {
        var novelty: UInt8 = 0
        let base = entity.pointee.base
        for kind in 0..<4 {
            let value = attributes[kind]
            guard value != RingAttributes.none else { continue }
            let tagged = UInt32(kind) << 30 | value
            let uses = entity.pointee.uses
            if let found = uses.firstIndex(where: { $0.kindAndValue == tagged }) {
                let last = uses[found].lastIndex
                if !entity.pointee.holds(last) {
                    novelty |= 1 << UInt8(kind)
                    uses[found].lastIndex = index
                } else if index &- base > last &- base {
                    uses[found].lastIndex = index
                }
            } else {
                entity.pointee.reserveSide()
                let count = Int(entity.pointee.sideCount)
                entity.pointee.sideCount += 1
                entity.pointee.uses[count] = ValueUse(kindAndValue: tagged, lastIndex: index)
                novelty |= 1 << UInt8(kind)
            }
        }
        return novelty
    }

    /// Before an event is inserted at `position`: the uses at or after it move up by one.
    private func shiftUses(_ record: EntityRecord, from position: UInt32) {
        let base = record.base
        let uses = record.uses
        for offset in uses.indices
        where record.holds(uses[offset].lastIndex)
            && uses[offset].lastIndex &- base >= position &- base
        {
            uses[offset].lastIndex = uses[offset].lastIndex &+ 1
        }
    }

    /// Removes events at or before `bound`, and the values and fraud times that left with them.
    private func expire(_ entity: UnsafeMutablePointer<EntityRecord>, before bound: Int64) {
        var removed = false
        while entity.pointee.count > 0,
            entity.pointee.entry(entity.pointee.base).time <= bound
        {
            entity.pointee.removeFirst()
            removed = true
        }
        if tracksAttributes, removed {
            var uses = entity.pointee.uses
            var offset = 0
            while offset < uses.count {
                if entity.pointee.holds(uses[offset].lastIndex) {
                    offset += 1
                } else {
                    uses[offset] = uses[uses.count - 1]
                    entity.pointee.sideCount -= 1
                    uses = entity.pointee.uses
                }
            }
            entity.pointee.trimSide()
        }
        if tracksFrauds, entity.pointee.sideCount > 0 {
            let frauds = entity.pointee.frauds
            var drop = 0
            while drop < frauds.count, frauds[drop] <= bound { drop += 1 }
            if drop > 0 {
                let kept = frauds.count - drop
                frauds.baseAddress!.update(from: frauds.baseAddress! + drop, count: kept)
                entity.pointee.sideCount = UInt32(kept)
                entity.pointee.trimSide()
            }
        }
    }

    private func maximum(_ record: EntityRecord, from start: UInt32) -> Int32 {
        var best = Int32.min
        var index = start
        let end = record.end
        while index != end {
            let entry = record.entry(index)
            if entry.isOrder { best = max(best, entry.cents) }
            index = index &+ 1
        }
        return best
    }

    // MARK: Merchants' labels

    /// Notes that the transaction at `time` of merchant `key` was fraud. Returns false when the
    /// merchant is unknown or the transaction is older than what the merchant keeps.
    func addFraud(_ key: EntityKey, time: Int64) -> Bool {
        guard let slot = index.find(key) else { return false }
        let entity = record(slot)
        let bound = entity.pointee.newest - retentionMs
        guard time > bound else { return false }
        entity.pointee.reserveSide()
        entity.pointee.sideCount += 1
        let frauds = entity.pointee.frauds
        var position = frauds.count - 1
        while position > 0, frauds[position - 1] > time {
            frauds[position] = frauds[position - 1]
            position -= 1
        }
        frauds[position] = time
        return true
    }

    /// How many of the merchant's transactions with time in (`from`, `to`] are known to be
    /// fraud.
    func frauds(slot: UInt32, from: Int64, to: Int64) -> Int {
        var count = 0
        for time in record(slot).pointee.frauds where time > from && time <= to { count += 1 }
        return count
    }

    /// The newest and the oldest of the merchant's fraud times in (`from`, `to`], nil when
    /// there is none.
    func fraudSpan(slot: UInt32, from: Int64, to: Int64) -> (newest: Int64, oldest: Int64)? {
        var span: (newest: Int64, oldest: Int64)?
        // Fraud times are ascending: the first inside is the oldest, the last the newest.
        for time in record(slot).pointee.frauds where time > from && time <= to {
            span = (time, span?.oldest ?? time)
        }
        return span
    }

    /// Among the merchant's newest `orders` orders with time at or before `to`, together with
    /// every other order at the same time as the oldest of them, how many there are and how
    /// many are known to be fraud.
    ///
    /// - Complexity: O(log n) to find `to` among the n kept events, then the orders visited
    ///   and the fraud times.
    func newestOrders(slot: UInt32, upTo to: Int64, orders: Int) -> (orders: Int, frauds: Int) {
        let entity = record(slot).pointee
        guard entity.count > 0 else { return (0, 0) }
        var index = entity.upperBound(to)
        var counted = 0
        var earliest = Int64.max
        while index != entity.base {
            let entry = entity.entry(index &- 1)
            guard counted < orders || entry.time == earliest else { break }
            index = index &- 1
            guard entry.isOrder else { continue }
            counted += 1
            earliest = entry.time
        }
        guard counted > 0 else { return (0, 0) }
        return (counted, frauds(slot: slot, from: earliest - 1, to: to))
    }

    // MARK: Eviction and accounting

    /// Forgets every entity whose newest event is at or before `bound`; returns how many.
    ///
    /// - Parameter floor: the earliest time any later event can be recorded at (the store's
    ///   lateness bound). With it the table remembers a time before every entity's newest, and
    ///   a sweep that could find nothing does not visit the slots.
    func evict(idleBefore bound: Int64, floor: Int64) -> Int {
        guard bound >= earliestNewest else { return 0 }
        var evicted = 0
        var earliest = floor
        for slot in 0..<UInt32(slotCount) {
            let entity = record(slot)
            guard entity.pointee.count > 0 else { continue }
            guard entity.pointee.newest <= bound else {
                earliest = min(earliest, entity.pointee.newest)
                continue
            }
            index.remove(entity.pointee.key)
            entity.pointee.releaseBuffers()
            initialize(slot, key: EntityKey(low: 0, high: 0))
            freeSlots.append(slot)
            evicted += 1
        }
        // Newest times only grow, and new entities start at or after the floor.
        earliestNewest = earliest
        return evicted
    }

    /// Bytes held by this table, split into what every entity costs whatever its activity and
    /// what grows with the events kept: the blocks' sizes as the allocator reports them (with
    /// its per-block header), not a formula.
    func stateBytes() -> (fixed: Int, perEvent: Int, events: Int) {
        var eventBytes = 0
        var events = 0
        var sideBytes = 0
        for slot in 0..<UInt32(slotCount) {
            let entity = record(slot).pointee
            eventBytes += EntityRecord.heldBytes(entity.events)
            events += Int(entity.count)
            sideBytes += EntityRecord.heldBytes(entity.side)
        }
        let fixed =
            EntityRecord.heldBytes(slab) + index.heapBytes + freeSlots.capacity * 4 + sideBytes
        return (fixed, eventBytes, events)
    }
}

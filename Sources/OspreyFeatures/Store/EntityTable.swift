import CSimdjsonBridge

/// One window's running aggregates over an entity's events: 24 bytes.
struct WindowState: Equatable {
    /// Absolute ring index of the oldest event inside the window.
    var start: UInt32 = 0
    var orders: UInt32 = 0
    var clicks: UInt32 = 0
    /// The largest order amount inside, `Int32.min` when there is no order.
    var maxCents: Int32 = .min
    var sumCents: Int64 = 0

    @inline(__always)
    mutating func add(_ entry: RingEntry) {
        if entry.isOrder {
            orders &+= 1
            sumCents &+= Int64(entry.cents)
            maxCents = max(maxCents, entry.cents)
        } else {
            clicks &+= 1
        }
    }
}

/// A value a user has used (device, IP, country or category), with how many of the user's
/// kept events carry it and when it was last seen: 16 bytes.
struct ValueUse: Equatable {
    var value: UInt32
    /// The attribute kind (0 device, 1 IP, 2 country, 3 category) in the top two bits, the
    /// reference count below.
    var kindAndReferences: UInt32
    var lastTime: Int64

    var kind: Int { Int(kindAndReferences >> 30) }
    var references: UInt32 { kindAndReferences & 0x3fff_ffff }
}

/// The state of one entity: its events, its first-seen time, and for users the values it has
/// used, for merchants the times of transactions labelled fraud.
struct EntityRecord {
    var key: EntityKey
    var ring: EventRing
    var values: ContiguousArray<ValueUse> = []
    /// Times of this merchant's transactions labelled fraud, ascending.
    var frauds: ContiguousArray<Int64> = []
    var firstSeen: Int64 = .max
    /// The newest event time, `Int64.min` before the first event.
    var newest: Int64 = .min
    var live = false
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

/// Every entity of one kind (users, merchants, devices or IPs): their records, the windows'
/// running state in one flat array (`slot * windowCount + window`), and the index from key
/// to slot.
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
    let windowCount: Int
    let retentionMs: Int64
    let tracksAttributes: Bool
    let tracksFrauds: Bool

    var index = SlotIndex()
    var records: ContiguousArray<EntityRecord> = []
    var windows: ContiguousArray<WindowState> = []
    var freeSlots: ContiguousArray<UInt32> = []

    /// The latest update's window values, `windowCount` of them.
    var results: ContiguousArray<WindowState>
    /// The latest update's distinct counts: `[window * 4 + kind]`.
    var distinct: ContiguousArray<UInt32>
    private var scratch: ContiguousArray<UInt32> = []

    init(windowsMs: [Int64], retentionMs: Int64, tracksAttributes: Bool, tracksFrauds: Bool) {
        self.windowsMs = windowsMs
        self.windowCount = windowsMs.count
        self.retentionMs = retentionMs
        self.tracksAttributes = tracksAttributes
        self.tracksFrauds = tracksFrauds
        results = ContiguousArray(repeating: WindowState(), count: windowsMs.count)
        distinct = ContiguousArray(repeating: 0, count: windowsMs.count * 4)
    }

    var liveCount: Int { index.count }

    /// The slot of `key`, made when the entity is new.
    @inline(__always)
    func slot(for key: EntityKey) -> UInt32 {
        if let slot = index.find(key) { return slot }
        let slot: UInt32
        if let reused = freeSlots.popLast() {
            slot = reused
            records[Int(slot)] = EntityRecord(
                key: key, ring: EventRing(tracksAttributes: tracksAttributes))
        } else {
            slot = UInt32(records.count)
            if records.count == records.capacity {
                // Grow by half rather than the standard library's doubling: less slack.
                let grown = records.count + records.count / 2 + 64
                records.reserveCapacity(grown)
                windows.reserveCapacity(grown * windowCount)
            }
            records.append(
                EntityRecord(key: key, ring: EventRing(tracksAttributes: tracksAttributes)))
            windows.append(contentsOf: repeatElement(WindowState(), count: windowCount))
        }
        records[Int(slot)].live = true
        index.insert(key, slot: slot)
        return slot
    }

    /// Hints the processor to load what an update of `key` will touch, in three stages that
    /// a caller issues for events further and further ahead, so that each stage finds in the
    /// cache what the one before it asked for: the index bucket (stage 0), the entity's record
    /// and window state (stage 1), the events at its windows' starts (stage 2). A hint only.
    @inline(__always)
    func prefetch(_ key: EntityKey, stage: Int) {
        if stage == 0 {
            index.prefetch(key)
            return
        }
        guard let slot = index.find(key) else { return }
        let base = Int(slot) * windowCount
        records.withUnsafeBufferPointer { records in
            windows.withUnsafeBufferPointer { windows in
                let record = records.baseAddress! + Int(slot)
                if stage == 1 {
                    let stateBytes = windowCount * MemoryLayout<WindowState>.stride
                    let state = UnsafeRawPointer(windows.baseAddress! + base)
                    for offset in Swift.stride(from: 0, to: stateBytes, by: 64) {
                        osprey_prefetch(state + offset)
                    }
                    osprey_prefetch(record)
                    osprey_prefetch(UnsafeRawPointer(record) + 64)
                    return
                }
                // In place (see EventRing.prefetch): nothing is written through this pointer.
                UnsafeMutablePointer(mutating: record).pointee.ring.prefetch(
                    starts: UnsafeBufferPointer(rebasing: windows[base..<(base + windowCount)]))
            }
        }
    }

    /// Records one event of the entity `key` and leaves its window values in ``results``.
    func update(
        _ key: EntityKey, time: Int64, entry: RingEntry, attributes: RingAttributes
    ) -> EntityUpdate {
        let slot = self.slot(for: key)
        var update = EntityUpdate()
        update.slot = slot
        let windowBase = Int(slot) * windowCount
        records.withUnsafeMutableBufferPointer { records in
            windows.withUnsafeMutableBufferPointer { windows in
                let state = UnsafeMutableBufferPointer(
                    rebasing: windows[windowBase..<(windowBase + windowCount)])
                if records[Int(slot)].ring.isEmpty || time >= records[Int(slot)].newest {
                    appendInOrder(&records[Int(slot)], state, entry, attributes, &update)
                } else {
                    insertLate(&records[Int(slot)], state, entry, attributes, &update)
                }
            }
        }
        return update
    }

    private func appendInOrder(
        _ record: inout EntityRecord, _ state: UnsafeMutableBufferPointer<WindowState>,
        _ entry: RingEntry, _ attributes: RingAttributes, _ update: inout EntityUpdate
    ) {
        let time = entry.time
        if record.newest != .min { update.previousGapMs = time - record.newest }
        record.firstSeen = min(record.firstSeen, time)
        update.ageMs = time - record.firstSeen
        if record.ring.isEmpty {
            for window in 0..<windowCount { state[window].start = record.ring.end }
        }
        record.ring.append(entry, attributes)
        record.newest = time

        for window in 0..<windowCount {
            var aggregate = state[window]
            aggregate.add(entry)
            let bound = time - windowsMs[window]
            var rescan = false
            while aggregate.start != record.ring.end {
                let old = record.ring[aggregate.start]
                guard old.time <= bound else { break }
                if old.isOrder {
                    aggregate.orders &-= 1
                    aggregate.sumCents &-= Int64(old.cents)
                    if old.cents == aggregate.maxCents { rescan = true }
                } else {
                    aggregate.clicks &-= 1
                }
                aggregate.start = aggregate.start &+ 1
            }
            if rescan { aggregate.maxCents = maximum(record.ring, from: aggregate.start) }
            state[window] = aggregate
            results[window] = aggregate
        }

        if tracksAttributes {
            update.novelty = use(&record, attributes, time: time)
            countDistinct(record, time: time)
        }
        expire(&record, before: time - retentionMs)
    }

    private func insertLate(
        _ record: inout EntityRecord, _ state: UnsafeMutableBufferPointer<WindowState>,
        _ entry: RingEntry, _ attributes: RingAttributes, _ update: inout EntityUpdate
    ) {
        let time = entry.time
        let position = record.ring.upperBound(time)
        if position != record.ring.base {
            update.previousGapMs = time - record.ring[position &- 1].time
        }
        record.firstSeen = min(record.firstSeen, time)
        update.ageMs = time - record.firstSeen
        if tracksAttributes { update.novelty = use(&record, attributes, time: time) }
        record.ring.insert(entry, attributes, at: position)

        // The running state describes windows ending at the newest event: correct it.
        for window in 0..<windowCount {
            if time > record.newest - windowsMs[window] {
                state[window].add(entry)
            } else {
                state[window].start = state[window].start &+ 1
            }
        }
        scanWindows(record, endingAt: position, time: time)
    }

    /// Counts the windows ending at the event at `position` (time `time`) by walking back.
    private func scanWindows(_ record: EntityRecord, endingAt position: UInt32, time: Int64) {
        let longest = windowsMs.max() ?? 0
        for window in 0..<windowCount { results[window] = WindowState() }
        var index = position &+ 1
        while index != record.ring.base {
            index = index &- 1
            let entry = record.ring[index]
            guard time - entry.time < longest else { break }
            for window in 0..<windowCount where time - entry.time < windowsMs[window] {
                results[window].add(entry)
            }
        }
        guard tracksAttributes else { return }
        for window in 0..<windowCount {
            for kind in 0..<4 {
                scratch.removeAll(keepingCapacity: true)
                var index = position &+ 1
                while index != record.ring.base {
                    index = index &- 1
                    guard time - record.ring[index].time < windowsMs[window] else { break }
                    let value = record.ring.attributes(at: index)[kind]
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

    /// Counts, per window and kind, the values last used inside the window (in-order events).
    private func countDistinct(_ record: EntityRecord, time: Int64) {
        for offset in distinct.indices { distinct[offset] = 0 }
        for use in record.values {
            for window in 0..<windowCount where use.lastTime > time - windowsMs[window] {
                distinct[window * 4 + use.kind] += 1
            }
        }
    }

    /// Adds one event's attribute values to the user's table; returns the novelty bits.
    private func use(_ record: inout EntityRecord, _ attributes: RingAttributes, time: Int64)
        -> UInt8
    {
        var novelty: UInt8 = 0
        for kind in 0..<4 {
            let value = attributes[kind]
            guard value != RingAttributes.none else { continue }
            if let found = record.values.firstIndex(where: {
                $0.value == value && $0.kind == kind
            }) {
                record.values[found].kindAndReferences += 1
                record.values[found].lastTime = max(record.values[found].lastTime, time)
            } else {
                record.values.append(
                    ValueUse(
                        value: value, kindAndReferences: UInt32(kind) << 30 | 1,
                        lastTime: time))
                novelty |= 1 << UInt8(kind)
            }
        }
        return novelty
    }

    /// Removes events at or before `bound`, releasing their values and fraud times.
    private func expire(_ record: inout EntityRecord, before bound: Int64) {
        while !record.ring.isEmpty, record.ring[record.ring.base].time <= bound {
            if tracksAttributes {
                let attributes = record.ring.attributes(at: record.ring.base)
                for kind in 0..<4 where attributes[kind] != RingAttributes.none {
                    release(&record, kind: kind, value: attributes[kind])
                }
            }
            record.ring.removeFirst()
        }
        if tracksFrauds {
            var drop = 0
            while drop < record.frauds.count, record.frauds[drop] <= bound { drop += 1 }
            if drop > 0 { record.frauds.removeFirst(drop) }
        }
    }

    private func release(_ record: inout EntityRecord, kind: Int, value: UInt32) {
        guard
            let found = record.values.firstIndex(where: { $0.value == value && $0.kind == kind })
        else { return }
        if record.values[found].references <= 1 {
            record.values.swapAt(found, record.values.count - 1)
            record.values.removeLast()
        } else {
            record.values[found].kindAndReferences -= 1
        }
    }

    private func maximum(_ ring: EventRing, from start: UInt32) -> Int32 {
        var best = Int32.min
        var index = start
        while index != ring.end {
            let entry = ring[index]
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
        let bound = records[Int(slot)].newest - retentionMs
        guard time > bound else { return false }
        let frauds = records[Int(slot)].frauds
        var position = frauds.count
        while position > 0, frauds[position - 1] > time { position -= 1 }
        records[Int(slot)].frauds.insert(time, at: position)
        return true
    }

    /// How many of the merchant's transactions with time in (`from`, `to`] are known to be
    /// fraud.
    func frauds(slot: UInt32, from: Int64, to: Int64) -> Int {
        var count = 0
        for time in records[Int(slot)].frauds where time > from && time <= to { count += 1 }
        return count
    }

    // MARK: Eviction and accounting

    /// Forgets every entity whose newest event is at or before `bound`; returns how many.
    func evict(idleBefore bound: Int64) -> Int {
        var evicted = 0
        for slot in records.indices where records[slot].live && records[slot].newest <= bound {
            index.remove(records[slot].key)
            records[slot] = EntityRecord(
                key: EntityKey(low: 0, high: 0), ring: EventRing(tracksAttributes: false))
            for window in 0..<windowCount { windows[slot * windowCount + window] = WindowState() }
            freeSlots.append(UInt32(slot))
            evicted += 1
        }
        return evicted
    }

    /// Bytes held by this table, split into what every entity costs whatever its activity and
    /// what grows with the events kept.
    func stateBytes() -> (fixed: Int, perEvent: Int, events: Int) {
        var eventBytes = 0
        var events = 0
        var valueBytes = 0
        for record in records where record.live {
            eventBytes += record.ring.heapBytes
            events += Int(record.ring.count)
            valueBytes +=
                record.values.capacity * MemoryLayout<ValueUse>.stride + record.frauds.capacity
                * 8
        }
        // Swift arrays carry a 32-byte header and malloc adds about 16 bytes per block: counted
        // for every block an entity owns (its ring, its value table, its fraud times).
        let blockOverhead = 48
        var blocks = 0
        for record in records where record.live {
            blocks +=
                (record.ring.hasBuffer ? 1 : 0) + (record.values.capacity > 0 ? 1 : 0)
                + (record.frauds.capacity > 0 ? 1 : 0)
        }
        let fixed =
            records.capacity * MemoryLayout<EntityRecord>.stride + windows.capacity
            * MemoryLayout<WindowState>.stride + index.heapBytes + freeSlots.capacity * 4
            + valueBytes + blocks * blockOverhead
        return (fixed, eventBytes, events)
    }
}

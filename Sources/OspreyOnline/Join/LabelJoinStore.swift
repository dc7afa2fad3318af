/// The feature vectors of scored events, kept until their labels come: the point-in-time
/// half of the label join.
///
/// When an event that can later be labelled is scored, ``keep(_:)`` stores the vector the
/// model saw and the outputs it gave. A label finds the entry by event key (``join(_:heads:)``)
/// and gets that vector back, never a recomputed one. Entries leave in arrival order: when
/// the store is full (``maxEntries``) or when they are older than ``ttlMs`` behind the newest
/// event time (``expire(now:)``). An entry stays after a join, so that a second label for the
/// same head is recognised as a duplicate; the keys of entries that left are remembered (as
/// many as ``maxEntries``) so that a label for one of them is counted as late rather than
/// unmatched.
///
/// Memory: `maxEntries × (vectorWidth + outputWidth) × 4` bytes plus small per-entry fields.
///
/// Thread: owned by one thread (the scorer's loop or the backtest).
public struct LabelJoinStore: Sendable {
    /// One kept event.
    public struct Entry: Sendable, Equatable {
        public var eventKey: UInt64
        public var userKey: UInt64
        public var timeMs: Int64
        public var category: String?
        /// `[vectorWidth]`: the raw feature vector the model scored.
        public var vector: [Float]
        /// `[outputWidth]`: every head's outputs at decision time, heads in model order.
        public var outputs: [Float]
        /// Bit `h` is set once head `h` has been labelled.
        public var labelled: UInt32 = 0

        public init(
            eventKey: UInt64, userKey: UInt64, timeMs: Int64, category: String?,
            vector: [Float], outputs: [Float]
        ) {
            self.eventKey = eventKey
            self.userKey = userKey
            self.timeMs = timeMs
            self.category = category
            self.vector = vector
            self.outputs = outputs
        }
    }

    /// What happened to labels and entries since the store was made.
    public struct Counts: Sendable, Equatable {
        public var kept = 0
        public var joined = 0
        /// Labels for an event the store never held (or forgot beyond its memory of keys).
        public var unmatched = 0
        /// Labels for an event whose entry had already left (TTL or size).
        public var late = 0
        /// Labels for a head that the event already had a label for.
        public var duplicate = 0
        /// Entries that left because they outlived the TTL.
        public var expired = 0
        /// Entries that left because the store was full.
        public var evicted = 0
        /// Events kept again under a key already present (the newer one replaces it).
        public var replaced = 0
        public init() {}
    }

    /// The outcome of a join.
    public enum JoinResult: Sendable, Equatable {
        case joined(Entry)
        case unmatched, late, duplicate
    }

    public let vectorWidth: Int
    public let outputWidth: Int
    public let maxEntries: Int
    public let ttlMs: Int64
    public private(set) var counts = Counts()

    /// Entries in arrival order from `head`; `nil` marks a slot whose entry was replaced.
    private var ring: [Entry?] = []
    private var head = 0
    /// The sequence number of `ring[0]`: every entry kept gets the next number, for ever.
    private var base = 0
    private var index: [UInt64: Int] = [:]
    /// Keys of entries that left, oldest first from `goneHead`.
    private var gone: [UInt64] = []
    private var goneHead = 0
    private var goneSet: Set<UInt64> = []

    public init(vectorWidth: Int, outputWidth: Int, maxEntries: Int, ttlMs: Int64) {
        precondition(maxEntries > 0 && ttlMs > 0, "the join store needs room and a TTL")
        self.vectorWidth = vectorWidth
        self.outputWidth = outputWidth
        self.maxEntries = maxEntries
        self.ttlMs = ttlMs
    }

    /// Entries held now.
    public var count: Int { index.count }

    /// Keeps a scored event; the oldest entry leaves first when the store is full.
    public mutating func keep(_ entry: Entry) {
        precondition(
            entry.vector.count == vectorWidth && entry.outputs.count == outputWidth,
            "entry widths differ from the store's")
        if let slot = index[entry.eventKey] {
            ring[slot] = nil
            counts.replaced += 1
        }
        while ring.count - head >= maxEntries { dropOldest(expired: false) }
        index[entry.eventKey] = ring.count
        ring.append(entry)
        counts.kept += 1
        compact()
    }

    /// Removes the entries older than `now - ttlMs`.
    public mutating func expire(now: Int64) {
        let cutoff = now - ttlMs
        while head < ring.count {
            guard let entry = ring[head] else {
                head += 1
                continue
            }
            guard entry.timeMs < cutoff else { break }
            dropOldest(expired: true)
        }
        compact()
    }

    /// Joins a label for the heads in `heads` (a bit per head index) to its event.
    ///
    /// Returns the entry as it was kept; marks those heads as labelled. A label whose heads
    /// are all labelled already is a duplicate and changes nothing.
    public mutating func join(_ eventKey: UInt64, heads: UInt32) -> JoinResult {
        guard let slot = index[eventKey], var entry = ring[slot] else {
            if goneSet.contains(eventKey) {
                counts.late += 1
                return .late
            }
            counts.unmatched += 1
            return .unmatched
        }
        guard entry.labelled & heads != heads else {
            counts.duplicate += 1
            return .duplicate
        }
        entry.labelled |= heads
        ring[slot] = entry
        counts.joined += 1
        return .joined(entry)
    }

    /// The entry for an event key, if held (for inspection and tests).
    public func entry(_ eventKey: UInt64) -> Entry? { index[eventKey].flatMap { ring[$0] } }

    private mutating func dropOldest(expired: Bool) {
        guard head < ring.count else { return }
        if let entry = ring[head] {
            index.removeValue(forKey: entry.eventKey)
            remember(entry.eventKey)
            if expired { counts.expired += 1 } else { counts.evicted += 1 }
        }
        ring[head] = nil
        head += 1
    }

    private mutating func remember(_ key: UInt64) {
        gone.append(key)
        goneSet.insert(key)
        if gone.count - goneHead > maxEntries {
            goneSet.remove(gone[goneHead])
            goneHead += 1
        }
        if goneHead > 4096, goneHead * 2 > gone.count {
            gone.removeFirst(goneHead)
            goneHead = 0
        }
    }

    /// Moves the live part of the ring to the front once the dead prefix dominates.
    private mutating func compact() {
        guard head > 4096, head * 2 > ring.count else { return }
        ring.removeFirst(head)
        base += head
        head = 0
        index.removeAll(keepingCapacity: true)
        for (slot, entry) in ring.enumerated() {
            if let entry { index[entry.eventKey] = slot }
        }
    }
}

extension LabelJoinStore {
    /// The settings and the counts, which both saved forms begin with.
    fileprivate func writeSettingsAndCounts(_ writer: inout ByteWriter) {
        writer.int(vectorWidth)
        writer.int(outputWidth)
        writer.int(maxEntries)
        writer.int64(ttlMs)
        for value in [
            counts.kept, counts.joined, counts.unmatched, counts.late, counts.duplicate,
            counts.expired, counts.evicted, counts.replaced,
        ] { writer.int(value) }
    }

    /// An empty store with the settings and counts that ``writeSettingsAndCounts(_:)`` wrote.
    fileprivate static func readSettingsAndCounts(_ reader: inout ByteReader, what: String)
        throws(OnlineError) -> LabelJoinStore
    {
        let vectorWidth = try reader.int()
        let outputWidth = try reader.int()
        let maxEntries = try reader.int()
        let ttl = try reader.int64()
        guard vectorWidth >= 0, outputWidth >= 0, maxEntries > 0, ttl > 0 else {
            throw .corruptState("\(what): bad settings")
        }
        var store = LabelJoinStore(
            vectorWidth: vectorWidth, outputWidth: outputWidth, maxEntries: maxEntries, ttlMs: ttl)
        var values: [Int] = []
        for _ in 0..<8 { values.append(try reader.int()) }
        store.counts.kept = values[0]
        store.counts.joined = values[1]
        store.counts.unmatched = values[2]
        store.counts.late = values[3]
        store.counts.duplicate = values[4]
        store.counts.expired = values[5]
        store.counts.evicted = values[6]
        store.counts.replaced = values[7]
        return store
    }

    /// The store as bytes, for a checkpoint: settings, counts, the entries in arrival order
    /// and the remembered keys. ``init(bytes:)`` restores an equal store.
    public func serialised() -> [UInt8] {
        var writer = ByteWriter()
        writer.bytes(Array("OSPJOIN1".utf8))
        writeSettingsAndCounts(&writer)
        let live = ring[head...].compactMap { $0 }
        writer.data.reserveCapacity(
            writer.data.count + live.count * (48 + 4 * (vectorWidth + outputWidth)))
        writer.int(live.count)
        for entry in live {
            writer.uint64(entry.eventKey)
            writer.uint64(entry.userKey)
            writer.int64(entry.timeMs)
            writer.uint64(UInt64(entry.labelled))
            writer.optionalString(entry.category)
            writer.floats(entry.vector)
            writer.floats(entry.outputs)
        }
        let keys = gone[goneHead...]
        writer.int(keys.count)
        for key in keys { writer.uint64(key) }
        return writer.data
    }

    /// Restores a store from ``serialised()`` bytes.
    ///
    /// - Throws: ``OnlineError/corruptState(_:)`` when the bytes are truncated, of another
    ///   format, or inconsistent.
    public init(bytes: [UInt8]) throws(OnlineError) {
        var reader = ByteReader(bytes)
        guard try reader.bytes(8) == Array("OSPJOIN1".utf8) else {
            throw .corruptState("join store: not a join store (bad magic)")
        }
        self = try Self.readSettingsAndCounts(&reader, what: "join store")
        let live = try reader.int()
        guard live >= 0, live <= maxEntries else { throw .corruptState("join store: bad count") }
        for _ in 0..<live {
            let key = try reader.uint64()
            let user = try reader.uint64()
            let time = try reader.int64()
            let labelled = UInt32(truncatingIfNeeded: try reader.uint64())
            let category = try reader.optionalString()
            let vector = try reader.floats(vectorWidth)
            let outputs = try reader.floats(outputWidth)
            var entry = Entry(
                eventKey: key, userKey: user, timeMs: time, category: category, vector: vector,
                outputs: outputs)
            entry.labelled = labelled
            index[key] = ring.count
            ring.append(entry)
        }
        let keys = try reader.int()
        guard keys >= 0, keys <= maxEntries else { throw .corruptState("join store: bad keys") }
        for _ in 0..<keys {
            let key = try reader.uint64()
            gone.append(key)
            goneSet.insert(key)
        }
        guard reader.isAtEnd else { throw .corruptState("join store: trailing bytes") }
    }
}

/// The store as a join log: its entries as records written once each, in the order they were
/// kept, and an index of everything else (settings, counts, which entries were replaced,
/// which were labelled, the remembered keys), which is small. A checkpoint appends the records
/// kept since the previous one and writes the index whole, so its cost follows what changed,
/// not how much the store holds.
///
/// Every entry kept gets the next sequence number; the store holds the entries from
/// ``firstSequence`` to ``endSequence`` (less the replaced ones).
extension LabelJoinStore {
    static let indexMagic = Array("OSPJIDX1".utf8)

    /// The sequence number of the oldest entry still held (or of the next one, when empty).
    public var firstSequence: Int { base + head }
    /// The sequence number the next entry kept will get.
    public var endSequence: Int { base + ring.count }

    /// Bytes of a record of an entry: sequence, keys, time, category, vector and outputs.
    public var recordBytes: Int { 40 + 4 * (vectorWidth + outputWidth) }

    /// The records of the entries held whose sequence number is `sequence` or later.
    public func logRecords(from sequence: Int) -> [UInt8] {
        var writer = ByteWriter()
        let start = max(sequence, firstSequence) - base
        writer.data.reserveCapacity(max(0, ring.count - start) * recordBytes)
        for slot in max(start, 0)..<ring.count {
            guard let entry = ring[slot] else { continue }
            writer.int(base + slot)
            writer.uint64(entry.eventKey)
            writer.uint64(entry.userKey)
            writer.int64(entry.timeMs)
            writer.optionalString(entry.category)
            writer.floats(entry.vector)
            writer.floats(entry.outputs)
        }
        return writer.data
    }

    /// Everything of the store but its entries' records: settings, counts, the range of
    /// sequence numbers held, the replaced ones in it, the labelled entries' head bits and
    /// the remembered keys.
    public func logIndex() -> [UInt8] {
        var writer = ByteWriter()
        writer.bytes(Self.indexMagic)
        writeSettingsAndCounts(&writer)
        writer.int(firstSequence)
        writer.int(endSequence)
        let held = head..<ring.count
        let replaced = held.filter { ring[$0] == nil }
        writer.int(replaced.count)
        for slot in replaced { writer.int(base + slot) }
        let labelled = held.filter { (ring[$0]?.labelled ?? 0) != 0 }
        writer.int(labelled.count)
        for slot in labelled {
            writer.int(base + slot)
            writer.uint64(UInt64(ring[slot]!.labelled))
        }
        let keys = gone[goneHead...]
        writer.int(keys.count)
        for key in keys { writer.uint64(key) }
        return writer.data
    }

    /// Restores a store from its ``logIndex()`` and the records of a join log, which must
    /// hold every entry the index says is held (records outside its range are skipped).
    ///
    /// - Throws: ``OnlineError/corruptState(_:)`` when either is truncated, of another format
    ///   or inconsistent, or a held entry has no record.
    public init(logIndex: [UInt8], records: [UInt8]) throws(OnlineError) {
        var reader = ByteReader(logIndex)
        guard try reader.bytes(8) == Self.indexMagic else {
            throw .corruptState("join index: bad magic")
        }
        self = try Self.readSettingsAndCounts(&reader, what: "join index")
        let first = try reader.int()
        let end = try reader.int()
        guard first >= 0, end >= first, end - first <= 2 * maxEntries + 8192 else {
            throw .corruptState("join index: bad range")
        }
        base = first
        ring = [Entry?](repeating: nil, count: end - first)
        var replaced = Set<Int>()
        let replacedCount = try reader.int()
        guard replacedCount >= 0, replacedCount <= end - first else {
            throw .corruptState("join index: bad replaced count")
        }
        for _ in 0..<replacedCount { replaced.insert(try reader.int()) }
        var labelled: [(Int, UInt32)] = []
        let labelledCount = try reader.int()
        guard labelledCount >= 0, labelledCount <= end - first else {
            throw .corruptState("join index: bad labelled count")
        }
        for _ in 0..<labelledCount {
            labelled.append((try reader.int(), UInt32(truncatingIfNeeded: try reader.uint64())))
        }
        let keys = try reader.int()
        guard keys >= 0, keys <= maxEntries else { throw .corruptState("join index: bad keys") }
        for _ in 0..<keys {
            let key = try reader.uint64()
            gone.append(key)
            goneSet.insert(key)
        }
        guard reader.isAtEnd else { throw .corruptState("join index: trailing bytes") }

        var log = ByteReader(records)
        var filled = 0
        while !log.isAtEnd {
            let sequence = try log.int()
            let key = try log.uint64()
            let user = try log.uint64()
            let time = try log.int64()
            let category = try log.optionalString()
            let vector = try log.floats(vectorWidth)
            let outputs = try log.floats(outputWidth)
            guard sequence >= first, sequence < end, !replaced.contains(sequence) else {
                continue
            }
            if ring[sequence - first] == nil { filled += 1 }
            ring[sequence - first] = Entry(
                eventKey: key, userKey: user, timeMs: time, category: category, vector: vector,
                outputs: outputs)
        }
        guard filled == end - first - replaced.count else {
            throw .corruptState(
                "join log: \(end - first - replaced.count - filled) held entries have no record")
        }
        for (sequence, heads) in labelled {
            guard sequence >= first, sequence < end, ring[sequence - first] != nil else {
                throw .corruptState("join index: a labelled entry is not held")
            }
            ring[sequence - first]!.labelled = heads
        }
        for (slot, entry) in ring.enumerated() {
            if let entry { index[entry.eventKey] = slot }
        }
        guard index.count == filled else { throw .corruptState("join log: repeated event keys") }
    }
}

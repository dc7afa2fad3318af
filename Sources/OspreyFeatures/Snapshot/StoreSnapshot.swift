/// Snapshots of a whole ``FeatureStore``: versioned, checksummed, streamed.
///
/// Layout (little-endian, as the machine stores it):
///
///     magic "OSPRFEAT" | format u32 | configuration fingerprint u64
///     | clock and statistics | countries | categories | pending orders
///     | users | merchants | devices | IPs
///     | "END." | bytes before this trailer u64 | CRC-32 of every byte before it u32
///
/// A restore reads into a new store and hands it over only when every section parsed, the
/// trailer's count and checksum agree and nothing follows: a corrupt or truncated snapshot is
/// refused whole, never half-loaded.
///
/// Format 2 (this one) keeps events in 12 bytes (users' attributes only once they have one)
/// and each window only in the words its shape keeps; format 1 snapshots are refused as
/// ``SnapshotError/unsupportedVersion(_:)``.
///
/// - Important: Records are written as the machine lays them out: a snapshot moves between
///   machines of the same byte order and builds whose state structures are unchanged. A
///   change to them bumps ``FeatureStore/snapshotFormat``.
extension FeatureStore {
    public static let snapshotFormat: UInt32 = 2
    static let snapshotMagic = Array("OSPRFEAT".utf8)
    static let trailerMagic = Array("END.".utf8)

    /// Identifies what a snapshot's state means: the schema and every setting that shapes the
    /// kept state.
    var fingerprint: UInt64 {
        let c = configuration
        let text = [
            schema.hash, "\(c.windows)", "\(c.networkWindows)", "\(c.riskWindows)",
            "\(c.riskDelay)", "\(c.allowedLateness)", "\(c.futureTolerance)",
            "\(c.idleEviction)", "\(c.labelHorizon)",
        ].joined(separator: "|")
        return IDHash.hash(text)
    }

    /// Writes the whole store to `sink`.
    ///
    /// - Throws: what the sink throws; the store itself is unchanged either way.
    public func writeSnapshot(to sink: inout some SnapshotSink) throws(SnapshotError) {
        var encoder = SnapshotEncoder(sink: sink)
        defer { sink = encoder.sink }
        try encoder.literal(FeatureStore.snapshotMagic)
        try encoder.value(FeatureStore.snapshotFormat)
        try encoder.value(fingerprint)
        try encoder.value(watermark)
        try encoder.value(nextSweep)
        for counter in statisticsCounters { try encoder.value(Int64(counter)) }
        try writeValues(countries, &encoder)
        try writeValues(categories, &encoder)
        try encoder.value(UInt64(pending.count))
        // Dictionaries iterate in a per-process order; sorted keys make the same state give
        // the same bytes in every process, so checkpoints can be compared.
        for (hash, order) in pending.sorted() {
            try encoder.value(hash)
            try encoder.value(order)
        }
        try encoder.array(ContiguousArray(pendingQueue[pendingHead...]))
        for table in [users, merchants, devices, ips] { try table.write(&encoder) }

        try encoder.literal(FeatureStore.trailerMagic)
        try encoder.value(encoder.total + 8)
        try encoder.flush()
        let crc = UInt32(truncatingIfNeeded: encoder.crc)
        try typed { try withUnsafeBytes(of: crc) { raw in try encoder.sink.write(raw) } }
    }

    /// Reads a snapshot into a new store with `configuration`.
    ///
    /// - Throws: ``SnapshotError``: not a snapshot, another format or configuration,
    ///   truncated, corrupt, malformed or followed by more bytes. Nothing is returned then.
    public static func restore(
        from source: inout some SnapshotSource, configuration: FeatureConfiguration = .init()
    ) throws(SnapshotError) -> FeatureStore {
        let store: FeatureStore
        do {
            store = try FeatureStore(configuration: configuration)
        } catch {
            throw .malformed(error.description)
        }
        var decoder = SnapshotDecoder(source: source)
        defer {
            decoder.release()
            source = decoder.source
        }
        let magic: [UInt8]
        do {
            magic = try decoder.literal(count: 8)
        } catch .truncated {
            throw .notASnapshot
        }
        guard magic == snapshotMagic else { throw .notASnapshot }
        let format = try decoder.value(UInt32.self)
        guard format == snapshotFormat else { throw .unsupportedVersion(format) }
        guard try decoder.value(UInt64.self) == store.fingerprint else {
            throw .configurationMismatch
        }
        try store.readBody(&decoder)

        let trailer = try decoder.literal(count: 4)
        guard trailer == trailerMagic else { throw .checksumMismatch }
        let expectedCount = decoder.count + 8
        guard try decoder.value(UInt64.self) == expectedCount else { throw .checksumMismatch }
        let computed = UInt32(truncatingIfNeeded: decoder.crc)
        guard try decoder.value(UInt32.self) == computed else { throw .checksumMismatch }
        guard try decoder.atEnd() else { throw .trailingBytes }
        try store.checkConsistency()
        return store
    }

    private var statisticsCounters: [Int] {
        let s = statistics
        return [
            s.events, s.lateEvents, s.futureEvents, s.labelsApplied, s.labelsUnmatched,
            s.evictedEntities, s.overflowValues,
        ]
    }

    private func writeValues(
        _ table: HashTable64<UInt32>, _ encoder: inout SnapshotEncoder<some SnapshotSink>
    ) throws(SnapshotError) {
        try encoder.value(UInt64(table.count))
        for (hash, id) in table.sorted() {
            try encoder.value(hash)
            try encoder.value(id)
        }
    }

    private func readValues(_ decoder: inout SnapshotDecoder<some SnapshotSource>)
        throws(SnapshotError) -> HashTable64<UInt32>
    {
        let count = try decoder.value(UInt64.self)
        guard count <= UInt64(FeatureStore.valueLimit) else {
            throw .malformed("\(count) interned values")
        }
        let table = HashTable64<UInt32>(capacity: Int(count))
        for _ in 0..<count {
            let hash = try decoder.value(UInt64.self)
            table.set(hash, try decoder.value(UInt32.self))
        }
        return table
    }

    private func readBody(_ decoder: inout SnapshotDecoder<some SnapshotSource>)
        throws(SnapshotError)
    {
        watermark = try decoder.value(Int64.self)
        nextSweep = try decoder.value(Int64.self)
        var counters: [Int] = []
        for _ in 0..<7 { counters.append(Int(try decoder.value(Int64.self))) }
        statistics = StoreStatistics(
            events: counters[0], lateEvents: counters[1], futureEvents: counters[2],
            labelsApplied: counters[3], labelsUnmatched: counters[4],
            evictedEntities: counters[5], overflowValues: counters[6])
        countries = try readValues(&decoder)
        categories = try readValues(&decoder)
        let pendingCount = try decoder.value(UInt64.self)
        guard pendingCount < 1 << 40 else { throw .malformed("\(pendingCount) pending orders") }
        for _ in 0..<pendingCount {
            let hash = try decoder.value(UInt64.self)
            pending.set(hash, try decoder.value(PendingOrder.self))
        }
        pendingQueue = try decoder.array(PendingLabelSlot.self)
        pendingHead = 0
        for table in [users, merchants, devices, ips] { try table.read(&decoder) }
    }

    private func checkConsistency() throws(SnapshotError) {
        for table in [users, merchants, devices, ips] {
            if let problem = table.inconsistency() { throw .malformed(problem) }
        }
    }
}

extension EntityTable {
    /// Per slot: whether it is live; for a live one its key, times, events (with their
    /// attributes for users), window words, and its side table (value uses or fraud times).
    func write(_ encoder: inout SnapshotEncoder<some SnapshotSink>) throws(SnapshotError) {
        try encoder.value(UInt64(slotCount))
        try encoder.array(freeSlots)
        let wordCount = windowWordCount
        for slot in 0..<UInt32(slotCount) {
            let record = self.record(slot).pointee
            try encoder.value(UInt8(record.isLive ? 1 : 0))
            guard record.isLive else { continue }
            try encoder.value(record.key)
            try encoder.value(record.firstSeen)
            try encoder.value(record.newest)
            try encoder.value(record.base)
            var entries = ContiguousArray<RingEntry>()
            var attributes = ContiguousArray<RingAttributes>()
            entries.reserveCapacity(Int(record.count))
            for offset in 0..<record.count {
                let index = record.base &+ offset
                entries.append(record.entry(index))
                if record.isWide { attributes.append(record.attributes(index)) }
            }
            try encoder.array(entries)
            try encoder.array(attributes)
            try encoder.array(
                ContiguousArray(UnsafeBufferPointer(start: windowWords(slot), count: wordCount)))
            try encoder.array(tracksAttributes ? ContiguousArray(record.uses) : [])
            try encoder.array(tracksFrauds ? ContiguousArray(record.frauds) : [])
        }
    }

    func read(_ decoder: inout SnapshotDecoder<some SnapshotSource>) throws(SnapshotError) {
        let count = try decoder.value(UInt64.self)
        guard count < 1 << 30 else { throw .malformed("\(count) entity slots") }
        freeSlots = try decoder.array(UInt32.self)
        let wordCount = windowWordCount
        for _ in 0..<Int(count) {
            let live = try decoder.value(UInt8.self)
            guard live <= 1 else { throw .malformed("an entity marked \(live)") }
            guard live == 1 else {
                _ = appendRestoredSlot(key: nil)
                continue
            }
            let key = try decoder.value(EntityKey.self)
            let slot = appendRestoredSlot(key: key)
            let entity = record(slot)
            entity.pointee.firstSeen = try decoder.value(Int64.self)
            entity.pointee.newest = try decoder.value(Int64.self)
            let base = try decoder.value(UInt32.self)
            let entries = try decoder.array(RingEntry.self)
            let attributes = try decoder.array(RingAttributes.self)
            guard !entries.isEmpty else { throw .malformed("an entity without events") }
            // A user's ring is wide once an event carried an attribute; other rings never are.
            guard attributes.isEmpty || (tracksAttributes && attributes.count == entries.count)
            else {
                throw .malformed("event attributes do not match the events")
            }
            if !attributes.isEmpty { entity.pointee.stride = UInt32(EntityRecord.wide) }
            for (offset, entry) in entries.enumerated() {
                entity.pointee.append(entry, attributes.isEmpty ? .nothing : attributes[offset])
            }
            entity.pointee.base = base
            let words = try decoder.array(UInt32.self, limit: wordCount)
            guard words.count == wordCount else {
                throw .malformed("window state does not match the windows")
            }
            windowWords(slot).update(from: Array(words), count: wordCount)
            let uses = try decoder.array(ValueUse.self)
            let frauds = try decoder.array(Int64.self)
            guard tracksAttributes || uses.isEmpty, tracksFrauds || frauds.isEmpty else {
                throw .malformed("a side table this kind of entity does not keep")
            }
            for use in uses {
                entity.pointee.reserveSide()
                entity.pointee.sideCount += 1
                entity.pointee.uses[Int(entity.pointee.sideCount) - 1] = use
            }
            for time in frauds {
                entity.pointee.reserveSide()
                entity.pointee.sideCount += 1
                entity.pointee.frauds[Int(entity.pointee.sideCount) - 1] = time
            }
            guard index.find(key) == nil else { throw .malformed("a repeated entity") }
            index.insert(key, slot: slot)
        }
    }

    /// A sentence describing the first contradiction in the restored state, or nil.
    func inconsistency() -> String? {
        for slot in freeSlots where Int(slot) >= slotCount || record(slot).pointee.isLive {
            return "a free slot that is in use"
        }
        for slot in 0..<UInt32(slotCount) {
            let record = self.record(slot).pointee
            guard record.isLive else { continue }
            let words = windowWords(slot)
            for window in 0..<windowCount {
                let start = self.window(window, of: words).start
                if start &- record.base > record.count {
                    return "a window that starts outside its events"
                }
            }
            if record.newest != record.entry(record.end &- 1).time {
                return "an entity whose newest time is not its newest event's"
            }
            for use in tracksAttributes ? record.uses : .init(start: nil, count: 0)
            where !record.holds(use.lastIndex) {
                return "a value whose newest use is not kept"
            }
        }
        return nil
    }
}

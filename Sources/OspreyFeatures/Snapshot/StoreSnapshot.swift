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
/// - Important: Records are written as the machine lays them out: a snapshot moves between
///   machines of the same byte order and builds whose state structures are unchanged. A
///   change to them bumps ``FeatureStore/snapshotFormat``.
extension FeatureStore {
    public static let snapshotFormat: UInt32 = 1
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
        for (hash, order) in pending.sorted(by: { $0.key < $1.key }) {
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
        _ table: [UInt64: UInt32], _ encoder: inout SnapshotEncoder<some SnapshotSink>
    ) throws(SnapshotError) {
        try encoder.value(UInt64(table.count))
        for (hash, id) in table.sorted(by: { $0.key < $1.key }) {
            try encoder.value(hash)
            try encoder.value(id)
        }
    }

    private func readValues(_ decoder: inout SnapshotDecoder<some SnapshotSource>)
        throws(SnapshotError) -> [UInt64: UInt32]
    {
        let count = try decoder.value(UInt64.self)
        guard count <= UInt64(FeatureStore.valueLimit) else {
            throw .malformed("\(count) interned values")
        }
        var table: [UInt64: UInt32] = [:]
        for _ in 0..<count {
            let hash = try decoder.value(UInt64.self)
            table[hash] = try decoder.value(UInt32.self)
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
            pending[hash] = try decoder.value(PendingOrder.self)
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
    func write(_ encoder: inout SnapshotEncoder<some SnapshotSink>) throws(SnapshotError) {
        try encoder.value(UInt64(records.count))
        try encoder.array(windows)
        try encoder.array(freeSlots)
        for record in records {
            try encoder.value(UInt8(record.live ? 1 : 0))
            guard record.live else { continue }
            try encoder.value(record.key)
            try encoder.value(record.firstSeen)
            try encoder.value(record.newest)
            try encoder.value(record.ring.base)
            var entries = ContiguousArray<RingEntry>()
            var attributes = ContiguousArray<RingAttributes>()
            record.ring.forEach { entry, extra in
                entries.append(entry)
                if let extra { attributes.append(extra) }
            }
            try encoder.array(entries)
            try encoder.array(attributes)
            try encoder.array(record.values)
            try encoder.array(record.frauds)
        }
    }

    func read(_ decoder: inout SnapshotDecoder<some SnapshotSource>) throws(SnapshotError) {
        let count = try decoder.value(UInt64.self)
        guard count < UInt64(UInt32.max) else { throw .malformed("\(count) entity slots") }
        windows = try decoder.array(WindowState.self)
        guard windows.count == Int(count) * windowCount else {
            throw .malformed("window state does not match the entities")
        }
        freeSlots = try decoder.array(UInt32.self)
        records = []
        index = SlotIndex()
        for slot in 0..<Int(count) {
            let live = try decoder.value(UInt8.self)
            guard live <= 1 else { throw .malformed("an entity marked \(live)") }
            guard live == 1 else {
                records.append(
                    EntityRecord(
                        key: EntityKey(low: 0, high: 0), ring: EventRing(tracksAttributes: false)))
                continue
            }
            var record = EntityRecord(
                key: try decoder.value(EntityKey.self),
                ring: EventRing(tracksAttributes: tracksAttributes))
            record.live = true
            record.firstSeen = try decoder.value(Int64.self)
            record.newest = try decoder.value(Int64.self)
            let base = try decoder.value(UInt32.self)
            let entries = try decoder.array(RingEntry.self)
            let attributes = try decoder.array(RingAttributes.self)
            guard attributes.count == (tracksAttributes ? entries.count : 0) else {
                throw .malformed("event attributes do not match the events")
            }
            for (offset, entry) in entries.enumerated() {
                record.ring.append(
                    entry,
                    tracksAttributes
                        ? attributes[offset]
                        : RingAttributes(device: 0, ip: 0, country: 0, category: 0))
            }
            record.ring.restore(base: base)
            record.values = try decoder.array(ValueUse.self)
            record.frauds = try decoder.array(Int64.self)
            guard index.find(record.key) == nil else { throw .malformed("a repeated entity") }
            index.insert(record.key, slot: UInt32(slot))
            records.append(record)
        }
    }

    /// A sentence describing the first contradiction in the restored state, or nil.
    func inconsistency() -> String? {
        for slot in freeSlots where Int(slot) >= records.count || records[Int(slot)].live {
            return "a free slot that is in use"
        }
        for (slot, record) in records.enumerated() where record.live {
            for window in 0..<windowCount {
                let start = windows[slot * windowCount + window].start
                if Int(start &- record.ring.base) > Int(record.ring.count) {
                    return "a window that starts outside its events"
                }
            }
            if record.ring.isEmpty { return "an entity without events" }
        }
        return nil
    }
}

#if canImport(Glibc)
    import Glibc
#endif

/// Counts that a feature store keeps about what it was given, for metrics and reports.
public struct StoreStatistics: Sendable, Equatable {
    /// Click and order events recorded.
    public var events = 0
    /// Events older than the allowed lateness, recorded at the lateness bound.
    public var lateEvents = 0
    /// Events refused because their time lay too far ahead of the stream.
    public var futureEvents = 0
    /// Labels that found their order, and labels that did not (unknown, expired, repeated).
    public var labelsApplied = 0
    public var labelsUnmatched = 0
    /// Entities forgotten after being idle.
    public var evictedEntities = 0
    /// Countries or categories beyond the interning limit, counted as one shared value.
    public var overflowValues = 0
}

/// The memory a store holds, counted from its structures: for its own blocks (slots, event
/// buffers, value tables) the sizes the allocator reports, with its per-block header.
public struct StateBytes: Sendable, Equatable {
    /// Entities tracked (users, merchants, devices and IPs together).
    public var entities: Int
    /// Events held in windows, counted once per entity that keeps them.
    public var heldEvents: Int
    /// Bytes that do not grow with events: records, window state, indexes, value tables.
    public var fixedBytes: Int
    /// Bytes of the event buffers (their allocated capacity).
    public var eventBytes: Int
    /// Bytes of the orders awaiting labels.
    public var pendingLabelBytes: Int

    public var totalBytes: Int { fixedBytes + eventBytes + pendingLabelBytes }
    public var fixedBytesPerEntity: Double {
        entities == 0 ? 0 : Double(fixedBytes) / Double(entities)
    }
    public var bytesPerHeldEvent: Double {
        heldEvents == 0 ? 0 : Double(eventBytes) / Double(heldEvents)
    }
}

/// An order that a label may still judge: which merchant, and when.
struct PendingOrder: Equatable {
    var merchant: EntityKey
    var time: Int64
}

/// The rolling feature store of one partition: every entity's events over event time, and the
/// vector of each event computed as it arrives.
///
/// Entities are users, merchants (or terminals), devices and IPs. For each event the store
/// records it with every entity it names and writes the vector in ``schema`` order. Labels
/// (``apply(label:)``) feed the merchants' fraud rates, which look only at transactions that
/// ended ``FeatureConfiguration/riskDelay`` before the event.
///
/// Event time is the stream's: the store's clock (``watermark``) is the newest event time it
/// has seen. Events up to ``FeatureConfiguration/allowedLateness`` behind it are placed
/// exactly; older ones are counted in ``StoreStatistics/lateEvents`` and recorded as if they
/// happened at the lateness bound.
///
/// Thread: one thread at a time (the partition's poll loop); not Sendable.
public final class FeatureStore {
    public let configuration: FeatureConfiguration
    public let schema: FeatureSchema
    let layout: FeatureLayout
    /// ``FeatureConfiguration/futureTolerance`` and ``FeatureConfiguration/allowedLateness`` in
    /// milliseconds, read once: a `Duration`'s conversion cost 1.5% of the per-event work.
    let futureToleranceMs: Int64
    let latenessMs: Int64
    /// The same for the risk windows, read on every event with a merchant.
    let riskDelayMs: Int64
    let riskWindowsMs: [Int64]
    let longestRiskMs: Int64

    let users: EntityTable
    let merchants: EntityTable
    let devices: EntityTable
    let ips: EntityTable
    var countries = HashTable64<UInt32>()
    var categories = HashTable64<UInt32>()
    var pending = HashTable64<PendingOrder>()
    var pendingQueue: ContiguousArray<PendingLabelSlot> = []
    var pendingHead = 0

    /// The newest event time seen, epoch milliseconds (`Int64.min` before the first event).
    public internal(set) var watermark: Int64 = .min
    var nextSweep: Int64 = .min
    public internal(set) var statistics = StoreStatistics()

    /// At most this many countries and as many categories are told apart.
    static let valueLimit = 1 << 20
    static let sweepIntervalMs: Int64 = 3_600_000

    /// - Throws: ``FeatureConfigurationError`` when the configuration contradicts itself.
    public init(configuration: FeatureConfiguration = .init()) throws(FeatureConfigurationError) {
        try configuration.validate()
        self.configuration = configuration
        layout = FeatureLayout(configuration)
        futureToleranceMs = configuration.futureTolerance.totalMilliseconds
        latenessMs = configuration.allowedLateness.totalMilliseconds
        riskDelayMs = configuration.riskDelay.totalMilliseconds
        riskWindowsMs = configuration.riskWindows.map(\.totalMilliseconds)
        longestRiskMs = riskWindowsMs.max() ?? 0
        schema = FeatureSchema(names: layout.names)
        let retention = configuration.retentionMs
        let windows = configuration.windows.map(\.totalMilliseconds)
        users = EntityTable(
            windowsMs: windows, retentionMs: retention, tracksAttributes: true, tracksFrauds: false)
        // A delayed window (t - (n + d), t - d] holds what a window of n + d holds minus what
        // a window of d holds, both ending at t: the merchant keeps those as extra windows
        // after the public ones.
        let delay = configuration.riskDelay.totalMilliseconds
        let delayed = configuration.riskWindows.map { $0.totalMilliseconds + delay } + [delay]
        // Only counts are read from the delayed windows, and only event counts and sums from
        // the network ones: they keep no more (see WindowShape).
        merchants = EntityTable(
            windowsMs: windows + delayed,
            shapes: windows.map { _ in .full } + delayed.map { _ in .counts },
            retentionMs: retention, tracksAttributes: false, tracksFrauds: true)
        let network = configuration.networkWindows.map(\.totalMilliseconds)
        let sums = network.map { _ in WindowShape.sums }
        devices = EntityTable(
            windowsMs: network, shapes: sums, retentionMs: retention, tracksAttributes: false,
            tracksFrauds: false)
        ips = EntityTable(
            windowsMs: network, shapes: sums, retentionMs: retention, tracksAttributes: false,
            tracksFrauds: false)
    }

    /// Records a click or an order and writes its vector.
    ///
    /// - Parameter vector: at least ``schema``'s count of values; filled in schema order.
    /// - Throws: ``DecodeError`` with reason `future_timestamp` when the event lies more than
    ///   ``FeatureConfiguration/futureTolerance`` ahead of both the ``watermark`` and the wall
    ///   clock (so that replaying an old file with quiet days refuses nothing, while a producer
    ///   that writes next year's dates is caught); the store is then unchanged.
    public func process(_ event: DecodedEvent, into vector: UnsafeMutableBufferPointer<Double>)
        throws(DecodeError)
    {
        precondition(event.kind != .label, "labels go to apply(label:)")
        precondition(vector.count >= layout.count, "the vector is shorter than the schema")
        var time = event.timestampMs
        var late = false
        let tolerance = futureToleranceMs
        if time > max(watermark, 0) + tolerance, time > FeatureStore.wallClockMs() + tolerance {
            statistics.futureEvents += 1
            throw DecodeError(
                .futureTimestamp, field: "ts",
                "the event lies more than the future tolerance ahead of both the stream and now")
        }
        if watermark != .min {
            let bound = watermark - latenessMs
            if time < bound {
                time = bound
                late = true
                statistics.lateEvents += 1
            }
        }
        advanceClock(to: time)
        statistics.events += 1

        let isOrder = event.kind == .order
        let entry = RingEntry(time: time, cents: event.amountCents, isOrder: isOrder)
        let noAttributes = RingAttributes(
            device: RingAttributes.none, ip: RingAttributes.none, country: RingAttributes.none,
            category: RingAttributes.none)
        var attributes = noAttributes
        attributes.country = intern(event.countryHash, in: countries)
        attributes.category = intern(event.categoryHash, in: categories)

        if let device = event.device {
            let update = devices.update(device, time: time, entry: entry, attributes: noAttributes)
            attributes.device = update.slot
            writeNetwork(devices, update, at: layout.device, vector)
        } else {
            clearNetwork(at: layout.device, vector)
        }
        if let ip = event.ip {
            let update = ips.update(ip, time: time, entry: entry, attributes: noAttributes)
            attributes.ip = update.slot
            writeNetwork(ips, update, at: layout.ip, vector)
        } else {
            clearNetwork(at: layout.ip, vector)
        }
        let user = users.update(event.user, time: time, entry: entry, attributes: attributes)
        writeEvent(entry, late: late, vector)
        writeUser(user, entry: entry, attributes: attributes, vector)
        if let merchant = event.merchant {
            let update = merchants.update(
                merchant, time: time, entry: entry, attributes: noAttributes)
            writeMerchant(update, time: time, vector)
            if isOrder { remember(order: event.eventHash, merchant: merchant, time: time) }
        } else {
            for offset in layout.merchant..<layout.device { vector[offset] = 0 }
            vector[layout.merchant + FeatureLayout.MerchantFeature.secondsSincePrevious.rawValue] =
                -1
            clearKnownFrauds(vector)
        }
        if let book = layout.book { writeBook(at: book, entry: entry, vector) }
    }

    /// How many events ahead ``prefetch(for:stage:)`` wants to see: stage 0 for the event this
    /// far ahead, stage 1 for the next nearer one, and so on down to the next event.
    public static let prefetchDepth = 3

    /// Hints the processor to load the state that processing `event` will touch; it changes
    /// nothing. A caller that sees events ahead (a poll loop with a batch, a file reader)
    /// issues stage `s` for the event `prefetchDepth - s` places ahead of the one it is about
    /// to process, so that the cache misses of several events overlap with the current
    /// event's work instead of following one another.
    public func prefetch(for event: DecodedEvent, stage: Int) {
        if stage == 0, event.kind == .order, event.merchant != nil {
            pending.prefetch(event.eventHash)
        }
        users.prefetch(event.user, stage: stage)
        if let merchant = event.merchant { merchants.prefetch(merchant, stage: stage) }
        if let device = event.device { devices.prefetch(device, stage: stage) }
        if let ip = event.ip { ips.prefetch(ip, stage: stage) }
    }

    /// Applies a label to the order it judges: a fraud counts in its merchant's fraud rate
    /// from now on. Returns whether the order was found.
    ///
    /// - Important: The first label of an order is final; later ones for the same order are
    ///   counted as unmatched.
    @discardableResult
    public func apply(label: DecodedEvent) -> Bool {
        // A bot or human label judges a click; no feature here depends on it.
        guard !label.judgesBehaviour else { return false }
        return apply(labelOf: label.eventHash, fraud: label.labelFraud)
    }

    /// ``apply(label:)`` for the order with event hash `hash`.
    @discardableResult
    func apply(labelOf hash: UInt64, fraud: Bool) -> Bool {
        guard let order = pending.remove(hash) else {
            statistics.labelsUnmatched += 1
            return false
        }
        if fraud, !merchants.addFraud(order.merchant, time: order.time) {
            statistics.labelsUnmatched += 1
            return false
        }
        statistics.labelsApplied += 1
        return true
    }

    /// Hints the processor to load where the label of the order `hash` will be looked up.
    func prefetch(labelOf hash: UInt64) { pending.prefetch(hash) }

    /// Entities tracked now, of every kind.
    public var trackedEntities: Int {
        users.liveCount + merchants.liveCount + devices.liveCount + ips.liveCount
    }

    /// The memory held, from the structures' sizes and capacities.
    public func stateBytes() -> StateBytes {
        var bytes = StateBytes(
            entities: 0, heldEvents: 0, fixedBytes: 0, eventBytes: 0, pendingLabelBytes: 0)
        for table in [users, merchants, devices, ips] {
            let (fixed, perEvent, events) = table.stateBytes()
            bytes.entities += table.liveCount
            bytes.fixedBytes += fixed
            bytes.eventBytes += perEvent
            bytes.heldEvents += events
        }
        bytes.pendingLabelBytes =
            pending.heapBytes + pendingQueue.capacity * MemoryLayout<PendingLabelSlot>.stride
        bytes.fixedBytes += countries.heapBytes + categories.heapBytes
        return bytes
    }

    /// The memory of each kind of entity: users, merchants, devices, IPs (pending labels and
    /// interned values are in ``stateBytes()`` only).
    public func stateBytesByKind() -> [(kind: String, bytes: StateBytes)] {
        let tables = [
            ("users", users), ("merchants", merchants), ("devices", devices),
            ("ips", ips),
        ]
        return tables.map { name, table in
            let (fixed, perEvent, events) = table.stateBytes()
            return (
                name,
                StateBytes(
                    entities: table.liveCount, heldEvents: events, fixedBytes: fixed,
                    eventBytes: perEvent, pendingLabelBytes: 0)
            )
        }
    }

    // MARK: Clock, interning, labels

    /// Now, in epoch milliseconds.
    static func wallClockMs() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    private func advanceClock(to time: Int64) {
        guard time > watermark else { return }
        watermark = time
        if nextSweep == .min { nextSweep = time + FeatureStore.sweepIntervalMs }
        guard time >= nextSweep else { return }
        nextSweep = time + FeatureStore.sweepIntervalMs
        let bound = time - configuration.idleEviction.totalMilliseconds
        for table in [users, merchants, devices, ips] {
            statistics.evictedEntities += table.evict(idleBefore: bound, floor: time - latenessMs)
        }
        expirePending(before: time - configuration.labelHorizon.totalMilliseconds)
    }

    @inline(__always)
    private func intern(_ hash: UInt64, in table: HashTable64<UInt32>) -> UInt32 {
        guard hash != 0 else { return RingAttributes.none }
        if let id = table[hash] { return id }
        guard table.count < FeatureStore.valueLimit else {
            statistics.overflowValues += 1
            return UInt32(FeatureStore.valueLimit)
        }
        let id = UInt32(table.count)
        table.set(hash, id)
        return id
    }

    private func remember(order hash: UInt64, merchant: EntityKey, time: Int64) {
        pending.set(hash, PendingOrder(merchant: merchant, time: time))
        pendingQueue.append(PendingLabelSlot(hash: hash, time: time))
    }

    private func expirePending(before bound: Int64) {
        while pendingHead < pendingQueue.count, pendingQueue[pendingHead].time < bound {
            let slot = pendingQueue[pendingHead]
            if pending[slot.hash]?.time == slot.time { pending.remove(slot.hash) }
            pendingHead += 1
        }
        if pendingHead > 4096, pendingHead * 2 > pendingQueue.count {
            pendingQueue.removeFirst(pendingHead)
            pendingHead = 0
        }
    }
}

/// An order in the label horizon's queue, oldest first.
struct PendingLabelSlot: Equatable {
    var hash: UInt64
    var time: Int64
}

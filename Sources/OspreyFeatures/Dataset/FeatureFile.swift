/// The formats that ``FeatureFileReader`` and `osprey features` read.
public enum InputFormat: String, Sendable, CaseIterable {
    /// The event contract of DESIGN.md: clicks, orders and labels, one JSON object a line.
    case events
    /// The Fraud Detection Handbook's transactions (`../shared/data/handbook`).
    case handbook
    /// The YooChoose clickstream (`../shared/data/yoochoose`).
    case yoochoose
}

/// Whether an event is a click or an order.
public enum EventKind: Sendable {
    case click, order
}

/// The truth a file carries about an event (handbook: fraud and scenario; simulator files
/// later: also bot). Nil where the file says nothing.
public struct EventTruth: Sendable, Equatable {
    public var fraud: Bool?
    public var fraudType: String?
    public var bot: Bool?

    public init(fraud: Bool? = nil, fraudType: String? = nil, bot: Bool? = nil) {
        self.fraud = fraud
        self.fraudType = fraudType
        self.bot = bot
    }

    /// The handbook's scenarios 1, 2 and 3 as fraud types (index 0 is genuine).
    public static let handbookFraudTypes: [String?] = [
        nil, "high_amount", "compromised_terminal", "compromised_card",
    ]
}

/// One event's vector, handed to a closure.
///
/// - Important: `values` and `exactValues` point into the reader's buffer and are valid only
///   during the call; copy them to keep them.
public struct FeatureRow {
    public let eventID: String
    public let userID: String
    public let timestampMs: Int64
    public let kind: EventKind
    public let category: String?
    public let sessionID: String?
    /// The vector in ``FeatureFileReader/schema`` order, as the model consumes it.
    public let values: UnsafeBufferPointer<Float>
    /// The same vector in double precision, as the store computed it (`values` are these
    /// rounded to Float).
    public let exactValues: UnsafeBufferPointer<Double>
    public let truth: EventTruth
    /// The line of the file this event came from, counting from 1.
    public let lineNumber: Int
}

/// Where a long read has got to, for progress reports.
public struct ReadProgress: Sendable {
    public var lines: Int
    public var rows: Int
    /// Bytes of the file consumed (compressed bytes for a gzip file) and its size.
    public var bytesRead: Int64
    public var fileBytes: Int64
    public var fraction: Double { fileBytes == 0 ? 1 : Double(bytesRead) / Double(fileBytes) }
}

/// Reads an input file in order and computes every event's vector with the daemon's code path
/// (the same decoder and ``FeatureStore``).
///
/// Lines that do not decode are skipped and counted by reason in ``rejected``, with the first
/// few kept in ``firstRejections``; nothing is dropped silently. For the handbook format each
/// transaction's label becomes known ``FeatureConfiguration/labelDelay`` after it and is
/// applied to the store before any later event; for the events format, label lines are applied
/// when read.
///
/// Thread: one thread at a time.
public struct FeatureFileReader {
    public let path: String
    public let format: InputFormat
    public let configuration: FeatureConfiguration
    /// The schema of the vectors this reader produces.
    public let schema: FeatureSchema
    /// The store of the latest ``forEach(_:)``, for its statistics.
    public private(set) var store: FeatureStore
    /// Lines refused, by reason.
    public private(set) var rejected: [DecodeReason: Int] = [:]
    /// The first refused lines (at most ten), with their line numbers.
    public private(set) var firstRejections: [(line: Int, error: DecodeError)] = []
    /// Called about every 65,536 lines with where the read has got to.
    public var progress: ((ReadProgress) -> Void)?

    /// - Throws: ``FeatureConfigurationError`` for a bad configuration, ``FeatureFileError``
    ///   when the file cannot be opened.
    public init(path: String, format: InputFormat, configuration: FeatureConfiguration = .init())
        throws
    {
        var configuration = configuration
        configuration.bookFeatures = format == .handbook
        self.path = path
        self.format = format
        self.configuration = configuration
        store = try FeatureStore(configuration: configuration)
        schema = store.schema
        _ = try LineReader(path: path, maxLineBytes: configuration.maxMessageBytes)
    }

    /// Reads the file in order, computes every event's vector with the daemon's code path, and
    /// calls `body` with each. A fresh store is used on every call.
    ///
    /// - Throws: what `body` throws (which stops the read), or ``FeatureFileError`` when the
    ///   file cannot be read.
    public mutating func forEach(_ body: (borrowing FeatureRow) throws -> Void) throws {
        store = try FeatureStore(configuration: configuration)
        rejected = [:]
        firstRejections = []
        var pass = ReadPass(
            store: store, format: format, configuration: configuration, schema: schema)
        let lines = try LineReader(path: path, maxLineBytes: configuration.maxMessageBytes)
        defer {
            rejected = pass.rejected
            firstRejections = pass.firstRejections
        }
        var rows = 0
        while let more = try lines.next({ line in
            try pass.handle(line, number: lines.lineNumber, body)
        }) {
            if more { rows += 1 }
            if lines.lineNumber & 0xffff == 0, let progress {
                progress(
                    ReadProgress(
                        lines: lines.lineNumber, rows: rows, bytesRead: lines.bytesRead,
                        fileBytes: lines.fileBytes))
            }
        }
        rows += try pass.finish(body)
        progress?(
            ReadProgress(
                lines: lines.lineNumber, rows: rows, bytesRead: lines.fileBytes,
                fileBytes: lines.fileBytes))
    }
}

/// The state of one read: decoders, scheduled labels and the vector buffers.
///
/// Shared by ``FeatureFileReader`` and the benchmark, so that both run the same path.
struct ReadPass {
    let store: FeatureStore
    let format: InputFormat
    let schema: FeatureSchema
    let labelDelayMs: Int64
    let events: EventDecoder
    let handbook: HandbookDecoder
    let yoochoose: YoochooseDecoder
    var exact: [Double]
    var single: [Float]
    /// Handbook labels waiting for their time, in time order.
    var scheduled: ContiguousArray<ScheduledLabel> = []
    var scheduledHead = 0
    var rejected: [DecodeReason: Int] = [:]
    var firstRejections: [(line: Int, error: DecodeError)] = []
    /// Whether decoding fills the lines' strings (the benchmark does not need them).
    var wantsText = true

    init(
        store: FeatureStore, format: InputFormat, configuration: FeatureConfiguration,
        schema: FeatureSchema
    ) {
        self.store = store
        self.format = format
        self.schema = schema
        labelDelayMs = configuration.labelDelay.totalMilliseconds
        events = EventDecoder(maxBytes: configuration.maxMessageBytes)
        handbook = HandbookDecoder(maxBytes: configuration.maxMessageBytes)
        yoochoose = YoochooseDecoder(maxBytes: configuration.maxMessageBytes)
        exact = Array(repeating: 0, count: schema.count)
        single = Array(repeating: 0, count: schema.count)
    }

    /// A decoded line waiting for its turn.
    struct Decoded {
        var event: DecodedEvent
        /// Nil when the pass does not want text (no strings to copy or release per line).
        var facts: LineFacts?
        var number: Int
    }

    /// Lines decoded but not yet recorded, oldest first (at most
    /// ``FeatureStore/prefetchDepth``): a ring of `prefetchDepth + 1` places from `aheadHead`,
    /// so that taking the oldest moves nothing.
    private var ahead: ContiguousArray<Decoded?> = ContiguousArray(
        repeating: nil, count: FeatureStore.prefetchDepth + 1)
    private var aheadHead = 0
    private var aheadCount = 0

    /// Handles one line; returns whether it produced a row.
    mutating func handle(
        _ line: UnsafeRawBufferPointer, number: Int, _ body: (borrowing FeatureRow) throws -> Void
    ) throws -> Bool {
        guard let recorded = push(line, number: number) else { return false }
        try emit(recorded, body)
        return true
    }

    /// Records the lines held back, at the end of the input; returns how many made rows.
    mutating func finish(_ body: (borrowing FeatureRow) throws -> Void) throws -> Int {
        var rows = 0
        while hasHeldLines {
            guard let recorded = finish() else { continue }
            try emit(recorded, body)
            rows += 1
        }
        return rows
    }

    /// Hands a recorded event's vector to `body`.
    private mutating func emit(_ recorded: Decoded, _ body: (borrowing FeatureRow) throws -> Void)
        throws
    {
        for index in exact.indices { single[index] = Float(exact[index]) }
        let event = recorded.event
        let facts = recorded.facts ?? LineFacts(eventID: "", userID: "")
        try exact.withUnsafeBufferPointer { exactValues in
            try single.withUnsafeBufferPointer { values in
                try body(
                    FeatureRow(
                        eventID: facts.eventID, userID: facts.userID,
                        timestampMs: event.timestampMs,
                        kind: event.kind == .order ? .order : .click,
                        category: facts.category, sessionID: facts.sessionID, values: values,
                        exactValues: exactValues, truth: facts.truth,
                        lineNumber: recorded.number))
            }
        }
    }

    /// Decodes `line`, asks the store to prefetch for it and for the lines held back, and
    /// records the oldest held-back line: a lookahead of ``FeatureStore/prefetchDepth`` lines,
    /// so that later events' cache misses overlap with the current event's work. Returns the
    /// recorded click or order (its vector is in `exact`); labels, blank and refused lines
    /// give nil.
    mutating func push(_ line: UnsafeRawBufferPointer, number: Int) -> Decoded? {
        if line.allSatisfy({ $0 == 32 || $0 == 9 }) { return nil }
        var facts: LineFacts?
        let event: DecodedEvent
        // A local, not a stored property: passing a property of the pass inout to one of its
        // own methods made Swift copy the whole pass (a retain and release of each of its
        // references) on every line. Empty strings allocate nothing.
        var text = LineFacts(eventID: "", userID: "")
        do {
            event = try decode(line, number: number, facts: &text)
            if wantsText { facts = text }
        } catch {
            reject(error, line: number)
            return nil
        }
        let places = ahead.count
        ahead[(aheadHead + aheadCount) % places] = Decoded(
            event: event, facts: facts, number: number)
        aheadCount += 1
        // The newest line gets stage 0, the next-oldest stage 1, ...
        let store = self.store
        let (head, count) = (aheadHead, aheadCount)
        ahead.withUnsafeBufferPointer { held in
            for stage in 0..<min(count, FeatureStore.prefetchDepth) {
                let place = (head + count - 1 - stage) % places
                if let event = held[place]?.event, event.kind != .label {
                    store.prefetch(for: event, stage: stage)
                }
            }
        }
        guard aheadCount > FeatureStore.prefetchDepth else { return nil }
        return record(takeOldest())
    }

    /// Records the next line held back by ``push(_:number:)``, at the end of the input; nil
    /// when none is left or it made no row. Call until ``hasHeldLines`` is false.
    mutating func finish() -> Decoded? {
        guard aheadCount > 0 else { return nil }
        return record(takeOldest())
    }

    private mutating func takeOldest() -> Decoded {
        let oldest = ahead[aheadHead].take()!
        aheadHead = (aheadHead + 1) % ahead.count
        aheadCount -= 1
        return oldest
    }

    /// Whether lines are still held back.
    var hasHeldLines: Bool { aheadCount > 0 }

    private mutating func record(_ decoded: Decoded) -> Decoded? {
        let event = decoded.event
        if event.kind == .label {
            store.apply(label: event)
            return nil
        }
        applyScheduledLabels(upTo: event.timestampMs)
        do {
            try exact.withUnsafeMutableBufferPointer { vector throws(DecodeError) in
                try store.process(event, into: vector)
            }
        } catch {
            reject(error, line: decoded.number)
            return nil
        }
        if format == .handbook {
            scheduled.append(
                ScheduledLabel(
                    time: event.timestampMs + labelDelayMs, eventHash: event.eventHash,
                    fraud: event.labelFraud))
        }
        return decoded
    }

    private func decode(_ line: UnsafeRawBufferPointer, number: Int, facts: inout LineFacts)
        throws(DecodeError) -> DecodedEvent
    {
        switch format {
        case .events:
            let event = try events.decode(line)
            guard wantsText else { return event }
            facts.eventID =
                events.text(of: .eventID) ?? events.text(of: .orderID) ?? ""
            facts.userID = events.text(of: .userID) ?? ""
            facts.category = events.text(of: .category)
            facts.sessionID = events.text(of: .sessionID)
            return event
        case .handbook:
            return try handbook.decode(line, facts: &facts, wantsText: wantsText)
        case .yoochoose:
            return try yoochoose.decode(line, line: number, facts: &facts, wantsText: wantsText)
        }
    }

    /// Applies the handbook labels that are known by `time` (a label known at the same moment
    /// as an event counts for it).
    static let labelLookahead = 8

    private mutating func applyScheduledLabels(upTo time: Int64) {
        while scheduledHead < scheduled.count, scheduled[scheduledHead].time <= time {
            let label = scheduled[scheduledHead]
            // The order each label looks up lies anywhere in a large table: ask for a later
            // label's bucket now, so that its cache miss overlaps with this work.
            let ahead = scheduledHead + ReadPass.labelLookahead
            if ahead < scheduled.count { store.prefetch(labelOf: scheduled[ahead].eventHash) }
            store.apply(labelOf: label.eventHash, fraud: label.fraud)
            scheduledHead += 1
        }
        if scheduledHead > 65_536, scheduledHead * 2 > scheduled.count {
            scheduled.removeFirst(scheduledHead)
            scheduledHead = 0
        }
    }

    private mutating func reject(_ error: DecodeError, line: Int) {
        rejected[error.reason, default: 0] += 1
        if firstRejections.count < 10 { firstRejections.append((line, error)) }
    }
}

/// A handbook transaction's label, known at `time`.
struct ScheduledLabel {
    var time: Int64
    var eventHash: UInt64
    var fraud: Bool
}

import OspreyCore

/// One line of simulated traffic: an event for the events topic or a label for the labels
/// topic, in event-time order.
public struct SimulatedRecord: Sendable {
    public enum Kind: Sendable, Equatable { case event, label }

    public let kind: Kind
    /// The Kafka key: the user id.
    public let key: String
    /// Event time of an event; for a label, the time the truth became known.
    public let timeMs: Int64
    /// One JSON object in the contract of DESIGN.md.
    public let json: [UInt8]

    public init(kind: Kind, key: String, timeMs: Int64, json: [UInt8]) {
        self.kind = kind
        self.key = key
        self.timeMs = timeMs
        self.json = json
    }
}

/// Realistic clicks and orders for a population of users, with labelled fraud and bot
/// patterns, produced lazily in event-time order.
///
/// Sessions start as a Poisson process whose rate follows the daily rhythm; each follows a
/// regular shopper's script or, with the shares in ``PatternMix``, one of the labelled
/// patterns. Every order gets a label (`fraud` with its `fraud_type`, or `legit`) and a share
/// of clicks gets one (`bot` or `human`), published ``SimulationSettings/labelDelay`` after
/// the event. Labels due after the end of the simulated time are not written.
///
/// The same settings and seed give the same records, byte for byte.
///
/// Thread: a value owned by one thread.
public struct TrafficSimulator: Sequence, IteratorProtocol {
    public let settings: SimulationSettings
    private let scripts: SessionScripts
    private var random: SeededRandom
    private var pending = PendingHeap()
    private var nextSessionMs: Int64
    private let sessionsPerMs: Double
    private var sessionCount = 0
    private var eventCount = 0
    private var newAccounts = 0
    /// How many records of each kind have been produced so far.
    public private(set) var counts: [String: Int] = [:]

    public init(settings: SimulationSettings) {
        self.settings = settings
        var random = SeededRandom(seed: settings.seed)
        var populationRandom = random.derived(1)
        scripts = SessionScripts(
            population: Population(
                userCount: Swift.max(1, settings.users), random: &populationRandom))
        let mix = settings.mix
        let regularShare =
            1 - mix.accountTakeover - mix.cardTesting - mix.bot - mix.promotionAbuse
        // Mean events per session of each script, so that the event rate comes out as asked.
        let eventsPerSession =
            regularShare * 5.75 + mix.accountTakeover * 7 + mix.cardTesting * 17.5 + mix.bot
            * 90 + mix.promotionAbuse * 18
        sessionsPerMs = settings.rate / Swift.max(eventsPerSession, 1) / 1000
        nextSessionMs = settings.startMs
        self.random = random.derived(2)
        _ = random.next()
        advanceSessionClock()
    }

    /// The next record in time order, or nil at the end of the simulated time.
    public mutating func next() -> SimulatedRecord? {
        while true {
            while nextSessionMs < settings.endMs
                && (pending.isEmpty || pending.minimumTime > nextSessionMs)
            {
                startSession(at: nextSessionMs)
                advanceSessionClock()
            }
            guard let (time, item) = pending.pop(), time < settings.endMs else { return nil }
            switch item {
            case .event(let event): return emit(event)
            case .label(let record):
                counts["label", default: 0] += 1
                return record
            }
        }
    }

    private mutating func emit(_ event: SimulatedEvent) -> SimulatedRecord {
        eventCount += 1
        let eventID = "e\(settings.seed)-\(eventCount)"
        counts[event.kind == .click ? "click" : "order", default: 0] += 1
        if event.pattern != .regular { counts[event.pattern.rawValue, default: 0] += 1 }
        let labelTime = event.timeMs + settings.labelDelay.totalMilliseconds
        let label: String?
        switch event.kind {
        case .order: label = event.pattern.fraudType == nil ? "legit" : "fraud"
        case .click:
            label =
                random.chance(settings.clickLabelShare)
                ? (event.pattern == .bot ? "bot" : "human") : nil
        }
        if let label {
            var writer = JSONWriter(capacity: 160)
            writer.beginObject()
            writer.field("type", "label")
            writer.field("event_id", eventID)
            writer.field("user_id", event.userID)
            writer.field("ts", TimestampText.rfc3339(milliseconds: labelTime))
            writer.field("label", label)
            if label == "fraud", let fraudType = event.pattern.fraudType {
                writer.field("fraud_type", fraudType)
            }
            writer.endObject()
            let record = SimulatedRecord(
                kind: .label, key: event.userID, timeMs: labelTime, json: writer.bytes)
            pending.push(time: labelTime, .label(record))
        }
        return SimulatedRecord(
            kind: .event, key: event.userID, timeMs: event.timeMs,
            json: event.json(eventID: eventID))
    }

    private mutating func startSession(at start: Int64) {
        sessionCount += 1
        let session = "s\(settings.seed)-\(sessionCount)"
        let drifted = settings.driftMs.map { start >= $0 } ?? false
        let population = scripts.population
        let mix = settings.mix
        let draw = random.unit()
        var events: [SimulatedEvent]
        if draw < mix.accountTakeover {
            let victim = population.users[random.int(in: 0...(population.users.count - 1))]
            events = scripts.accountTakeover(
                victim, session: session, start: start, drifted: drifted, random: &random)
        } else if draw < mix.accountTakeover + mix.cardTesting {
            newAccounts += 1
            events = scripts.cardTesting(
                user: "n\(newAccounts)", session: session, start: start, drifted: drifted,
                random: &random)
        } else if draw < mix.accountTakeover + mix.cardTesting + mix.bot {
            newAccounts += 1
            events = scripts.bot(
                user: "b\(newAccounts)", session: session, start: start, drifted: drifted,
                random: &random)
        } else if draw < mix.accountTakeover + mix.cardTesting + mix.bot + mix.promotionAbuse {
            events = scripts.promotionAbuse(
                firstUser: newAccounts, session: session, start: start, random: &random)
            newAccounts += 10
        } else {
            let user = population.users[random.index(cumulative: population.userWeights)]
            events = scripts.regular(user, session: session, start: start, random: &random)
        }
        for event in events { pending.push(time: event.timeMs, .event(event)) }
    }

    /// Moves the session clock to the next start, thinning a Poisson process at the peak rate
    /// down to the daily rhythm.
    private mutating func advanceSessionClock() {
        let peak = sessionsPerMs * 1.6
        guard peak > 0 else {
            nextSessionMs = settings.endMs
            return
        }
        var time = Double(nextSessionMs)
        repeat {
            time += random.exponential(mean: 1 / peak)
        } while random.unit() * 1.6 > dailyActivity(atMs: Int64(time))
        nextSessionMs = Int64(time)
    }
}

/// What waits in the heap: an event not yet emitted, or a label already written.
private enum PendingItem {
    case event(SimulatedEvent)
    case label(SimulatedRecord)
}

/// A binary min-heap on (time, insertion order), so equal times keep their order.
private struct PendingHeap {
    private var entries: [(time: Int64, order: Int, item: PendingItem)] = []
    private var insertions = 0

    var isEmpty: Bool { entries.isEmpty }
    var minimumTime: Int64 { entries[0].time }

    mutating func push(time: Int64, _ item: PendingItem) {
        insertions += 1
        entries.append((time, insertions, item))
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard precedes(child, parent) else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (Int64, PendingItem)? {
        guard !entries.isEmpty else { return nil }
        entries.swapAt(0, entries.count - 1)
        let top = entries.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < entries.count && precedes(left, smallest) { smallest = left }
            if right < entries.count && precedes(right, smallest) { smallest = right }
            guard smallest != parent else { break }
            entries.swapAt(parent, smallest)
            parent = smallest
        }
        return (top.time, top.item)
    }

    private func precedes(_ a: Int, _ b: Int) -> Bool {
        (entries[a].time, entries[a].order) < (entries[b].time, entries[b].order)
    }
}

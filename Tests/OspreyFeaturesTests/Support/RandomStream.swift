import OspreyFeatures

/// SplitMix64: a small deterministic generator, so that every seed replays the same stream.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

/// One generated message, with the small integers it was made from (for oracles).
struct GeneratedEvent {
    var event: DecodedEvent
    var user: Int
    var merchant: Int?
    var device: Int?
    var ip: Int?
    var country: Int?
    var category: Int?
}

/// Random clicks, orders and labels for a few users, merchants, devices and IPs, arriving out
/// of order: most events are on time, some lag by up to `maxLagMs` (which may exceed the
/// store's lateness), and labels follow their orders after a while.
func randomStream(
    seed: UInt64, count: Int, users: Int = 12, merchants: Int = 5, maxLagMs: Int64 = 25_000,
    stepMs: Int64 = 2_000, labels: Bool = true
) -> [GeneratedEvent] {
    var random = SeededGenerator(seed: seed)
    var clock: Int64 = 1_700_000_000_000
    var result: [GeneratedEvent] = []
    var scheduled: [(at: Int, label: DecodedEvent)] = []
    var orderNumber = 0
    for index in 0..<count {
        while let next = scheduled.firstIndex(where: { $0.at <= index }) {
            let label = scheduled.remove(at: next).label
            result.append(GeneratedEvent(event: label, user: 0))
        }
        clock += Int64.random(in: 0...stepMs, using: &random)
        var time = clock
        if Int.random(in: 0..<5, using: &random) == 0 {
            time -= Int64.random(in: 0...maxLagMs, using: &random)
        }
        let isOrder = Bool.random(using: &random)
        let user = Int.random(in: 0..<users, using: &random)
        let device =
            Int.random(in: 0..<4, using: &random) == 0
            ? nil : user % 7 + Int.random(in: 0..<2, using: &random)
        let ip =
            Int.random(in: 0..<3, using: &random) == 0 ? nil : Int.random(in: 0..<9, using: &random)
        let country = Bool.random(using: &random) ? Int.random(in: 0..<3, using: &random) : nil
        let category = Bool.random(using: &random) ? Int.random(in: 0..<6, using: &random) : nil
        let merchant = isOrder ? Int.random(in: 0..<merchants, using: &random) : nil
        // Amounts repeat often, so that ties for the maximum happen.
        let cents = Int32(Int.random(in: 1...40, using: &random) * 250)
        orderNumber += 1
        let eventHash = IDHash.hash("e\(orderNumber)", seed: DecodedEvent.eventSeed)
        let event = DecodedEvent(
            kind: isOrder ? .order : .click, timestampMs: time, amountCents: isOrder ? cents : 0,
            eventHash: eventHash, user: EntityKey("u\(user)"),
            merchant: merchant.map { EntityKey("m\($0)") },
            device: device.map { EntityKey("d\($0)") }, ip: ip.map { EntityKey("i\($0)") },
            countryHash: country.map { IDHash.hash("c\($0)", seed: DecodedEvent.valueSeed) } ?? 0,
            categoryHash: category.map { IDHash.hash("k\($0)", seed: DecodedEvent.valueSeed) } ?? 0)
        result.append(
            GeneratedEvent(
                event: event, user: user, merchant: merchant, device: device, ip: ip,
                country: country, category: category))
        if labels, isOrder, Bool.random(using: &random) {
            var label = event
            label.kind = .label
            label.labelFraud = Int.random(in: 0..<3, using: &random) == 0
            scheduled.append((index + Int.random(in: 3...60, using: &random), label))
        }
    }
    return result
}

/// A configuration with short windows, so that random streams of a few thousand events cross
/// every boundary many times.
let shortConfiguration = FeatureConfiguration(
    windows: [.seconds(10), .seconds(60), .seconds(300)],
    networkWindows: [.seconds(30), .seconds(120)],
    riskWindows: [.seconds(60), .seconds(200)],
    riskDelay: .seconds(30),
    allowedLateness: .seconds(20),
    futureTolerance: .seconds(3600),
    idleEviction: .days(1),
    labelHorizon: .days(1))

/// Runs `stream` through `store`, returning each click's and order's vector.
func vectors(_ stream: [GeneratedEvent], store: FeatureStore) throws -> [[Double]] {
    var rows: [[Double]] = []
    var vector = [Double](repeating: .nan, count: store.schema.count)
    for generated in stream {
        if generated.event.kind == .label {
            store.apply(label: generated.event)
            continue
        }
        try vector.withUnsafeMutableBufferPointer { try store.process(generated.event, into: $0) }
        rows.append(vector)
    }
    return rows
}

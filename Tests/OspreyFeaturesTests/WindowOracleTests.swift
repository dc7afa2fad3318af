import OspreyFeatures
import Testing

/// The store's window features against a brute-force recomputation from every event seen so
/// far, on random streams that arrive out of order (some beyond the allowed lateness).
@Suite(.timeLimit(.minutes(3))) struct WindowOracleTests {
    struct Held {
        var time: Int64
        var isOrder: Bool
        var cents: Int64
        var generated: GeneratedEvent
        var labelledFraud = false
    }

    @Test(arguments: 1...24)
    func windowsMatchBruteForce(seed: Int) throws {
        let stream = randomStream(seed: UInt64(seed) * 7919, count: 1200)
        let store = try FeatureStore(configuration: shortConfiguration)
        let schema = store.schema
        let config = shortConfiguration
        let lateness = config.allowedLateness.totalMilliseconds
        var held: [Held] = []
        var byHash: [UInt64: Int] = [:]
        var watermark: Int64?
        var vector = [Double](repeating: .nan, count: schema.count)
        var late = 0
        var failures = 0
        var knownFrauds = 0

        func expect(_ name: String, _ actual: Double, _ expected: Double, _ row: Int) {
            let index = schema.index(of: name)!
            let value = vector[index]
            _ = actual
            if abs(value - expected) > 1e-9 * max(1, abs(expected)) {
                failures += 1
                if failures <= 8 {
                    Issue.record(
                        "seed \(seed) row \(row) \(name): store \(value), oracle \(expected)")
                }
            }
        }

        for generated in stream {
            let event = generated.event
            if event.kind == .label {
                store.apply(label: event)
                if let at = byHash[event.eventHash], event.labelFraud {
                    held[at].labelledFraud = true
                }
                byHash[event.eventHash] = nil
                continue
            }
            var time = event.timestampMs
            if let mark = watermark, time < mark - lateness {
                time = mark - lateness
                late += 1
            }
            watermark = max(watermark ?? time, time)
            try vector.withUnsafeMutableBufferPointer { try store.process(event, into: $0) }
            let current = Held(
                time: time, isOrder: event.kind == .order, cents: Int64(event.amountCents),
                generated: generated)
            if event.merchant != nil { byHash[event.eventHash] = held.count }
            held.append(current)
            let row = held.count

            for (window, length) in config.windows.enumerated() {
                let suffix = "_" + ["10s", "1m", "5m"][window]
                let span = length.totalMilliseconds
                let mine = held.filter {
                    $0.generated.user == generated.user && $0.time > time - span && $0.time <= time
                }
                let orders = mine.filter(\.isOrder)
                let sum = orders.reduce(0) { $0 + $1.cents }
                expect("user_order_count" + suffix, 0, Double(orders.count), row)
                expect("user_amount_sum" + suffix, 0, Double(sum) / 100, row)
                expect(
                    "user_amount_mean" + suffix, 0,
                    orders.isEmpty ? 0 : Double(sum) / 100 / Double(orders.count), row)
                expect(
                    "user_amount_max" + suffix, 0,
                    Double(orders.map(\.cents).max() ?? 0) / 100, row)
                expect("user_click_count" + suffix, 0, Double(mine.count - orders.count), row)
                expect(
                    "user_distinct_devices" + suffix, 0,
                    Double(Set(mine.compactMap(\.generated.device)).count), row)
                expect(
                    "user_distinct_ips" + suffix, 0,
                    Double(Set(mine.compactMap(\.generated.ip)).count), row)
                expect(
                    "user_distinct_countries" + suffix, 0,
                    Double(Set(mine.compactMap(\.generated.country)).count), row)
                expect(
                    "user_distinct_categories" + suffix, 0,
                    Double(Set(mine.compactMap(\.generated.category)).count), row)

                if let merchant = generated.merchant {
                    let theirs = held.filter {
                        $0.generated.merchant == merchant && $0.time > time - span
                            && $0.time <= time
                    }
                    let total = theirs.reduce(0) { $0 + $1.cents }
                    expect("merchant_order_count" + suffix, 0, Double(theirs.count), row)
                    expect("merchant_amount_sum" + suffix, 0, Double(total) / 100, row)
                    expect(
                        "merchant_amount_max" + suffix, 0,
                        Double(theirs.map(\.cents).max() ?? 0) / 100, row)
                }
            }
            if let merchant = generated.merchant {
                let delay = config.riskDelay.totalMilliseconds
                for (window, length) in config.riskWindows.enumerated() {
                    let suffix = "_" + ["1m", "200s"][window]
                    let from = time - delay - length.totalMilliseconds
                    let inside = held.filter {
                        $0.generated.merchant == merchant && $0.time > from
                            && $0.time <= time - delay
                    }
                    let frauds = inside.filter(\.labelledFraud).count
                    expect("merchant_delayed_tx_count" + suffix, 0, Double(inside.count), row)
                    expect(
                        "merchant_fraud_rate" + suffix, 0,
                        inside.isEmpty ? 0 : Double(frauds) / Double(inside.count), row)
                }
                knownFrauds += expectKnownFrauds(
                    of: merchant, at: time, held: held, config: config, row: row, expect)
            }
            for (window, length) in config.networkWindows.enumerated() {
                let suffix = "_" + ["30s", "2m"][window]
                let span = length.totalMilliseconds
                if let device = generated.device {
                    let count = held.filter {
                        $0.generated.device == device && $0.time > time - span && $0.time <= time
                    }.count
                    expect("device_event_count" + suffix, 0, Double(count), row)
                }
                if let ip = generated.ip {
                    let count = held.filter {
                        $0.generated.ip == ip && $0.time > time - span && $0.time <= time
                    }.count
                    expect("ip_event_count" + suffix, 0, Double(count), row)
                }
            }
            expect("event_is_late", 0, time != event.timestampMs ? 1 : 0, row)
        }
        #expect(failures == 0)
        #expect(store.statistics.lateEvents == late)
        // The stream must really have exercised late arrivals and fraud labels.
        #expect(late > 0)
        #expect(store.statistics.labelsApplied > 0)
        #expect(knownFrauds > 0)
    }

    /// Checks the merchant's known-fraud features against the held events; returns 1 when a
    /// known fraud lay in reach (so that the stream is seen to exercise them), else 0.
    func expectKnownFrauds(
        of merchant: Int, at time: Int64, held: [Held], config: FeatureConfiguration, row: Int,
        _ expect: (String, Double, Double, Int) -> Void
    ) -> Int {
        let delay = config.riskDelay.totalMilliseconds
        let longest = config.riskWindows.map(\.totalMilliseconds).max()!
        // Orders old enough to count, newest first; a fraud counts only once labelled.
        let labelled = held.filter {
            $0.generated.merchant == merchant && $0.isOrder && $0.time <= time - delay
        }.sorted { $0.time > $1.time }
        let frauds = labelled.filter { $0.labelledFraud && $0.time > time - delay - longest }
        let none = Double(delay + longest) / 1000
        let newest = frauds.map(\.time).max().map { Double(time - $0) / 1000 } ?? none
        let oldest = frauds.map(\.time).min().map { Double(time - $0) / 1000 } ?? none
        expect("merchant_seconds_since_newest_known_fraud", 0, newest, row)
        expect("merchant_seconds_since_oldest_known_fraud", 0, oldest, row)
        // The newest five, and every other order at the time of the fifth.
        var share = 0.0
        if !labelled.isEmpty {
            let cut = labelled[min(4, labelled.count - 1)].time
            let recent = labelled.filter { $0.time >= cut }
            share = Double(recent.filter(\.labelledFraud).count) / Double(recent.count)
        }
        expect("merchant_known_fraud_share_last5", 0, share, row)
        return frauds.isEmpty ? 0 : 1
    }
}

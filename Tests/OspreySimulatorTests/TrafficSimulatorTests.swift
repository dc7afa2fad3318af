import Foundation
import OspreySimulator
import Testing

@Suite struct TrafficSimulatorTests {
    static func settings(seed: UInt64, drift: Duration? = nil) -> SimulationSettings {
        var settings = SimulationSettings()
        settings.users = 500
        settings.rate = 6
        settings.duration = .seconds(2 * 3600)
        settings.seed = seed
        settings.labelDelay = .seconds(600)
        settings.driftAfter = drift
        // More fraud than the default, so two hours hold enough of each pattern.
        settings.mix.accountTakeover = 0.01
        settings.mix.cardTesting = 0.004
        settings.mix.promotionAbuse = 0.004
        return settings
    }

    static func records(_ settings: SimulationSettings) -> [SimulatedRecord] {
        Array(TrafficSimulator(settings: settings))
    }

    static func objects(_ records: [SimulatedRecord]) throws -> [[String: Any]] {
        try records.map { record in
            try #require(
                try JSONSerialization.jsonObject(with: Data(record.json)) as? [String: Any])
        }
    }

    @Test func sameSeedSameBytesOtherSeedOtherBytes() {
        let first = Self.records(Self.settings(seed: 7))
        let again = Self.records(Self.settings(seed: 7))
        let other = Self.records(Self.settings(seed: 8))
        #expect(first.count > 1000)
        #expect(first.map(\.json) == again.map(\.json))
        #expect(first.map(\.json) != other.map(\.json))
    }

    @Test func recordsFollowTheContractInTimeOrder() throws {
        let settings = Self.settings(seed: 11)
        let records = Self.records(settings)
        #expect(zip(records, records.dropFirst()).allSatisfy { $0.timeMs <= $1.timeMs })
        #expect(records.allSatisfy { $0.timeMs >= settings.startMs && $0.timeMs < settings.endMs })
        let objects = try Self.objects(records)
        var eventTimes: [String: (Double, String)] = [:]
        var labelled: Set<String> = []
        for (record, object) in zip(records, objects) {
            let type = try #require(object["type"] as? String)
            let id = try #require(object["event_id"] as? String)
            #expect(object["user_id"] as? String == record.key)
            #expect((object["ts"] as? String)?.hasSuffix("Z") == true)
            switch type {
            case "click":
                #expect(object["category"] is String && object["item_id"] is String)
                eventTimes[id] = (Double(record.timeMs), type)
            case "order":
                let amount = try #require(object["amount"] as? Double)
                #expect(amount > 0 && amount.isFinite)
                eventTimes[id] = (Double(record.timeMs), type)
            case "label":
                let (time, eventType) = try #require(eventTimes[id], "label before its event")
                #expect(Double(record.timeMs) - time == 600_000)
                let label = try #require(object["label"] as? String)
                #expect(
                    eventType == "order"
                        ? ["fraud", "legit"].contains(label)
                        : ["bot", "human"].contains(label))
                if label == "fraud" { #expect(object["fraud_type"] is String) }
                labelled.insert(id)
            default: Issue.record("unexpected type \(type)")
            }
        }
        // Every order old enough to be labelled before the end has its label.
        let cutoff = Double(settings.endMs - 600_000)
        let due = eventTimes.filter { $0.value.1 == "order" && $0.value.0 < cutoff }.map(\.key)
        #expect(!due.isEmpty && due.allSatisfy { labelled.contains($0) })
        // The rate is about what was asked (the daily rhythm makes night hours quieter).
        let events = records.filter { $0.kind == .event }.count
        #expect(Double(events) > 0.3 * 6 * 2 * 3600 && Double(events) < 1.7 * 6 * 2 * 3600)
    }

    @Test func everyPatternAppearsAndDriftChangesAccountTakeovers() throws {
        let settings = Self.settings(seed: 5, drift: .seconds(3600))
        let records = Self.records(settings)
        let objects = try Self.objects(records)
        var fraudTypes: [String: Int] = [:]
        var labels: [String: Int] = [:]
        for object in objects where object["type"] as? String == "label" {
            labels[object["label"] as? String ?? "?", default: 0] += 1
            if let type = object["fraud_type"] as? String { fraudTypes[type, default: 0] += 1 }
        }
        #expect(Set(fraudTypes.keys) == ["account_takeover", "card_testing", "promotion_abuse"])
        #expect(labels["bot", default: 0] > 0 && labels["human", default: 0] > 0)
        #expect(labels["legit", default: 0] > labels["fraud", default: 0])
        // Before the drift, takeover orders ship abroad; sessions that start after it ship to
        // the victim's country. A session started just before the drift may still place
        // orders for a quarter of an hour, so the later half-hour is the one compared.
        let fraudIDs = Set(
            objects.filter { $0["fraud_type"] as? String == "account_takeover" }
                .compactMap { $0["event_id"] as? String })
        let driftMs = try #require(settings.driftMs)
        var abroad = (before: 0, after: 0, total: (before: 0, after: 0))
        for (record, object) in zip(records, objects)
        where object["type"] as? String == "order"
            && fraudIDs.contains(object["event_id"] as? String ?? "")
        {
            let foreign =
                (object["shipping_country"] as? String).map {
                    ["NG", "RU", "VN", "BR", "ID", "UA", "RO", "PH"].contains($0)
                } ?? false
            if record.timeMs < driftMs {
                abroad.total.before += 1
                if foreign { abroad.before += 1 }
            } else if record.timeMs >= driftMs + 1_800_000 {
                abroad.total.after += 1
                if foreign { abroad.after += 1 }
            }
        }
        #expect(abroad.total.before > 5 && abroad.total.after > 3)
        #expect(abroad.before == abroad.total.before && abroad.after == 0)
    }
}

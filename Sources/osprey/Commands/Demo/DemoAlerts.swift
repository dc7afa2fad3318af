import Foundation
import OspreyCore
import OspreyKafka
import Synchronization

/// One alert as the demo's view shows it: when, who, which heads fired, and why.
struct DemoAlert: Sendable {
    /// The event's time as written in the alert (RFC 3339).
    var time: String
    var user: String
    var eventType: String
    /// The heads that fired, with their scores.
    var fired: [(head: String, score: Double)]
    /// The alert's top features, strongest first: the reasons.
    var reasons: [(name: String, value: Double)]
    /// The fraud type the `fraud_type` head finds most likely, when a fraud head fired and
    /// that head's likeliest class is a fraud type rather than `none`.
    var fraudType: String?
    /// How many alerts the same user has had so far, this one included.
    var count = 1

    /// Reads an alert of the contract in `config/alert.schema.json`; nil when it is not one.
    init?(json: [UInt8]) {
        guard
            let object = try? JSONSerialization.jsonObject(with: Data(json)) as? [String: Any],
            let event = object["event"] as? [String: Any],
            let fired = object["fired"] as? [[String: Any]]
        else { return nil }
        time = event["ts"] as? String ?? "?"
        user = event["user_id"] as? String ?? "?"
        eventType = event["type"] as? String ?? "?"
        self.fired = fired.compactMap { entry in
            guard let head = entry["head"] as? String, let score = entry["score"] as? Double
            else { return nil }
            return (head, score)
        }
        let features = object["top_features"] as? [[String: Any]] ?? []
        reasons = features.compactMap { entry in
            guard let name = entry["name"] as? String, let value = entry["value"] as? Double
            else { return nil }
            return (name, value)
        }
        let types = (object["scores"] as? [String: Any])?["fraud_type"] as? [String: Double]
        let likeliest = types?.max { $0.value < $1.value }?.key
        let fraudFired = self.fired.contains { $0.head == "fraud" }
        fraudType = fraudFired && likeliest != "none" ? likeliest : nil
    }
}

/// The newest alerts from the `alerts` topic, read as a downstream consumer would, in a
/// consumer group of the demo's own.
///
/// A bot alerts on click after click: the feed keeps each user's newest alert only, with a
/// count, so that the view shows who alerts rather than one bot many times.
///
/// Thread: ``run(bootstrap:stop:)`` on a ``DemoThread``; the other members from any thread,
/// behind a mutex.
final class DemoAlertFeed: Sendable {
    private struct State {
        /// Each alerting user's newest alert, newest last, at most `capacity`.
        var latest: [DemoAlert] = []
        /// Alerts per user so far.
        var counts: [String: Int] = [:]
        /// Users' first alerts not yet taken by ``takeFirstAlerts()``.
        var firsts: [DemoAlert] = []
        /// Alerts per head on events of ``realTimeFrom`` or later.
        var realTime: [String: Int] = [:]
    }

    /// How many users' alerts the feed keeps.
    let capacity: Int
    /// The event time (RFC 3339, as alerts write it) from which traffic came in real time.
    let realTimeFrom: String
    private let state = Mutex(State())

    init(capacity: Int, realTimeFrom: String) {
        self.capacity = capacity
        self.realTimeFrom = realTimeFrom
    }

    /// Alerts per head on events from ``realTimeFrom`` on, which the model never saw.
    var realTimeAlerts: [String: Int] { state.withLock { $0.realTime } }

    /// The newest alert of each of the users who alerted last, oldest first.
    var latest: [DemoAlert] { state.withLock { $0.latest } }

    /// The first alert of each user who alerted since the last call, oldest first.
    func takeFirstAlerts() -> [DemoAlert] {
        state.withLock { state in
            defer { state.firsts.removeAll() }
            return state.firsts
        }
    }

    /// Reads the alerts topic until `stop` says so.
    ///
    /// - Throws: ``KafkaError`` when the consumer cannot be created or fails.
    func run(bootstrap: String, stop: () -> Bool) throws {
        let consumer = try KafkaConsumer(
            configuration: KafkaConfiguration([
                "bootstrap.servers": bootstrap, "group.id": "osprey-demo-view",
                "auto.offset.reset": "earliest",
            ]))
        try consumer.subscribe(topics: ["alerts"])
        while !stop() {
            var batch: [DemoAlert] = []
            _ = try consumer.poll(maxMessages: 500, timeout: .milliseconds(200)) { message in
                if let value = message.value, let alert = DemoAlert(json: Array(value)) {
                    batch.append(alert)
                }
            }
            if !batch.isEmpty { state.withLock { add(batch, to: &$0) } }
        }
        _ = try consumer.close()
    }

    private func add(_ batch: [DemoAlert], to state: inout State) {
        for var alert in batch {
            let count = state.counts[alert.user, default: 0] + 1
            state.counts[alert.user] = count
            alert.count = count
            if count == 1 { state.firsts.append(alert) }
            // Timestamps of one format and width compare as text.
            if alert.time >= realTimeFrom {
                for fired in alert.fired { state.realTime[fired.head, default: 0] += 1 }
            }
            state.latest.removeAll { $0.user == alert.user }
            state.latest.append(alert)
        }
        if state.latest.count > capacity { state.latest.removeFirst(state.latest.count - capacity) }
        // Bounded memory over a long run: forget the counts of long-quiet users now and then.
        if state.counts.count > 100_000 { state.counts.removeAll() }
    }
}

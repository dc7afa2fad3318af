import OspreyDaemon
import Testing

@Suite struct AlertPolicyTests {
    @Test func headsFireAboveTheirThresholdOnly() {
        var policy = AlertPolicy(thresholds: ["fraud": 0.8, "bot": 0.9], budgetPerHour: 0)
        let fired = policy.decide(
            probabilities: [("fraud", 0.81), ("bot", 0.9), ("purchase", 0.99)],
            eventType: "order", eventTimeMs: 0)
        #expect(fired == [FiredHead(head: "fraud", score: 0.81, threshold: 0.8)])
        #expect(
            policy.decide(probabilities: [("fraud", 0.8)], eventType: "order", eventTimeMs: 0)
                .isEmpty)
        policy.reload(thresholds: ["purchase": 0.5])
        #expect(
            policy.decide(
                probabilities: [("fraud", 0.99), ("purchase", 0.6)], eventType: "click",
                eventTimeMs: 0
            ).map(\.head) == ["purchase"])
    }

    @Test func headsFireOnlyOnTheEventsTheyJudge() {
        var policy = AlertPolicy(
            thresholds: ["fraud": 0.5, "bot": 0.5, "purchase": 0.5], budgetPerHour: 0)
        let high = [("fraud", 0.9), ("bot", 0.9), ("purchase", 0.9)]
        #expect(
            policy.decide(probabilities: high, eventType: "click", eventTimeMs: 0).map(\.head)
                == ["bot", "purchase"])
        #expect(
            policy.decide(probabilities: high, eventType: "order", eventTimeMs: 0).map(\.head)
                == ["fraud"])
    }

    @Test func theBudgetIsSpentPerHourOfEventTime() {
        var policy = AlertPolicy(thresholds: ["fraud": 0.5], budgetPerHour: 2)
        func decide(_ probability: Double, at time: Int64) -> Int {
            policy.decide(
                probabilities: [("fraud", probability)], eventType: "order", eventTimeMs: time
            ).count
        }
        let hour: Int64 = 3_600_000
        var sent = 0
        for minute in 0..<5 { sent += decide(0.9, at: Int64(minute) * 60_000) }
        #expect(sent == 2 && policy.suppressed == 3)
        // Below-threshold events spend nothing; the next hour starts afresh.
        #expect(decide(0.1, at: hour) == 0)
        #expect(decide(0.9, at: hour + 1) == 1)
        #expect(decide(0.9, at: hour + 2) == 1)
        #expect(decide(0.9, at: hour + 3) == 0)
        #expect(policy.suppressed == 4)
    }
}

import OspreyDaemon
import Testing

@Suite struct AlertPolicyTests {
    @Test func headsFireAboveTheirThresholdOnly() {
        var policy = AlertPolicy(thresholds: ["fraud": 0.8, "bot": 0.9], budgetPerHour: 0)
        let fired = policy.decide(
            probabilities: [("fraud", 0.81), ("bot", 0.9), ("purchase", 0.99)], eventTimeMs: 0)
        #expect(fired == [FiredHead(head: "fraud", score: 0.81, threshold: 0.8)])
        #expect(policy.decide(probabilities: [("fraud", 0.8)], eventTimeMs: 0).isEmpty)
        policy.reload(thresholds: ["purchase": 0.5])
        #expect(
            policy.decide(probabilities: [("fraud", 0.99), ("purchase", 0.6)], eventTimeMs: 0)
                .map(\.head) == ["purchase"])
    }

    @Test func theBudgetIsSpentPerHourOfEventTime() {
        var policy = AlertPolicy(thresholds: ["fraud": 0.5], budgetPerHour: 2)
        let hour: Int64 = 3_600_000
        var sent = 0
        for minute in 0..<5 {
            sent +=
                policy.decide(probabilities: [("fraud", 0.9)], eventTimeMs: Int64(minute) * 60_000)
                .count
        }
        #expect(sent == 2 && policy.suppressed == 3)
        // Below-threshold events spend nothing; the next hour starts afresh.
        #expect(policy.decide(probabilities: [("fraud", 0.1)], eventTimeMs: hour).isEmpty)
        #expect(policy.decide(probabilities: [("fraud", 0.9)], eventTimeMs: hour + 1).count == 1)
        #expect(policy.decide(probabilities: [("fraud", 0.9)], eventTimeMs: hour + 2).count == 1)
        #expect(policy.decide(probabilities: [("fraud", 0.9)], eventTimeMs: hour + 3).isEmpty)
        #expect(policy.suppressed == 4)
    }
}

import OspreyCore
import OspreyModel
import Testing

@Suite struct MetricTests {
    // A fixed vector with ties across classes (three scores of 0.35, one of them positive).
    static let labels: [Int32] = [0, 1, 0, 0, 1, 1, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0]
    static let scores: [Double] = [
        0.10, 0.80, 0.35, 0.20, 0.65, 0.35, 0.05, 0.90, 0.50, 0.15,
        0.30, 0.45, 0.25, 0.60, 0.70, 0.40, 0.35, 0.12, 0.08, 0.55,
    ]

    /// scikit-learn 1.9.1, computed once on the vector above:
    /// `roc_auc_score` 0.8681318681318682, `average_precision_score` 0.8273809523809523,
    /// `log_loss` 0.4380778154212739.
    @Test func matchesScikitLearn() throws {
        let auc = try #require(BinaryMetrics.rocAUC(scores: Self.scores, labels: Self.labels))
        let ap = try #require(
            BinaryMetrics.averagePrecision(scores: Self.scores, labels: Self.labels))
        let loss = BinaryMetrics.logLoss(probabilities: Self.scores, labels: Self.labels)
        #expect(abs(auc - 0.8681318681318682) < 1e-12)
        #expect(abs(ap - 0.8273809523809523) < 1e-12)
        #expect(abs(loss - 0.4380778154212739) < 1e-12)
    }

    @Test func handComputedCases() throws {
        // Perfect ranking, reversed ranking, all tied.
        #expect(BinaryMetrics.rocAUC(scores: [0.9, 0.8, 0.2, 0.1], labels: [1, 1, 0, 0]) == 1)
        #expect(BinaryMetrics.rocAUC(scores: [0.1, 0.2, 0.8, 0.9], labels: [1, 1, 0, 0]) == 0)
        #expect(BinaryMetrics.rocAUC(scores: [0.5, 0.5, 0.5, 0.5], labels: [1, 0, 1, 0]) == 0.5)
        #expect(BinaryMetrics.rocAUC(scores: [0.5, 0.4], labels: [0, 0]) == nil)
        // AP: ranks 1 and 3 positive: (1/2)(1/1) + (1/2)(2/3) = 5/6.
        let ap = try #require(
            BinaryMetrics.averagePrecision(scores: [0.9, 0.8, 0.7, 0.1], labels: [1, 0, 1, 0]))
        #expect(abs(ap - 5.0 / 6.0) < 1e-15)
        // ECE: bin [0.8, 0.9) holds 0.8 and 0.8 with one positive: |0.5 - 0.8| = 0.3; bin
        // [0.1, 0.2) holds 0.1 (negative): 0.1. Weighted: (2 * 0.3 + 1 * 0.1) / 3.
        let ece = BinaryMetrics.expectedCalibrationError(
            probabilities: [0.8, 0.8, 0.1], labels: [1, 0, 0])
        #expect(abs(ece - 0.7 / 3) < 1e-12)
        #expect(
            BinaryMetrics.expectedCalibrationError(probabilities: [1, 0], labels: [1, 0]) == 0)
    }

    @Test func precisionAtKPerDay() {
        // Day 0: top 2 of scores hold one fraud; day 1: top 2 hold two frauds.
        let value = DailyMetrics.precisionAtK(
            scores: [0.9, 0.8, 0.1, 0.7, 0.6, 0.5], labels: [1, 0, 1, 1, 1, 0],
            days: [0, 0, 0, 1, 1, 1], k: 2)
        #expect(value == (0.5 + 1.0) / 2)
    }

    @Test func cardPrecisionRemovesCardsDetectedEarlier() {
        // Day 0: customers a (fraud, 0.9), b (0.8), c (0.1). Top 2 = a, b: 1 fraud -> 0.5.
        // Day 1: a is detected and removed; b (fraud, 0.2 and 0.7 -> max 0.7), c (0.6),
        // d (fraud, 0.3). Top 2 = b, c: 1 fraud -> 0.5. Without removal, a (0.95) would
        // take a place.
        let scores: [Double] = [0.9, 0.8, 0.1, 0.95, 0.2, 0.7, 0.6, 0.3]
        let labels: [Int32] = [1, 0, 0, 1, 1, 0, 0, 1]
        let days: [Int64] = [0, 0, 0, 1, 1, 1, 1, 1]
        let customers = ["a", "b", "c", "a", "b", "b", "c", "d"]
        let value = DailyMetrics.cardPrecisionAtK(
            scores: scores, labels: labels, days: days, customers: customers, k: 2)
        #expect(value == 0.5)
        // With k = 3 on day 1: b, c, d -> b (fraud via its 0.2 row) and d: 2/3.
        let three = DailyMetrics.cardPrecisionAtK(
            scores: scores, labels: labels, days: days, customers: customers, k: 3)
        #expect(abs(three - (1.0 / 3 + 2.0 / 3) / 2) < 1e-15)
    }

    @Test func topKAccuracy() {
        let probabilities: [Double] = [0.7, 0.2, 0.1, 0.1, 0.3, 0.6, 0.5, 0.4, 0.1]
        #expect(
            DailyMetrics.topKAccuracy(
                probabilities: probabilities, width: 3, labels: [0, 1, 2], k: 1)
                == 1.0 / 3)
        #expect(
            DailyMetrics.topKAccuracy(
                probabilities: probabilities, width: 3, labels: [0, 1, 2], k: 2)
                == 2.0 / 3)
    }

    @Test func plattScalingRecoversAKnownMap() {
        // Labels drawn from sigmoid(2z - 1): the fit must land near a = 2, b = -1.
        var random = SeededRandom(seed: 3)
        var logits: [Double] = []
        var labels: [Int32] = []
        for _ in 0..<20_000 {
            let z = random.unit() * 6 - 3
            logits.append(z)
            labels.append(random.unit() < 1 / (1 + Double.exp(-(2 * z - 1))) ? 1 : 0)
        }
        guard case .platt(let a, let b) = HeadCalibration.fitPlatt(logits: logits, labels: labels)
        else {
            Issue.record("expected Platt scaling")
            return
        }
        #expect(abs(a - 2) < 0.15)
        #expect(abs(b + 1) < 0.1)
        guard
            case .temperature(let t) = HeadCalibration.fitTemperature(
                logits: logits.map { $0 * 4 }, width: 1, labels: labels.map { $0 })
        else {
            Issue.record("expected a temperature")
            return
        }
        // Logits 4z against a true slope of 2 (ignoring the offset) want T near 2.
        #expect(t > 1.4 && t < 2.8)
    }
}

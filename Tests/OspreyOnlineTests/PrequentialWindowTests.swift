import Foundation
import OspreyOnline
import Testing

/// The prequential window against values worked out by hand.
@Suite struct PrequentialWindowTests {
    @Test func metricsMatchHandComputedValuesAndTheWindowSlides() throws {
        var window = PrequentialWindow(capacity: 4, isSigmoid: true)
        for (p, y) in [(0.9, 1), (0.8, 0), (0.3, 1), (0.2, 0)] as [(Double, Int32)] {
            window.add(probability: p, label: y)
        }
        // Positives 0.9, 0.3; negatives 0.8, 0.2: 3 of the 4 pairs ordered right.
        let first = window.metrics
        #expect(abs(try #require(first["auc_roc"]) - 0.75) < 1e-12)
        // Ranked: 0.9 (hit, P = 1, R = 1/2), 0.8, 0.3 (hit, P = 2/3, R = 1).
        let expected: Double = 0.5 + 0.5 * 2.0 / 3.0
        #expect(abs(try #require(first["average_precision"]) - expected) < 1e-12)
        let sum: Double = log(0.9) + log(0.2) + log(0.3) + log(0.8)
        let loss = -sum / 4
        #expect(abs(try #require(first["log_loss"]) - loss) < 1e-12)

        // A fifth label pushes out the first: positives 0.1, 0.3; negatives 0.8, 0.2.
        window.add(probability: 0.1, label: 1)
        #expect(window.count == 4 && window.total == 5)
        #expect(abs(try #require(window.metrics["auc_roc"]) - 0.25) < 1e-12)
    }

    @Test func softmaxHeadsKeepTheTrueClassProbabilityForLogLoss() throws {
        var window = PrequentialWindow(capacity: 10, isSigmoid: false)
        window.add(probability: 0.5, label: 3)
        window.add(probability: 0.25, label: 0)
        let metrics = window.metrics
        let expected: Double = (log(2.0) + log(4.0)) / 2
        #expect(abs(try #require(metrics["log_loss"]) - expected) < 1e-12)
        #expect(metrics["auc_roc"] == nil)
        #expect(PrequentialWindow(capacity: 3, isSigmoid: true).metrics.isEmpty)
    }
}

/// Ranking and probability metrics of a binary head, defined as scikit-learn defines them.
///
/// `scores` are probabilities (or any monotone score for the ranking metrics); `labels` are
/// 0 or 1. Tied scores are handled as one threshold, so the results do not depend on the
/// order of equal scores.
public enum BinaryMetrics {
    /// The distinct-threshold operating points, highest score first: cumulative true and
    /// false positives at each threshold.
    static func operatingPoints(scores: [Double], labels: [Int32])
        -> (truePositives: [Double], falsePositives: [Double], thresholds: [Double])
    {
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var tps: [Double] = []
        var fps: [Double] = []
        var thresholds: [Double] = []
        var tp = 0.0
        var fp = 0.0
        for (position, index) in order.enumerated() {
            if labels[index] == 1 { tp += 1 } else { fp += 1 }
            let last = position == order.count - 1
            if last || scores[order[position + 1]] != scores[index] {
                tps.append(tp)
                fps.append(fp)
                thresholds.append(scores[index])
            }
        }
        return (tps, fps, thresholds)
    }

    /// Area under the ROC curve (trapezoids between distinct thresholds), or nil when one
    /// class is absent.
    public static func rocAUC(scores: [Double], labels: [Int32]) -> Double? {
        let points = operatingPoints(scores: scores, labels: labels)
        guard let positives = points.truePositives.last, let negatives = points.falsePositives.last,
            positives > 0, negatives > 0
        else { return nil }
        var area = 0.0
        var previousTP = 0.0
        var previousFP = 0.0
        for (tp, fp) in zip(points.truePositives, points.falsePositives) {
            area += (fp - previousFP) * (tp + previousTP) / 2
            previousTP = tp
            previousFP = fp
        }
        return area / (positives * negatives)
    }

    /// Average precision, `sum_n (R_n - R_{n-1}) P_n` over distinct thresholds (no
    /// interpolation), or nil without positives.
    public static func averagePrecision(scores: [Double], labels: [Int32]) -> Double? {
        let points = operatingPoints(scores: scores, labels: labels)
        guard let positives = points.truePositives.last, positives > 0 else { return nil }
        var total = 0.0
        var previousRecall = 0.0
        for (tp, fp) in zip(points.truePositives, points.falsePositives) {
            let recall = tp / positives
            total += (recall - previousRecall) * tp / (tp + fp)
            previousRecall = recall
        }
        return total
    }

    /// Mean negative log-likelihood, probabilities clipped to `[1e-15, 1 - 1e-15]`.
    public static func logLoss(probabilities: [Double], labels: [Int32]) -> Double {
        guard !labels.isEmpty else { return 0 }
        var total = 0.0
        for (p, y) in zip(probabilities, labels) {
            let clipped = min(max(p, 1e-15), 1 - 1e-15)
            total -= y == 1 ? Double.log(clipped) : Double.log(1 - clipped)
        }
        return total / Double(labels.count)
    }

    /// One bin of a reliability diagram.
    public struct CalibrationBin: Sendable {
        public let lower: Double
        public let upper: Double
        public let count: Int
        public let meanProbability: Double
        public let positiveRate: Double
    }

    /// Equal-width bins of `[0, 1]` with each bin's mean probability and observed rate.
    public static func calibrationBins(
        probabilities: [Double], labels: [Int32], bins: Int = 10
    ) -> [CalibrationBin] {
        var counts = [Int](repeating: 0, count: bins)
        var sums = [Double](repeating: 0, count: bins)
        var positives = [Double](repeating: 0, count: bins)
        for (p, y) in zip(probabilities, labels) {
            let bin = min(bins - 1, max(0, Int(p * Double(bins))))
            counts[bin] += 1
            sums[bin] += p
            positives[bin] += y == 1 ? 1 : 0
        }
        return (0..<bins).map { bin in
            let n = Double(max(1, counts[bin]))
            return CalibrationBin(
                lower: Double(bin) / Double(bins), upper: Double(bin + 1) / Double(bins),
                count: counts[bin], meanProbability: sums[bin] / n,
                positiveRate: positives[bin] / n)
        }
    }

    /// Expected calibration error over equal-width bins: `sum_b (n_b / N) |rate_b - mean_b|`.
    public static func expectedCalibrationError(
        probabilities: [Double], labels: [Int32], bins: Int = 10
    ) -> Double {
        guard !labels.isEmpty else { return 0 }
        let total = Double(labels.count)
        return calibrationBins(probabilities: probabilities, labels: labels, bins: bins)
            .reduce(0) { $0 + Double($1.count) / total * abs($1.positiveRate - $1.meanProbability) }
    }

    /// ROC curve points `(false positive rate, true positive rate)` from `(0, 0)`.
    public static func rocCurve(scores: [Double], labels: [Int32]) -> [(Double, Double)] {
        let points = operatingPoints(scores: scores, labels: labels)
        let positives = max(1, points.truePositives.last ?? 1)
        let negatives = max(1, points.falsePositives.last ?? 1)
        return [(0, 0)]
            + zip(points.falsePositives, points.truePositives).map {
                ($0 / negatives, $1 / positives)
            }
    }

    /// Precision-recall curve points `(recall, precision)`, highest threshold first.
    public static func precisionRecallCurve(scores: [Double], labels: [Int32]) -> [(Double, Double)]
    {
        let points = operatingPoints(scores: scores, labels: labels)
        let positives = max(1, points.truePositives.last ?? 1)
        return zip(points.truePositives, points.falsePositives).map { tp, fp in
            (tp / positives, tp / (tp + fp))
        }
    }
}

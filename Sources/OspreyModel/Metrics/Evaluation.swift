/// A head's evaluation on a dataset: its metrics and, for a sigmoid head, the curves behind
/// them.
public struct HeadEvaluation: Sendable {
    public let head: String
    public let isSigmoid: Bool
    /// Rows that carried the head's label.
    public let rows: Int
    public let positives: Int
    /// Metric name → value: `auc_roc`, `average_precision`, `log_loss`,
    /// `expected_calibration_error`, `precision_at_100_per_day`, `card_precision_at_100`
    /// (sigmoid heads); `top1_accuracy`, `top5_accuracy`, `log_loss` (softmax heads).
    public let metrics: [String: Double]
    public let roc: [(Double, Double)]
    public let precisionRecall: [(Double, Double)]
    public let calibrationBins: [BinaryMetrics.CalibrationBin]
}

/// Evaluates a model's heads on a dataset.
public enum Evaluation {
    /// The `k` of precision@k and card precision@k, as in the handbook.
    public static let topK = 100

    /// Scores `dataset` with `model` and evaluates every head that has labels in it.
    public static func evaluate(_ model: Model, on dataset: Dataset) -> [HeadEvaluation] {
        let probabilities = Scorer(model: model, capacity: 1024).scoreAll(
            dataset.features, rows: dataset.count, categories: dataset.categories)
        return evaluate(heads: model.heads, probabilities: probabilities, on: dataset)
    }

    /// Evaluates given probabilities (`[rows, width]` per head) against `dataset`'s labels.
    public static func evaluate(
        heads: [HeadSpec], probabilities: [[Float]], on dataset: Dataset
    ) -> [HeadEvaluation] {
        var result: [HeadEvaluation] = []
        let days = dataset.timestampsMs.map { DatasetBuilder.day(ms: $0) }
        for (index, head) in heads.enumerated() {
            guard let labels = dataset.labels[head.name] else { continue }
            let rows = labels.indices.filter { labels[$0] >= 0 }
            guard !rows.isEmpty else { continue }
            let y = rows.map { labels[$0] }
            if head.kind.isSigmoid {
                let p = rows.map { Double(probabilities[index][$0]) }
                result.append(
                    sigmoid(
                        head.name, p: p, y: y, days: rows.map { days[$0] },
                        customers: rows.map { dataset.userIDs[$0] }))
            } else {
                let width = head.width
                var p: [Double] = []
                p.reserveCapacity(rows.count * width)
                for row in rows {
                    for column in 0..<width {
                        p.append(Double(probabilities[index][row * width + column]))
                    }
                }
                var loss = 0.0
                for (position, label) in y.enumerated() {
                    loss -= Double.log(max(1e-15, p[position * width + Int(label)]))
                }
                let metrics = [
                    "top1_accuracy": DailyMetrics.topKAccuracy(
                        probabilities: p, width: width, labels: y, k: 1),
                    "top5_accuracy": DailyMetrics.topKAccuracy(
                        probabilities: p, width: width, labels: y, k: 5),
                    "log_loss": loss / Double(y.count),
                ]
                result.append(
                    HeadEvaluation(
                        head: head.name, isSigmoid: false, rows: rows.count, positives: 0,
                        metrics: metrics, roc: [], precisionRecall: [], calibrationBins: []))
            }
        }
        return result
    }

    static func sigmoid(_ head: String, p: [Double], y: [Int32], days: [Int64], customers: [String])
        -> HeadEvaluation
    {
        var metrics: [String: Double] = [
            "log_loss": BinaryMetrics.logLoss(probabilities: p, labels: y),
            "expected_calibration_error": BinaryMetrics.expectedCalibrationError(
                probabilities: p, labels: y),
            "precision_at_100_per_day": DailyMetrics.precisionAtK(
                scores: p, labels: y, days: days, k: topK),
            "card_precision_at_100": DailyMetrics.cardPrecisionAtK(
                scores: p, labels: y, days: days, customers: customers, k: topK),
        ]
        metrics["auc_roc"] = BinaryMetrics.rocAUC(scores: p, labels: y)
        metrics["average_precision"] = BinaryMetrics.averagePrecision(scores: p, labels: y)
        return HeadEvaluation(
            head: head, isSigmoid: true, rows: y.count, positives: y.reduce(0) { $0 + Int($1) },
            metrics: metrics, roc: BinaryMetrics.rocCurve(scores: p, labels: y),
            precisionRecall: BinaryMetrics.precisionRecallCurve(scores: p, labels: y),
            calibrationBins: BinaryMetrics.calibrationBins(probabilities: p, labels: y))
    }
}

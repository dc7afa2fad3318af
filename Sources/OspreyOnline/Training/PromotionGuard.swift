import OspreyModel

/// The rule for replacing the serving model: judged on labelled examples that neither model
/// has trained on (each head on its own rows of the slice: the ``Holdout`` gives every row
/// one head's label), a candidate is promoted only if no head's primary metric drops by more
/// than that head's tolerance and the target head's does not drop at all.
///
/// Primary metrics: AUC-ROC for a sigmoid head (higher is better), log loss for a softmax
/// head (lower is better). A head whose metric is undefined on the slice (one class only)
/// is not judged, except the target head: a candidate is never promoted without a verdict
/// on it.
public struct PromotionGuard: Sendable, Equatable {
    /// The head that must not get worse (`fraud`).
    public var targetHead = "fraud"
    /// Allowed drop of the primary metric per head; ``defaultTolerance`` for others.
    public var tolerances: [String: Double] = [:]
    public var defaultTolerance = 0.005

    public init() {}

    /// One head's comparison.
    public struct HeadComparison: Sendable, Equatable {
        public let head: String
        public let metric: String
        public let serving: Double
        public let candidate: Double
        /// The rows that carried the head's label.
        public let rows: Int
        /// How much worse the candidate is (positive = worse), in the metric's units.
        public var drop: Double {
            metric == "log_loss" ? candidate - serving : serving - candidate
        }
    }

    /// The guard's verdict, with its reason either way.
    public struct Decision: Sendable, Equatable {
        public let promoted: Bool
        /// One sentence: which head decided and by how much.
        public let reason: String
        public let comparisons: [HeadComparison]
        /// Labelled rows in the judged slice.
        public let rows: Int
    }

    /// Judges `candidate` against `serving` on `slice` (raw features, labels by head name).
    public func judge(candidate: Model, serving: Model, on slice: Dataset) -> Decision {
        let before = Dictionary(
            Evaluation.evaluate(serving, on: slice).map { ($0.head, $0) },
            uniquingKeysWith: { first, _ in first })
        let after = Evaluation.evaluate(candidate, on: slice)
        var comparisons: [HeadComparison] = []
        for evaluation in after {
            let metric = evaluation.isSigmoid ? "auc_roc" : "log_loss"
            guard let new = evaluation.metrics[metric],
                let old = before[evaluation.head]?.metrics[metric]
            else { continue }
            comparisons.append(
                HeadComparison(
                    head: evaluation.head, metric: metric, serving: old, candidate: new,
                    rows: evaluation.rows))
        }
        return decide(comparisons, rows: slice.count)
    }

    /// The verdict on given comparisons (separate from scoring, for tests and reports).
    public func decide(_ comparisons: [HeadComparison], rows: Int) -> Decision {
        func text(_ c: HeadComparison) -> String {
            "\(c.head) \(c.metric) \(format(c.serving)) -> \(format(c.candidate))"
        }
        guard let target = comparisons.first(where: { $0.head == targetHead }) else {
            return Decision(
                promoted: false,
                reason: "rejected: the target head \(targetHead) cannot be judged on the "
                    + "\(rows) held-out rows (none of its labels, or one class only)",
                comparisons: comparisons, rows: rows)
        }
        if target.drop > 0 {
            return Decision(
                promoted: false, reason: "rejected: target head got worse, " + text(target),
                comparisons: comparisons, rows: rows)
        }
        for comparison in comparisons where comparison.head != targetHead {
            let tolerance = tolerances[comparison.head] ?? defaultTolerance
            if comparison.drop > tolerance {
                return Decision(
                    promoted: false,
                    reason: "rejected: " + text(comparison)
                        + " drops by more than its tolerance \(format(tolerance))",
                    comparisons: comparisons, rows: rows)
            }
        }
        return Decision(
            promoted: true,
            reason: "promoted: " + text(target) + " on \(target.rows) held-out labels, no head "
                + "beyond its tolerance",
            comparisons: comparisons, rows: rows)
    }

    private func format(_ value: Double) -> String {
        let scaled = (value * 10_000).rounded() / 10_000
        return String(scaled)
    }
}

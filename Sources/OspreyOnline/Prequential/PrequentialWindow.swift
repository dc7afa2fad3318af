import OspreyModel

/// Prequential ("predict, then learn") quality of one head over its most recent labels.
///
/// Each entry is the probability the model gave before the label was known and the label
/// itself. A sigmoid head keeps the score of the positive class and a 0/1 label; a softmax
/// head keeps the probability it gave the true class (its label is then 1 by construction),
/// so only its log loss is meaningful. The window holds the last `capacity` entries; older
/// ones fall out in arrival order.
///
/// The metrics are those of ``BinaryMetrics`` over the window's content, computed on demand
/// in O(n log n); nothing is maintained incrementally.
///
/// Thread: a value owned by one thread.
public struct PrequentialWindow: Sendable {
    public let capacity: Int
    public let isSigmoid: Bool
    private var scores: [Double] = []
    private var labels: [Int32] = []
    private var next = 0
    /// Every label ever added, including those that have left the window.
    public private(set) var total = 0

    public init(capacity: Int, isSigmoid: Bool) {
        precondition(capacity > 0, "a prequential window needs room for one label")
        self.capacity = capacity
        self.isSigmoid = isSigmoid
    }

    /// Adds one judged prediction: for a sigmoid head the positive-class probability and the
    /// 0/1 label; for a softmax head the probability given to the true class (label ignored).
    public mutating func add(probability: Double, label: Int32) {
        let y: Int32 = isSigmoid ? label : 1
        total += 1
        if scores.count < capacity {
            scores.append(probability)
            labels.append(y)
        } else {
            scores[next] = probability
            labels[next] = y
            next = (next + 1) % capacity
        }
    }

    /// The labels now in the window.
    public var count: Int { scores.count }

    /// The window's metrics: `auc_roc` and `average_precision` (sigmoid heads, when defined:
    /// both classes present, or a positive present) and `log_loss`; empty when no label.
    public var metrics: [String: Double] {
        guard !scores.isEmpty else { return [:] }
        var result = ["log_loss": BinaryMetrics.logLoss(probabilities: scores, labels: labels)]
        if isSigmoid {
            result["auc_roc"] = BinaryMetrics.rocAUC(scores: scores, labels: labels)
            result["average_precision"] = BinaryMetrics.averagePrecision(
                scores: scores, labels: labels)
        }
        return result
    }
}

/// The loss of one head over a batch, masked to the rows that carry the head's label.
///
/// Labels are `Int32` per row: `-1` = no label (the row contributes nothing and its logit
/// gradient is zero), otherwise `0`/`1` for a sigmoid head or the class index for a softmax
/// head. The loss is the mean over labelled rows; ``evaluate(logits:labels:rows:gradient:)``
/// writes `d loss / d logits` for every row.
///
/// Sigmoid heads use binary cross-entropy on the logit, computed through `softplus` so that
/// no probability is ever rounded to 0 or 1:
///
///     -log p = softplus(-z),  -log(1 - p) = softplus(z)
///
/// With focal loss (Lin et al., 2017), `p_t` is the probability of the true class and
///
///     L = -(1 - p_t)^gamma log p_t
///     dL/dz = s (1 - p_t)^gamma (gamma p_t log p_t - (1 - p_t)),  s = +1 if y = 1 else -1
///
/// which is the plain cross-entropy gradient `p - y` when `gamma = 0`. A positive weight
/// multiplies the loss of positive rows (class weighting for rare positives).
public struct HeadLoss: Sendable {
    public let kind: HeadKind
    /// The weight of a positive row's loss in a sigmoid head (1 = unweighted).
    public var positiveWeight: Double
    /// The focal exponent; 0 is plain cross-entropy.
    public var focalGamma: Double

    public init(kind: HeadKind, positiveWeight: Double = 1, focalGamma: Double = 0) {
        self.kind = kind
        self.positiveWeight = positiveWeight
        self.focalGamma = focalGamma
    }

    /// The mean loss over labelled rows and their count; the gradient (already divided by
    /// the count) goes into `gradient: [rows, width]`. With no labelled row, the loss is 0
    /// and the gradient is all zeros.
    public func evaluate<T: BLASScalar>(
        logits: UnsafePointer<T>, labels: UnsafePointer<Int32>, rows: Int,
        gradient: UnsafeMutablePointer<T>
    ) -> (loss: Double, count: Int) {
        let width = kind.width
        gradient.update(repeating: 0, count: rows * width)
        var labelled = 0
        for row in 0..<rows where labels[row] >= 0 { labelled += 1 }
        guard labelled > 0 else { return (0, 0) }
        let scale = 1 / Double(labelled)
        var total = 0.0
        for row in 0..<rows where labels[row] >= 0 {
            let label = Int(labels[row])
            if width == 1 {
                total += sigmoidRow(
                    logit: Double(logits[row]), positive: label == 1, scale: scale,
                    gradient: gradient + row)
            } else {
                total += softmaxRow(
                    logits: logits + row * width, width: width, label: label, scale: scale,
                    gradient: gradient + row * width)
            }
        }
        return (total * scale, labelled)
    }

    private func sigmoidRow<T: BLASScalar>(
        logit z: Double, positive: Bool, scale: Double, gradient: UnsafeMutablePointer<T>
    ) -> Double {
        let weight = positive ? positiveWeight : 1
        let sign = positive ? 1.0 : -1.0
        let logPt = -Activation.softplus(-sign * z)  // log p_t
        let pt = Double.exp(logPt)
        let loss: Double
        let derivative: Double
        if focalGamma == 0 {
            loss = -logPt
            derivative = sign * (pt - 1)
        } else {
            let modulation = Double.pow(max(0, 1 - pt), focalGamma)
            loss = -modulation * logPt
            derivative = sign * modulation * (focalGamma * pt * logPt - (1 - pt))
        }
        gradient.pointee = T(weight * derivative * scale)
        return weight * loss
    }

    private func softmaxRow<T: BLASScalar>(
        logits: UnsafePointer<T>, width: Int, label: Int, scale: Double,
        gradient: UnsafeMutablePointer<T>
    ) -> Double {
        precondition(label < width, "class index out of range")
        var largest = Double(logits[0])
        for column in 1..<width { largest = max(largest, Double(logits[column])) }
        var sum = 0.0
        for column in 0..<width { sum += Double.exp(Double(logits[column]) - largest) }
        let logSum = Double.log(sum) + largest
        for column in 0..<width {
            let p = Double.exp(Double(logits[column]) - logSum)
            gradient[column] = T((p - (column == label ? 1 : 0)) * scale)
        }
        return logSum - Double(logits[label])
    }
}

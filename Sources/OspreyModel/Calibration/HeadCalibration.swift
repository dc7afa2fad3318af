/// A map from a head's logits to probabilities that mean what they say, fitted on held-out
/// rows after training.
///
/// - Platt scaling (sigmoid heads): `p = σ(a z + b)`, `a` and `b` fitted by Newton's method
///   on the held-out log loss.
/// - Temperature scaling: `p = σ(z / T)` or `softmax(z / T)`, one `T > 0` fitted by golden
///   section search on `log T`; it changes confidence but never the ranking.
public enum HeadCalibration: Sendable, Equatable {
    case identity
    case platt(a: Double, b: Double)
    case temperature(Double)

    /// The probability of a sigmoid head's logit.
    @inline(__always)
    public func probability(logit z: Double) -> Double {
        switch self {
        case .identity: Activation.sigmoid(z)
        case .platt(let a, let b): Activation.sigmoid(a * z + b)
        case .temperature(let t): Activation.sigmoid(z / t)
        }
    }

    /// The divisor applied to a softmax head's logits (1 unless temperature-scaled).
    public var softmaxTemperature: Double {
        if case .temperature(let t) = self { t } else { 1 }
    }

    /// Fits Platt scaling to logits `z` with labels `y` (0 or 1; other values are skipped).
    ///
    /// Falls back to ``identity`` when the labels hold only one class.
    public static func fitPlatt(logits z: [Double], labels y: [Int32]) -> HeadCalibration {
        let pairs = zip(z, y).filter { $0.1 == 0 || $0.1 == 1 }
        let positives = pairs.reduce(0) { $0 + Int($1.1) }
        guard positives > 0, positives < pairs.count else { return .identity }
        func loss(_ a: Double, _ b: Double) -> Double {
            pairs.reduce(0.0) { total, pair in
                let s = a * pair.0 + b
                return total + (pair.1 == 1 ? Activation.softplus(-s) : Activation.softplus(s))
            }
        }
        var a = 1.0
        var b = 0.0
        var current = loss(a, b)
        for _ in 0..<100 {
            // Gradient and Hessian of the summed log loss in (a, b).
            var ga = 0.0
            var gb = 0.0
            var haa = 1e-9
            var hab = 0.0
            var hbb = 1e-9
            for (logit, label) in pairs {
                let p = Activation.sigmoid(a * logit + b)
                let residual = p - Double(label)
                let curvature = p * (1 - p)
                ga += residual * logit
                gb += residual
                haa += curvature * logit * logit
                hab += curvature * logit
                hbb += curvature
            }
            let determinant = haa * hbb - hab * hab
            guard determinant > 0 else { break }
            var da = (hbb * ga - hab * gb) / determinant
            var db = (haa * gb - hab * ga) / determinant
            // Backtracking keeps every step a descent step.
            var next = loss(a - da, b - db)
            var halvings = 0
            while next > current, halvings < 30 {
                da /= 2
                db /= 2
                next = loss(a - da, b - db)
                halvings += 1
            }
            guard next <= current else { break }
            a -= da
            b -= db
            let improvement = current - next
            current = next
            if improvement < 1e-10 * max(1, current) { break }
        }
        return .platt(a: a, b: b)
    }

    /// Fits a temperature to a softmax head's logits `[rows, width]` and class labels
    /// (negative labels are skipped), or to a sigmoid head's logits when `width` is 1.
    public static func fitTemperature(logits: [Double], width: Int, labels: [Int32])
        -> HeadCalibration
    {
        let rows = labels.count
        func loss(_ logT: Double) -> Double {
            let t = Double.exp(logT)
            var total = 0.0
            for row in 0..<rows where labels[row] >= 0 {
                if width == 1 {
                    let s = logits[row] / t
                    total += labels[row] == 1 ? Activation.softplus(-s) : Activation.softplus(s)
                    continue
                }
                let values = logits[(row * width)..<((row + 1) * width)].map { $0 / t }
                let largest = values.max()!
                let logSum = Double.log(values.reduce(0) { $0 + Double.exp($1 - largest) })
                total += logSum + largest - values[Int(labels[row])]
            }
            return total
        }
        guard labels.contains(where: { $0 >= 0 }) else { return .identity }
        // Golden-section search for log T in [-4, 4] (T from 0.02 to 55).
        let ratio = (5.0.squareRoot() - 1) / 2
        var low = -4.0
        var high = 4.0
        var left = high - ratio * (high - low)
        var right = low + ratio * (high - low)
        var leftLoss = loss(left)
        var rightLoss = loss(right)
        for _ in 0..<60 {
            if leftLoss < rightLoss {
                high = right
                right = left
                rightLoss = leftLoss
                left = high - ratio * (high - low)
                leftLoss = loss(left)
            } else {
                low = left
                left = right
                leftLoss = rightLoss
                right = low + ratio * (high - low)
                rightLoss = loss(right)
            }
        }
        return .temperature(Double.exp((low + high) / 2))
    }
}

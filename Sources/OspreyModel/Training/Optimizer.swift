/// Adam (Kingma and Ba, 2015), with L2 regularisation added to the gradient, or AdamW
/// (Loshchilov and Hutter, 2019), with weight decay applied to the weights directly.
///
/// The update for each element, with bias-corrected moments:
///
///     m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g²
///     w -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)   [+ lr λ w for AdamW]
///
/// Thread: owned by one trainer.
public final class AdamOptimizer<T: BLASScalar> {
    public enum Variant: String, Sendable { case adam, adamw }

    public let variant: Variant
    public var learningRate: Double
    public let weightDecay: Double
    public let beta1 = 0.9
    public let beta2 = 0.999
    public let epsilon = 1e-8
    private var moments: [ObjectIdentifier: (m: [T], v: [T])] = [:]
    private var step = 0

    public init(variant: Variant, learningRate: Double, weightDecay: Double) {
        self.variant = variant
        self.learningRate = learningRate
        self.weightDecay = weightDecay
    }

    /// Applies one update to every parameter from its accumulated gradient.
    public func update(_ parameters: [Parameter<T>]) {
        step += 1
        let correction1 = 1 - Double.pow(beta1, Double(step))
        let correction2 = 1 - Double.pow(beta2, Double(step))
        let stepSize = T(learningRate / correction1)
        let b1 = T(beta1)
        let b2 = T(beta2)
        let root2 = T(correction2.squareRoot())
        let eps = T(epsilon)
        let decay = T(weightDecay)
        let decoupled = T(learningRate * weightDecay)
        for parameter in parameters {
            let key = ObjectIdentifier(parameter)
            var state =
                moments.removeValue(forKey: key)
                ?? (
                    [T](repeating: 0, count: parameter.count),
                    [T](repeating: 0, count: parameter.count)
                )
            let w = parameter.values
            let g = parameter.gradient
            for index in 0..<parameter.count {
                var gradient = g[index]
                if variant == .adam { gradient += decay * w[index] }
                let m = b1 * state.m[index] + (1 - b1) * gradient
                let v = b2 * state.v[index] + (1 - b2) * gradient * gradient
                state.m[index] = m
                state.v[index] = v
                if variant == .adamw { w[index] -= decoupled * w[index] }
                w[index] -= stepSize * m / ((v.squareRoot() / root2) + eps)
            }
            moments[key] = state
        }
    }
}

/// Scales a group's gradients down so that their joint Euclidean norm is at most `maxNorm`,
/// and returns the norm before clipping.
@discardableResult
public func clipGradients<T: BLASScalar>(_ parameters: [Parameter<T>], maxNorm: Double)
    -> Double
{
    var squares = 0.0
    for parameter in parameters {
        let norm = Double(
            T.nrm2(n: parameter.count, x: parameter.gradient.baseAddress!, incX: 1))
        squares += norm * norm
    }
    let norm = squares.squareRoot()
    if maxNorm > 0, norm > maxNorm {
        let scale = T(maxNorm / norm)
        for parameter in parameters {
            T.scal(n: parameter.count, alpha: scale, x: parameter.gradient.baseAddress!, incX: 1)
        }
    }
    return norm
}

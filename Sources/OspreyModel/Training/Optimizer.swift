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
    /// The moments of each parameter seen, by identity; allocated on its first update.
    private var moments: [ObjectIdentifier: Moments] = [:]
    private var step = 0

    /// One parameter's first and second moments, in buffers of its size.
    private final class Moments {
        let m: UnsafeMutableBufferPointer<T>
        let v: UnsafeMutableBufferPointer<T>

        init(count: Int) {
            m = .allocate(capacity: count)
            m.initialize(repeating: 0)
            v = .allocate(capacity: count)
            v.initialize(repeating: 0)
        }

        deinit {
            m.deallocate()
            v.deallocate()
        }
    }

    public init(variant: Variant, learningRate: Double, weightDecay: Double) {
        self.variant = variant
        self.learningRate = learningRate
        self.weightDecay = weightDecay
    }

    /// Applies one update to every parameter from its accumulated gradient.
    ///
    /// Complexity: O(parameters' elements), in one pass over raw buffers per parameter.
    @_specialize(where T == Float)
    public func update(_ parameters: [Parameter<T>]) {
        step += 1
        let correction1 = 1 - Double.pow(beta1, Double(step))
        let correction2 = 1 - Double.pow(beta2, Double(step))
        let stepSize = T(learningRate / correction1)
        let b1 = T(beta1)
        let b2 = T(beta2)
        let root2 = T(correction2.squareRoot())
        let eps = T(epsilon)
        let decay = variant == .adam ? T(weightDecay) : 0
        let decoupled = variant == .adamw ? T(learningRate * weightDecay) : 0
        for parameter in parameters {
            let key = ObjectIdentifier(parameter)
            let state: Moments
            if let known = moments[key] {
                state = known
            } else {
                state = Moments(count: parameter.count)
                moments[key] = state
            }
            parameter.changed()
            let w = parameter.values.baseAddress!
            let g = parameter.gradient.baseAddress!
            let m = state.m.baseAddress!
            let v = state.v.baseAddress!
            // decay is 0 for AdamW and decoupled 0 for Adam: one loop without branches.
            for index in 0..<parameter.count {
                let gradient = g[index] + decay * w[index]
                let first = b1 * m[index] + (1 - b1) * gradient
                let second = b2 * v[index] + (1 - b2) * gradient * gradient
                m[index] = first
                v[index] = second
                let decayed = w[index] - decoupled * w[index]
                w[index] = decayed - stepSize * first / (second.squareRoot() / root2 + eps)
            }
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

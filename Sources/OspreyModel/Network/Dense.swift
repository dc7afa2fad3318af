import OspreyCore

/// A fully connected layer, `y = x W + b`.
///
/// Shapes: `x: [rows, inputs]`, `W: [inputs, outputs]`, `b: [outputs]`, `y: [rows, outputs]`,
/// all row-major. Forward is one `gemm` and one rank-1 update (`ger`) with a vector of ones
/// for the bias; backward is two `gemm`s and a `gemv`. Gradients accumulate (they are sums
/// over the batch), so the loss decides whether a batch is a sum or a mean.
///
/// Thread: owned by one network.
public final class Dense<T: BLASScalar> {
    public let inputs: Int
    public let outputs: Int
    public let weight: Parameter<T>
    public let bias: Parameter<T>
    private let ones = Workspace<T>(columns: 1)
    /// When set, ``forward(x:rows:y:)`` of a batch of exactly its rows computes the copies from
    /// their base rows (see ``InputOcclusion``); set only on layers that read the network's
    /// input, and only for one scoring pass.
    public var occlusion: InputOcclusion?

    /// A layer with He-uniform weights (suited to ReLU) and zero bias.
    public init(name: String, inputs: Int, outputs: Int, random: inout SeededRandom) {
        self.inputs = inputs
        self.outputs = outputs
        let bound = T((6.0 / Double(max(1, inputs))).squareRoot())
        let values = (0..<(inputs * outputs)).map { _ in random.symmetric(bound) }
        weight = Parameter(name: name + ".weight", shape: [inputs, outputs], values: values)
        bias = Parameter(
            name: name + ".bias", shape: [outputs], values: [T](repeating: 0, count: outputs))
    }

    public var parameters: [Parameter<T>] { [weight, bias] }

    private func onesVector(_ rows: Int) -> UnsafeMutablePointer<T> {
        if ones.rows < rows {
            ones.reserve(rows: rows)
            ones.buffer.update(repeating: 1)
        }
        return ones.pointer
    }

    /// `y = x W + b` for `rows` rows; row `r` of `x` starts at `x + r * lda` (`lda` defaults
    /// to ``inputs``).
    @_specialize(where T == Float)
    public func forward(
        x: UnsafePointer<T>, lda: Int? = nil, rows: Int, y: UnsafeMutablePointer<T>
    ) {
        if let occlusion, occlusion.rows == rows, lda == nil {
            forward(x: x, occlusion: occlusion, y: y)
            return
        }
        Self.affine(
            x: x, lda: lda ?? inputs, rows: rows, inputs: inputs, outputs: outputs,
            weight: weight.values.baseAddress!, bias: bias.values.baseAddress!, y: y)
    }

    /// `y = x W + b` over raw buffers: each row of `y` starts as `b` and one `gemm` with
    /// `beta = 1` adds `x W`, which spares the separate pass `gemm` makes to clear `y` when
    /// `beta = 0` and a second pass to add the bias.
    @_specialize(where T == Float)
    static func affine(
        x: UnsafePointer<T>, lda: Int, rows: Int, inputs: Int, outputs: Int,
        weight: UnsafePointer<T>, bias: UnsafePointer<T>, y: UnsafeMutablePointer<T>
    ) {
        for row in 0..<rows { (y + row * outputs).update(from: bias, count: outputs) }
        T.gemm(
            transA: false, transB: false, m: rows, n: outputs, k: inputs, alpha: 1,
            a: x, lda: lda, b: weight, ldb: outputs, beta: 1, c: y, ldc: outputs)
    }

    /// Adds this batch's gradients to `W` and `b`, and writes (or adds, when `accumulate`)
    /// the gradient with respect to `x` into `dx` when it is given.
    ///
    /// `x` must be the input of the matching ``forward(x:rows:y:)``; `dy: [rows, outputs]`.
    @_specialize(where T == Float)
    public func backward(
        x: UnsafePointer<T>, rows: Int, dy: UnsafePointer<T>,
        dx: UnsafeMutablePointer<T>?, accumulate: Bool = false
    ) {
        // dW += xᵀ dy: [inputs, rows] x [rows, outputs]
        T.gemm(
            transA: true, transB: false, m: inputs, n: outputs, k: rows, alpha: 1,
            a: x, lda: inputs, b: dy, ldb: outputs, beta: 1,
            c: weight.gradient.baseAddress!, ldc: outputs)
        // db += dyᵀ 1
        T.gemv(
            trans: true, m: rows, n: outputs, alpha: 1, a: dy, lda: outputs,
            x: onesVector(rows), incX: 1, beta: 1, y: bias.gradient.baseAddress!, incY: 1)
        // dx = dy Wᵀ: [rows, outputs] x [outputs, inputs]
        if let dx {
            T.gemm(
                transA: false, transB: true, m: rows, n: inputs, k: outputs, alpha: 1,
                a: dy, lda: outputs, b: weight.values.baseAddress!, ldb: outputs,
                beta: accumulate ? 1 : 0, c: dx, ldc: inputs)
        }
    }
}

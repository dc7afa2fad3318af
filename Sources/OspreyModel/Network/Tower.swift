import OspreyCore

/// A stack of dense layers with ReLU between them: `widths = [in, h1, ..., out]`.
///
/// The last layer is followed by a ReLU when `reluOnOutput` (a bottom or an expert, whose
/// output feeds further layers) and is linear otherwise (a head, whose output is logits).
/// The tower keeps every layer's output for the backward pass in workspaces it owns.
///
/// Thread: owned by one network.
public final class Tower<T: BLASScalar> {
    public let layers: [Dense<T>]
    public let reluOnOutput: Bool
    /// Dropout on the ReLU outputs while ``Dropout/active`` is set (training only).
    public let dropout: Dropout?
    private let outputs: [Workspace<T>]
    private let gradients: [Workspace<T>]
    private let masks: [Workspace<T>]
    /// Every layer's weight and bias, gathered once.
    public let parameters: [Parameter<T>]

    public init(
        name: String, widths: [Int], reluOnOutput: Bool, random: inout SeededRandom,
        dropout: Dropout? = nil
    ) {
        precondition(widths.count >= 2, "a tower needs an input and an output width")
        var layers: [Dense<T>] = []
        for index in 0..<(widths.count - 1) {
            layers.append(
                Dense(
                    name: "\(name).\(index)", inputs: widths[index],
                    outputs: widths[index + 1], random: &random))
        }
        self.layers = layers
        self.reluOnOutput = reluOnOutput
        outputs = layers.map { Workspace(columns: $0.outputs) }
        gradients = layers.map { Workspace(columns: $0.outputs) }
        masks = layers.map { Workspace(columns: $0.outputs) }
        self.dropout = dropout
        parameters = layers.flatMap(\.parameters)
    }

    private var dropping: Bool { dropout.map { $0.active && $0.rate > 0 } ?? false }

    public var inputWidth: Int { layers[0].inputs }
    public var outputWidth: Int { layers[layers.count - 1].outputs }

    /// The output of the last ``forward(x:rows:)``, `[rows, outputWidth]`.
    public var output: UnsafeMutablePointer<T> { outputs[outputs.count - 1].pointer }

    /// Runs the tower on `x: [rows, inputWidth]`; the result is in ``output``.
    @discardableResult
    @_specialize(where T == Float)
    public func forward(x: UnsafePointer<T>, rows: Int) -> UnsafeMutablePointer<T> {
        var input = x
        let dropping = self.dropping
        for (index, layer) in layers.enumerated() {
            let out = outputs[index]
            out.reserve(rows: rows)
            layer.forward(x: input, rows: rows, y: out.pointer)
            if index < layers.count - 1 || reluOnOutput {
                Activation.relu(out.pointer, count: rows * layer.outputs)
                if dropping {
                    let mask = masks[index]
                    mask.reserve(rows: rows)
                    dropout!.fill(mask.pointer, count: rows * layer.outputs)
                    for element in 0..<(rows * layer.outputs) {
                        out.pointer[element] *= mask.pointer[element]
                    }
                }
            }
            input = UnsafePointer(out.pointer)
        }
        return output
    }

    /// Runs the tower for scoring when its first layer's `x W + b` is already computed
    /// (by ``FusedInputLayers``): `first` holds it, row `r` at `first + r * ld`. The ReLU
    /// after the first layer is applied to `first` in place; the result is in ``output``.
    /// Never drops units.
    @_specialize(where T == Float)
    func forward(first: UnsafeMutablePointer<T>, ld: Int, rows: Int) {
        let width = layers[0].outputs
        if layers.count > 1 || reluOnOutput {
            for row in 0..<rows { Activation.relu(first + row * ld, count: width) }
        }
        if layers.count == 1 {
            let out = outputs[0]
            out.reserve(rows: rows)
            T.matrixCopy(
                rows: rows, columns: width, a: first, lda: ld, b: out.pointer, ldb: width)
            return
        }
        var input = UnsafePointer(first)
        var lda = ld
        for index in 1..<layers.count {
            let layer = layers[index]
            let out = outputs[index]
            out.reserve(rows: rows)
            layer.forward(x: input, lda: lda, rows: rows, y: out.pointer)
            if index < layers.count - 1 || reluOnOutput {
                Activation.relu(out.pointer, count: rows * layer.outputs)
            }
            input = UnsafePointer(out.pointer)
            lda = layer.outputs
        }
    }

    /// Backward pass for the last forward on `x`, given `dOutput: [rows, outputWidth]`.
    ///
    /// Adds the parameters' gradients and writes (or adds, when `accumulate`) the gradient
    /// with respect to `x` into `dx` when it is given. `dOutput` is not modified.
    @_specialize(where T == Float)
    public func backward(
        x: UnsafePointer<T>, rows: Int, dOutput: UnsafePointer<T>,
        dx: UnsafeMutablePointer<T>?, accumulate: Bool = false
    ) {
        let dropping = self.dropping
        var upstream = dOutput
        for index in stride(from: layers.count - 1, through: 0, by: -1) {
            let layer = layers[index]
            let count = rows * layer.outputs
            let local = gradients[index]
            local.reserve(rows: rows)
            if upstream != UnsafePointer(local.pointer) {
                local.pointer.update(from: upstream, count: count)
            }
            if index < layers.count - 1 || reluOnOutput {
                Activation.reluBackward(
                    output: outputs[index].pointer, gradient: local.pointer, count: count)
                if dropping {
                    let mask = masks[index].pointer
                    for element in 0..<count { local.pointer[element] *= mask[element] }
                }
            }
            let input = index == 0 ? x : UnsafePointer(outputs[index - 1].pointer)
            if index == 0 {
                layer.backward(
                    x: input, rows: rows, dy: local.pointer, dx: dx, accumulate: accumulate)
            } else {
                // The previous layer's gradient buffer receives dx; it is read next step.
                let previous = gradients[index - 1]
                previous.reserve(rows: rows)
                layer.backward(x: input, rows: rows, dy: local.pointer, dx: previous.pointer)
                upstream = UnsafePointer(previous.pointer)
            }
        }
    }
}

/// Inverted dropout (Srivastava et al., 2014), shared by a network's towers: while
/// ``active``, each hidden unit is zeroed with probability ``rate`` and the others are scaled
/// by `1 / (1 - rate)`, so nothing changes at scoring time. The trainer switches it on for
/// its steps and off for validation; the masks come from a seeded generator, so training stays
/// reproducible.
///
/// Thread: owned by one network's trainer.
public final class Dropout {
    public let rate: Double
    public var active = false
    private var random: SeededRandom

    public init(rate: Double, seed: UInt64) {
        precondition(rate >= 0 && rate < 1, "dropout rate must be in [0, 1)")
        self.rate = rate
        random = SeededRandom(seed: seed).derived(0x4452_4f50)
    }

    /// Writes `count` mask values (0 or `1 / (1 - rate)`).
    func fill<T: BLASScalar>(_ mask: UnsafeMutablePointer<T>, count: Int) {
        let keep = T(1 / (1 - rate))
        let threshold = UInt64(rate * 0x1p64.nextDown)
        for index in 0..<count { mask[index] = random.next() < threshold ? 0 : keep }
    }
}

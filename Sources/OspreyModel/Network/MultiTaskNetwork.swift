import OspreyCore

/// A network that maps a batch of feature vectors to logits for several heads.
///
/// Shapes: `x: [rows, inputWidth]`; head `h`'s logits `[rows, heads[h].width]`. The logits
/// of the last ``forward(x:rows:)`` stay valid until the next forward.
/// ``backward(x:rows:dLogits:)`` must follow the forward on the same `x`; a head whose entry
/// in `dLogits` is nil contributes nothing (its examples carried no label).
///
/// Thread: a network is used by one thread at a time.
public protocol MultiTaskNetwork<Scalar>: AnyObject {
    associatedtype Scalar: BLASScalar

    var architecture: Architecture { get }
    var heads: [HeadSpec] { get }
    var inputWidth: Int { get }
    /// Every trainable tensor, in a fixed order (the order they are saved and optimised in).
    var parameters: [Parameter<Scalar>] { get }

    func forward(x: UnsafePointer<Scalar>, rows: Int)
    /// The forward pass for scoring: the same logits as ``forward(x:rows:)``, up to the
    /// rounding of the sums, but it may take a faster path that leaves nothing for a backward
    /// pass. With `occlusion`, the batch is laid out as it says (see ``InputOcclusion``).
    func score(x: UnsafePointer<Scalar>, rows: Int, occlusion: InputOcclusion?)
    func logits(head: Int) -> UnsafeMutablePointer<Scalar>
    func backward(x: UnsafePointer<Scalar>, rows: Int, dLogits: [UnsafePointer<Scalar>?])

    /// The parameter groups that gradient clipping treats separately: one per independent
    /// network (several for ``Architecture/singleTask``, one otherwise).
    var parameterGroups: [[Parameter<Scalar>]] { get }

    /// Every dense layer in the order a forward pass runs them, for the benchmark, which
    /// times `gemm` alone on the same shapes.
    var denseLayers: [Dense<Scalar>] { get }

    /// The `[inputs, outputs]` shapes of the `gemm` calls ``score(x:rows:occlusion:)`` makes,
    /// in order, for the benchmark.
    var scoringShapes: [(inputs: Int, outputs: Int)] { get }

    /// The dense layers that read the network's input `x` directly (the first layer of each
    /// bottom or expert, and each MMoE gate); every other layer reads their outputs.
    var inputLayers: [Dense<Scalar>] { get }

    /// The towers' shared dropout, when the shape asks for it.
    var dropout: Dropout? { get }
}

extension MultiTaskNetwork {
    public var parameterGroups: [[Parameter<Scalar>]] { [parameters] }

    /// ``forward(x:rows:)``, with `occlusion` set on the ``inputLayers`` for the pass.
    public func score(x: UnsafePointer<Scalar>, rows: Int, occlusion: InputOcclusion?) {
        guard let occlusion else { return forward(x: x, rows: rows) }
        let layers = inputLayers
        for layer in layers { layer.occlusion = occlusion }
        defer { for layer in layers { layer.occlusion = nil } }
        forward(x: x, rows: rows)
    }

    public var scoringShapes: [(inputs: Int, outputs: Int)] {
        denseLayers.map { ($0.inputs, $0.outputs) }
    }

    /// Multiply-adds per row in the dense layers of a forward pass (the mixing, activations
    /// and bias additions are not counted).
    public var multiplyAddsPerRow: Int { denseLayers.reduce(0) { $0 + $1.inputs * $1.outputs } }
}

/// The widths of a network's layers.
public struct NetworkShape: Sendable, Hashable {
    /// Hidden widths of the shared bottom, of each expert, or of each single-task bottom.
    public var hidden: [Int]
    /// Hidden widths of each head's tower before its output layer (may be empty).
    public var tower: [Int]
    /// The number of experts (MMoE only).
    public var experts: Int
    /// Dropout on hidden units while training (0 = none); scoring never drops.
    public var dropout: Double

    /// The defaults: three experts of 48 and 24 units. Four experts of 64 and 32 scored no
    /// better on the handbook protocol (fraud head, five seeds, within the seeds' spread) and
    /// cost 1.8 times the multiply-adds per event (see the README's "Measuring capacity").
    public init(
        hidden: [Int] = [48, 24], tower: [Int] = [16], experts: Int = 3, dropout: Double = 0
    ) {
        self.hidden = hidden
        self.tower = tower
        self.experts = experts
        self.dropout = dropout
    }
}

/// Builds a network with freshly initialised weights from `seed`.
public func makeNetwork<T: BLASScalar>(
    _ architecture: Architecture, inputs: Int, heads: [HeadSpec], shape: NetworkShape,
    seed: UInt64, as type: T.Type = T.self
) -> any MultiTaskNetwork<T> {
    var random = SeededRandom(seed: seed)
    let dropout = shape.dropout > 0 ? Dropout(rate: shape.dropout, seed: seed) : nil
    switch architecture {
    case .sharedBottom:
        return SharedBottomNetwork<T>(
            inputs: inputs, heads: heads, shape: shape, prefix: "", random: &random,
            dropout: dropout)
    case .mmoe:
        return MMoENetwork<T>(
            inputs: inputs, heads: heads, shape: shape, random: &random, dropout: dropout)
    case .singleTask:
        return SingleTaskNetwork<T>(
            inputs: inputs, heads: heads, shape: shape, random: &random, dropout: dropout)
    }
}

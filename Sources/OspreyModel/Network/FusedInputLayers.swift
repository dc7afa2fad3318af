import OspreyCore

/// Several dense layers that read the same input, computed for scoring as one `gemm`.
///
/// An MMoE's experts and gates all read the network's input: for the default model on events
/// that is three `[rows, 124] x [124, 48]` products and two `[rows, 124] x [124, 3]` ones, and
/// `gemm` packs the same input rows again for each. Side by side the weights make one
/// `[rows, 124] x [124, 150]` product, which packs the input once and keeps the kernel on
/// wider tiles. The result is the layers' outputs next to each other in one matrix, layer `i`
/// in the columns from ``offsets```[i]`.
///
/// The fused weights are a copy. Before each forward the copy is compared with the layers'
/// parameters' ``Parameter/generation`` and taken again when any has changed, so a trained
/// or reloaded network scores with its current weights. Training does not use this path:
/// its backward pass needs each layer's own output.
///
/// Thread: owned by one network.
final class FusedInputLayers<T: BLASScalar> {
    let layers: [Dense<T>]
    let inputs: Int
    /// The sum of the layers' output widths: the row length of ``output``.
    let width: Int
    /// The first column of each layer's output in ``output``.
    let offsets: [Int]
    /// `[rows, width]` after ``forward(x:rows:occlusion:)``.
    let output: Workspace<T>
    private let weight: UnsafeMutableBufferPointer<T>
    private let bias: UnsafeMutableBufferPointer<T>
    private var generations: [UInt64]

    init(_ layers: [Dense<T>]) {
        precondition(!layers.isEmpty, "nothing to fuse")
        let inputs = layers[0].inputs
        precondition(layers.allSatisfy { $0.inputs == inputs }, "fused layers share an input")
        self.layers = layers
        self.inputs = inputs
        var offsets: [Int] = []
        var width = 0
        for layer in layers {
            offsets.append(width)
            width += layer.outputs
        }
        self.offsets = offsets
        self.width = width
        output = Workspace(columns: width)
        weight = .allocate(capacity: inputs * width)
        weight.initialize(repeating: 0)
        bias = .allocate(capacity: width)
        bias.initialize(repeating: 0)
        // No parameter has this generation, so the first forward takes the weights.
        generations = [UInt64](repeating: .max, count: layers.count * 2)
    }

    deinit {
        weight.deallocate()
        bias.deallocate()
    }

    /// Copies the layers' weights into the fused matrix when any changed since the last copy.
    private func refresh() {
        var current = true
        for (index, layer) in layers.enumerated()
        where generations[2 * index] != layer.weight.generation
            || generations[2 * index + 1] != layer.bias.generation
        {
            current = false
            break
        }
        if current { return }
        for (index, layer) in layers.enumerated() {
            T.matrixCopy(
                rows: inputs, columns: layer.outputs, a: layer.weight.values.baseAddress!,
                lda: layer.outputs, b: weight.baseAddress! + offsets[index], ldb: width)
            (bias.baseAddress! + offsets[index]).update(
                from: layer.bias.values.baseAddress!, count: layer.outputs)
            generations[2 * index] = layer.weight.generation
            generations[2 * index + 1] = layer.bias.generation
        }
    }

    /// Every layer's `x W + b` for `x: [rows, inputs]`, into ``output``; with `occlusion`, for
    /// a batch laid out as it says (see ``InputOcclusion``).
    @_specialize(where T == Float)
    func forward(x: UnsafePointer<T>, rows: Int, occlusion: InputOcclusion?) {
        refresh()
        output.reserve(rows: rows)
        if let occlusion, occlusion.rows == rows {
            occlusion.apply(
                x: x, inputs: inputs, outputs: width, weight: weight.baseAddress!,
                bias: bias.baseAddress!, y: output.pointer)
        } else {
            Dense<T>.affine(
                x: x, lda: inputs, rows: rows, inputs: inputs, outputs: width,
                weight: weight.baseAddress!, bias: bias.baseAddress!, y: output.pointer)
        }
    }
}

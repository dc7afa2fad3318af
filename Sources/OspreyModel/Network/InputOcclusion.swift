import OspreyCore

/// A batch laid out for occlusion: groups of rows, each a base row followed by copies of it
/// that differ from it in one input column, set to zero.
///
/// A dense layer that reads the network's input computes such a copy exactly from the base
/// row's output, since `(x - x_j e_j) W + b = (x W + b) - x_j W[j, :]`: one `axpy` over the
/// layer's outputs instead of a row of the matrix product. For the default MMoE that drops
/// the occluded rows' cost from about 50,000 multiply-adds each to about 10,000 (what is left
/// is the layers after the first). The result equals a plain forward of the same rows up to
/// the rounding of the sums.
///
/// ``Scorer/score(_:categories:occlusion:)`` sets it on a network's
/// ``MultiTaskNetwork/inputLayers`` for one forward pass.
///
/// - Important: the copies' input rows must really hold zero in their column (after
///   standardisation) and equal the base row elsewhere; the layer does not check.
public final class InputOcclusion: Sendable {
    /// One base row and the column each of the rows after it zeroes.
    public struct Group: Sendable {
        public let baseRow: Int
        public let columns: [Int]

        public init(baseRow: Int, columns: [Int]) {
            self.baseRow = baseRow
            self.columns = columns
        }
    }

    public let groups: [Group]
    /// Rows in the batch: every group's base row and copies, back to back.
    public let rows: Int

    public init(groups: [Group]) {
        self.groups = groups
        rows = groups.reduce(0) { $0 + 1 + $1.columns.count }
    }
}

extension InputOcclusion {
    /// `y = x W + b` for a batch laid out as this occlusion says, over raw buffers
    /// (`W: [inputs, outputs]`): each base row by a matrix-vector product, each copy from its
    /// base row's output.
    @_specialize(where T == Float)
    func apply<T: BLASScalar>(
        x: UnsafePointer<T>, inputs: Int, outputs: Int, weight: UnsafePointer<T>,
        bias: UnsafePointer<T>, y: UnsafeMutablePointer<T>
    ) {
        for group in groups {
            let base = y + group.baseRow * outputs
            let input = x + group.baseRow * inputs
            // y_base = W^T x_base + b
            base.update(from: bias, count: outputs)
            T.gemv(
                trans: true, m: inputs, n: outputs, alpha: 1, a: weight, lda: outputs,
                x: input, incX: 1, beta: 1, y: base, incY: 1)
            for (position, column) in group.columns.enumerated() {
                let copy = base + (position + 1) * outputs
                copy.update(from: base, count: outputs)
                let value = input[column]
                if value != 0 {
                    T.axpy(
                        n: outputs, alpha: -value, x: weight + column * outputs, incX: 1,
                        y: copy, incY: 1)
                }
            }
        }
    }
}

extension Dense {
    /// ``forward(x:rows:y:)`` for a batch laid out as `occlusion` says.
    func forward(
        x: UnsafePointer<T>, occlusion: InputOcclusion, y: UnsafeMutablePointer<T>
    ) {
        occlusion.apply(
            x: x, inputs: inputs, outputs: outputs, weight: weight.values.baseAddress!,
            bias: bias.values.baseAddress!, y: y)
    }
}

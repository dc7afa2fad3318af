/// Per-feature standardisation, `x' = (x - mean) / scale`, fitted on the training rows.
///
/// A feature with zero variance gets scale 1. A non-finite input becomes 0 after
/// standardisation (the training mean), so one bad value cannot poison a batch.
public struct Normalisation: Sendable, Equatable {
    public var mean: [Float]
    public var scale: [Float]

    public init(mean: [Float], scale: [Float]) {
        precondition(mean.count == scale.count, "mean and scale differ in length")
        self.mean = mean
        self.scale = scale
    }

    /// The identity for `width` features.
    public static func identity(width: Int) -> Normalisation {
        Normalisation(
            mean: [Float](repeating: 0, count: width), scale: [Float](repeating: 1, count: width))
    }

    /// Mean and standard deviation of each column (two passes in `Double`).
    public static func fit(_ dataset: Dataset) -> Normalisation {
        let width = dataset.width
        let rows = dataset.count
        guard rows > 0 else { return identity(width: width) }
        var sums = [Double](repeating: 0, count: width)
        var squares = [Double](repeating: 0, count: width)
        var counts = [Int](repeating: 0, count: width)
        dataset.features.withUnsafeBufferPointer { x in
            for row in 0..<rows {
                for column in 0..<width {
                    let value = Double(x[row * width + column])
                    guard value.isFinite else { continue }
                    sums[column] += value
                    counts[column] += 1
                }
            }
            for column in 0..<width where counts[column] > 0 {
                sums[column] /= Double(counts[column])
            }
            for row in 0..<rows {
                for column in 0..<width {
                    let value = Double(x[row * width + column])
                    guard value.isFinite else { continue }
                    let delta = value - sums[column]
                    squares[column] += delta * delta
                }
            }
        }
        var scale = [Float](repeating: 1, count: width)
        for column in 0..<width where counts[column] > 1 {
            let deviation = (squares[column] / Double(counts[column])).squareRoot()
            if deviation > 1e-12 { scale[column] = Float(deviation) }
        }
        return Normalisation(mean: sums.map { Float($0) }, scale: scale)
    }

    /// Standardises `rows` rows from `source` into `target` (both `[rows, width]`).
    public func apply(
        _ source: UnsafePointer<Float>, rows: Int, into target: UnsafeMutablePointer<Float>
    ) {
        let width = mean.count
        mean.withUnsafeBufferPointer { mean in
            scale.withUnsafeBufferPointer { scale in
                for row in 0..<rows {
                    let input = source + row * width
                    let output = target + row * width
                    for column in 0..<width {
                        let value = (input[column] - mean[column]) / scale[column]
                        output[column] = value.isFinite ? value : 0
                    }
                }
            }
        }
    }
}

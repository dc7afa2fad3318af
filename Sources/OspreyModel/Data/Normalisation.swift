/// Per-feature standardisation fitted on the training rows:
///
///     x' = (t(x) - mean) * (1 / scale),   t(x) = log1p(max(x, 0)) if compressed, else x
///
/// Counts, amounts and ages are heavy-tailed; a feature that is never negative on the training
/// rows and whose skewness exceeds ``skewnessLimit`` is compressed with `log1p` first, so that
/// a few huge values neither dominate the scale nor saturate the network. A feature with zero
/// variance gets scale 1. A non-finite input becomes 0 after standardisation (the training
/// mean), so one bad value cannot poison a batch. A feature left out of the model
/// (`model.features`) is always 0, so the network cannot use it.
public struct Normalisation: Sendable, Equatable {
    public var mean: [Float]
    public var scale: [Float]
    /// Whether each feature is compressed with `log1p` before standardising.
    public var compressed: [Bool]
    /// Whether the model uses each feature; an unused one is set to 0.
    public var used: [Bool]

    /// The skewness above which a non-negative feature is compressed.
    public static let skewnessLimit = 2.0

    public init(mean: [Float], scale: [Float], compressed: [Bool]? = nil, used: [Bool]? = nil) {
        precondition(mean.count == scale.count, "mean and scale differ in length")
        self.mean = mean
        self.scale = scale
        self.compressed = compressed ?? [Bool](repeating: false, count: mean.count)
        self.used = used ?? [Bool](repeating: true, count: mean.count)
        precondition(self.compressed.count == mean.count, "compressed flags differ in length")
        precondition(self.used.count == mean.count, "used flags differ in length")
    }

    /// The identity for `width` features.
    public static func identity(width: Int) -> Normalisation {
        Normalisation(
            mean: [Float](repeating: 0, count: width), scale: [Float](repeating: 1, count: width))
    }

    /// Mean, standard deviation and skewness per column, and the columns' minima.
    private static func moments(_ dataset: Dataset, compressed: [Bool])
        -> (mean: [Double], deviation: [Double], skewness: [Double], minimum: [Double])
    {
        let width = dataset.width
        let rows = dataset.count
        var sums = [Double](repeating: 0, count: width)
        var counts = [Double](repeating: 0, count: width)
        var minimum = [Double](repeating: .infinity, count: width)
        var second = [Double](repeating: 0, count: width)
        var third = [Double](repeating: 0, count: width)
        dataset.features.withUnsafeBufferPointer { x in
            for row in 0..<rows {
                for column in 0..<width {
                    let value = transform(Double(x[row * width + column]), compressed[column])
                    guard value.isFinite else { continue }
                    sums[column] += value
                    counts[column] += 1
                    minimum[column] = min(minimum[column], value)
                }
            }
            for column in 0..<width where counts[column] > 0 { sums[column] /= counts[column] }
            for row in 0..<rows {
                for column in 0..<width {
                    let value = transform(Double(x[row * width + column]), compressed[column])
                    guard value.isFinite else { continue }
                    let delta = value - sums[column]
                    second[column] += delta * delta
                    third[column] += delta * delta * delta
                }
            }
        }
        var deviation = [Double](repeating: 0, count: width)
        var skewness = [Double](repeating: 0, count: width)
        for column in 0..<width where counts[column] > 1 {
            let variance = second[column] / counts[column]
            deviation[column] = variance.squareRoot()
            if variance > 1e-24 {
                skewness[column] = third[column] / counts[column] / (variance * deviation[column])
            }
        }
        return (sums, deviation, skewness, minimum)
    }

    @inline(__always)
    static func transform(_ value: Double, _ compressed: Bool) -> Double {
        compressed ? Double.log1p(max(value, 0)) : value
    }

    /// Fits the compression flags, means and scales to `dataset`'s rows (in `Double`).
    public static func fit(_ dataset: Dataset, used: [Bool]? = nil) -> Normalisation {
        let width = dataset.width
        guard dataset.count > 0 else { return identity(width: width) }
        let raw = moments(dataset, compressed: [Bool](repeating: false, count: width))
        let compressed = (0..<width).map { column in
            raw.minimum[column] >= 0 && raw.skewness[column] > skewnessLimit
        }
        let final = moments(dataset, compressed: compressed)
        let scale = final.deviation.map { $0 > 1e-12 ? Float($0) : 1 }
        return Normalisation(
            mean: final.mean.map { Float($0) }, scale: scale, compressed: compressed, used: used)
    }

    /// Standardises `rows` rows from `source` (`[rows, width]`) into `target`, whose rows
    /// are `targetStride` elements apart (`width` by default).
    public func apply(
        _ source: UnsafePointer<Float>, rows: Int, into target: UnsafeMutablePointer<Float>,
        targetStride: Int? = nil
    ) {
        let width = mean.count
        let stride = targetStride ?? width
        // Per column: 1 / scale, or 0 for an unused feature (the same for training and
        // scoring, so a model sees exactly what it was trained on).
        withUnsafeTemporaryAllocation(of: Float.self, capacity: width) { factor in
            for column in 0..<width { factor[column] = used[column] ? 1 / scale[column] : 0 }
            let compressedColumns = (0..<width).filter { compressed[$0] }
            mean.withUnsafeBufferPointer { mean in
                for row in 0..<rows {
                    let input = source + row * width
                    let output = target + row * stride
                    if input != UnsafePointer(output) { output.update(from: input, count: width) }
                    for column in compressedColumns {
                        output[column] = Float.log1p(max(output[column], 0))
                    }
                    for column in 0..<width {
                        let value = (output[column] - mean[column]) * factor[column]
                        output[column] = value.isFinite ? value : 0
                    }
                }
            }
        }
    }
}

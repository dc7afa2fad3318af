import OspreyFeatures

/// A trained multi-task model: the network, the feature schema and normalisation it expects,
/// each head's calibration and threshold, and where it came from.
///
/// Scoring goes through a ``Scorer``, which owns the scratch buffers; a model may back
/// several scorers on different threads as long as nobody trains it meanwhile.
public final class Model {
    public let network: any MultiTaskNetwork<Float>
    public let shape: NetworkShape
    public let schema: FeatureSchema
    public var normalisation: Normalisation
    /// Per head name; a head without an entry is uncalibrated.
    public var calibration: [String: HeadCalibration]
    /// Alert threshold per sigmoid head.
    public var thresholds: [String: Double]
    /// The metrics the model was promoted with, per head name (metric name → value).
    public var metrics: [String: [String: Double]]
    public var version: String
    public var parentVersion: String
    /// RFC 3339 creation time.
    public var createdAt: String
    public var taskWeighting: String
    /// The learned log-variance per head under uncertainty weighting, else nil.
    public var logVariance: [Float]?
    /// Free-form provenance (training data, period, settings), saved as metadata.
    public var notes: [String: String]
    /// Categories the model takes as a one-hot context input after the features (the
    /// event's category; all zeros for another or none). Empty when the model has none.
    public let categoryInputs: [String]
    let categoryIndex: [String: Int]

    /// The network's input width: the features, then the category one-hot.
    public var inputWidth: Int { schema.count + categoryInputs.count }

    public init(
        network: any MultiTaskNetwork<Float>, shape: NetworkShape, schema: FeatureSchema,
        normalisation: Normalisation, categoryInputs: [String] = [], version: String = "1",
        parentVersion: String = "", createdAt: String
    ) {
        precondition(
            network.inputWidth == schema.count + categoryInputs.count,
            "network width differs from the schema and category inputs")
        self.categoryInputs = categoryInputs
        self.categoryIndex = Dictionary(
            categoryInputs.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        self.network = network
        self.shape = shape
        self.schema = schema
        self.normalisation = normalisation
        self.calibration = [:]
        self.thresholds = [:]
        self.metrics = [:]
        self.version = version
        self.parentVersion = parentVersion
        self.createdAt = createdAt
        self.taskWeighting = "fixed"
        self.logVariance = nil
        self.notes = [:]
    }

    public var heads: [HeadSpec] { network.heads }
    public var architecture: Architecture { network.architecture }

    /// The index of the head called `name`, or nil.
    public func headIndex(_ name: String) -> Int? { heads.firstIndex { $0.name == name } }
}

/// Scores batches of raw feature vectors with a model: standardise, run the network, apply
/// each head's calibration.
///
/// Shapes: input `[rows, schema.count]`; ``probabilities(head:)`` `[rows, width]` (one
/// column for a sigmoid head). Buffers are reused across calls; results are valid until the
/// next ``score(_:rows:)``.
///
/// Thread: one scorer per thread.
public final class Scorer {
    public let model: Model
    private let standardised: Workspace<Float>
    private let outputs: [Workspace<Float>]

    public init(model: Model, capacity: Int = 256) {
        self.model = model
        standardised = Workspace(columns: model.inputWidth, rows: capacity)
        outputs = model.heads.map { Workspace(columns: $0.width, rows: capacity) }
    }

    /// Scores `rows` vectors at `features` (`[rows, schema.count]`); `categories`, when the
    /// model takes them, holds each row's category (nil or missing: none).
    public func score(
        _ features: UnsafePointer<Float>, rows: Int, categories: ArraySlice<String?> = []
    ) {
        standardised.reserve(rows: rows)
        let width = model.schema.count
        let extra = model.categoryInputs.count
        model.normalisation.apply(
            features, rows: rows, into: standardised.pointer, targetStride: width + extra)
        run(rows: rows, categories: categories, occlusion: nil)
    }

    /// Scores a batch laid out as `occlusion` says (`[occlusion.rows, schema.count]` at
    /// `features`): only the base rows are standardised, each copy is its base row with its
    /// column at 0, and the layers that read the input compute the copies from their base rows
    /// (see ``InputOcclusion``). The copies' own input rows are not read.
    public func score(
        _ features: UnsafePointer<Float>, categories: ArraySlice<String?> = [],
        occlusion: InputOcclusion
    ) {
        let rows = occlusion.rows
        standardised.reserve(rows: rows)
        let stride = model.inputWidth
        for group in occlusion.groups {
            let base = standardised.pointer + group.baseRow * stride
            model.normalisation.apply(
                features + group.baseRow * model.schema.count, rows: 1, into: base,
                targetStride: stride)
            for (position, column) in group.columns.enumerated() {
                let copy = base + (position + 1) * stride
                copy.update(from: base, count: stride)
                copy[column] = 0
            }
        }
        run(rows: rows, categories: categories, occlusion: occlusion)
    }

    /// The network and the calibration over the first `rows` standardised rows, after the
    /// category one-hot is written into them.
    private func run(rows: Int, categories: ArraySlice<String?>, occlusion: InputOcclusion?) {
        let width = model.schema.count
        let extra = model.categoryInputs.count
        if extra > 0 {
            for row in 0..<rows {
                let oneHot = standardised.pointer + row * (width + extra) + width
                oneHot.update(repeating: 0, count: extra)
                let position = categories.startIndex + row
                if position < categories.endIndex, let category = categories[position],
                    let index = model.categoryIndex[category]
                {
                    oneHot[index] = 1
                }
            }
        }
        model.network.score(x: standardised.pointer, rows: rows, occlusion: occlusion)
        for (index, head) in model.heads.enumerated() {
            let logits = model.network.logits(head: index)
            let output = outputs[index]
            output.reserve(rows: rows)
            let calibration = model.calibration[head.name] ?? .identity
            if head.kind.isSigmoid {
                for row in 0..<rows {
                    output.pointer[row] = Float(calibration.probability(logit: Double(logits[row])))
                }
            } else {
                let width = head.width
                let inverse = Float(1 / calibration.softmaxTemperature)
                let count = rows * width
                output.pointer.update(from: logits, count: count)
                if inverse != 1 { Float.scal(n: count, alpha: inverse, x: output.pointer, incX: 1) }
                Activation.softmaxRows(output.pointer, rows: rows, columns: width)
            }
        }
    }

    /// Head `head`'s probabilities from the last ``score(_:rows:)``.
    public func probabilities(head: Int) -> UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(outputs[head].buffer)
    }

    /// Scores a whole in-memory feature matrix (`[rows, schema.count]`) in batches and returns
    /// each head's probabilities, `[rows, width]` per head.
    public func scoreAll(
        _ features: [Float], rows: Int, categories: [String?] = [], batchSize: Int = 1024
    ) -> [[Float]] {
        let width = model.schema.count
        var result = model.heads.map { [Float](repeating: 0, count: rows * $0.width) }
        features.withUnsafeBufferPointer { x in
            var start = 0
            while start < rows {
                let count = min(batchSize, rows - start)
                let slice = categories.isEmpty ? [] : categories[start..<(start + count)]
                score(x.baseAddress! + start * width, rows: count, categories: slice)
                for (head, spec) in model.heads.enumerated() {
                    let values = probabilities(head: head)
                    result[head].withUnsafeMutableBufferPointer { target in
                        (target.baseAddress! + start * spec.width).update(
                            from: values.baseAddress!, count: count * spec.width)
                    }
                }
                start += count
            }
        }
        return result
    }
}

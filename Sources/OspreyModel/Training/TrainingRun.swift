import OspreyCore
import OspreyFeatures

/// The whole offline training recipe, from a labelled dataset to a calibrated model:
///
/// 1. choose the heads (the configured ones, or every head the data labels);
/// 2. hold out a seeded random share of the rows (`training.validation_fraction`) for early
///    stopping and calibration;
/// 3. fit the standardisation on the training rows only;
/// 4. train (``Trainer``), keeping the epoch with the lowest validation loss;
/// 5. calibrate each head on the held-out rows (Platt or temperature scaling);
/// 6. record the held-out metrics, thresholds and provenance in the model.
public enum TrainingRun {
    /// - Throws: ``ModelError/data(_:)`` when there are no rows, or a requested head has no
    ///   labelled row.
    public static func train(
        _ dataset: Dataset, schema: FeatureSchema, vocabulary: LabelVocabulary,
        configuration: ModelConfiguration, createdAt: String,
        progress: (EpochSummary) -> Void = { _ in }
    ) throws(ModelError) -> (model: Model, history: TrainingHistory, heldOut: [HeadEvaluation]) {
        guard dataset.count >= 10 else {
            throw .data("only \(dataset.count) rows in the training period; need at least 10")
        }
        let heads = try chooseHeads(dataset, configuration: configuration, vocabulary: vocabulary)
        OpenBLAS.setThreadCount(configuration.threads)

        var random = SeededRandom(seed: configuration.seed).derived(0x5641_4c49)
        var order = Array(0..<dataset.count)
        order.shuffle(using: &random)
        let held = max(1, Int(Double(order.count) * configuration.validationFraction))
        let validationRows = Array(order.prefix(held)).sorted()
        let trainingRows = Array(order.dropFirst(held)).sorted()
        var training = dataset.subset(trainingRows)
        var validation = dataset.subset(validationRows)
        let used = try configuration.usedFeatures(schema.names)
        let normalisation = Normalisation.fit(training, used: used)
        standardise(&training, normalisation)
        standardise(&validation, normalisation)
        let categoryInputs = Self.categoryInputs(dataset, heads: heads, vocabulary: vocabulary)
        training = appendingCategories(training, categoryInputs)
        validation = appendingCategories(validation, categoryInputs)

        let network = makeNetwork(
            configuration.architecture, inputs: schema.count + categoryInputs.count, heads: heads,
            shape: configuration.shape, seed: configuration.seed, as: Float.self)
        let trainer = Trainer(network: network, configuration: configuration)
        let history = trainer.train(training, validation: validation, progress: progress)

        let model = Model(
            network: network, shape: configuration.shape, schema: schema,
            normalisation: normalisation, categoryInputs: categoryInputs, createdAt: createdAt)
        model.taskWeighting = configuration.taskWeighting.name
        model.logVariance = trainer.logVariance?.array
        calibrate(model, validation: validation, method: configuration.calibration)
        for head in heads where head.kind.isSigmoid {
            model.thresholds[head.name] = configuration.thresholds[head.name] ?? 0.5
        }
        // Held-out metrics of the calibrated model (on raw features, as it will be used).
        let rawValidation = dataset.subset(validationRows)
        let heldOut = Evaluation.evaluate(model, on: rawValidation)
        for evaluation in heldOut {
            model.metrics[evaluation.head] = evaluation.metrics
        }
        model.notes["training_rows"] = String(trainingRows.count)
        model.notes["validation_rows"] = String(validationRows.count)
        model.notes["best_epoch"] = String(history.bestEpoch)
        model.notes["seed"] = String(configuration.seed)
        model.notes["purchase_horizon_ms"] = String(configuration.purchaseHorizonMs)
        model.notes["optimizer"] = configuration.optimizer.rawValue
        model.notes["learning_rate"] = "\(configuration.learningRate)"
        return (model, history, heldOut)
    }

    static func chooseHeads(
        _ dataset: Dataset, configuration: ModelConfiguration, vocabulary: LabelVocabulary
    ) throws(ModelError) -> [HeadSpec] {
        let requested =
            configuration.heads
            ?? KnownHead.allCases.filter { dataset.labelledCount($0.rawValue) > 0 }
        guard !requested.isEmpty else {
            throw .data("the training rows carry no label for any head")
        }
        var heads: [HeadSpec] = []
        for head in requested {
            guard dataset.labelledCount(head.rawValue) > 0 else {
                throw .data("head '\(head.rawValue)' has no labelled row in the training period")
            }
            switch head {
            case .fraudType:
                heads.append(
                    HeadSpec(name: head.rawValue, kind: .softmax(classes: vocabulary.fraudTypes)))
            case .interest:
                heads.append(
                    HeadSpec(name: head.rawValue, kind: .softmax(classes: vocabulary.interests)))
            default: heads.append(HeadSpec(name: head.rawValue, kind: .sigmoid))
            }
        }
        return heads
    }

    /// The categories a model takes as context: the interest classes (without `other`) when a
    /// behaviour head is trained on rows that carry categories, else none. The next click's
    /// category depends above all on the current one, which no rolling feature holds.
    static func categoryInputs(
        _ dataset: Dataset, heads: [HeadSpec], vocabulary: LabelVocabulary
    ) -> [String] {
        let behaviour = heads.contains {
            $0.name == KnownHead.interest.rawValue || $0.name == KnownHead.purchase.rawValue
        }
        guard behaviour, dataset.categories.contains(where: { $0 != nil }) else { return [] }
        return vocabulary.interests.filter { $0 != "other" }
    }

    /// The dataset with a one-hot of each row's category (among `inputs`) after its features.
    public static func appendingCategories(_ data: Dataset, _ inputs: [String]) -> Dataset {
        guard !inputs.isEmpty else { return data }
        let index = Dictionary(inputs.enumerated().map { ($1, $0) }) { first, _ in first }
        var result = data
        let width = data.width + inputs.count
        result.width = width
        result.features = [Float](repeating: 0, count: data.count * width)
        for row in 0..<data.count {
            for column in 0..<data.width {
                result.features[row * width + column] = data.features[row * data.width + column]
            }
            if row < data.categories.count, let category = data.categories[row],
                let position = index[category]
            {
                result.features[row * width + data.width + position] = 1
            }
        }
        return result
    }

    /// Standardises a dataset's features in place.
    public static func standardise(_ dataset: inout Dataset, _ normalisation: Normalisation) {
        let rows = dataset.count
        dataset.features.withUnsafeMutableBufferPointer { x in
            guard let base = x.baseAddress else { return }
            normalisation.apply(base, rows: rows, into: base)
        }
    }

    /// Fits each head's calibration on standardised validation rows.
    static func calibrate(
        _ model: Model, validation: Dataset, method: ModelConfiguration.Calibration
    ) {
        guard method != .none else { return }
        let logits = predictLogits(
            model.network, features: validation.features, rows: validation.count)
        for (index, head) in model.heads.enumerated() {
            guard let labels = validation.labels[head.name] else { continue }
            let z = logits[index].map(Double.init)
            if head.kind.isSigmoid, method == .platt {
                model.calibration[head.name] = HeadCalibration.fitPlatt(logits: z, labels: labels)
            } else {
                model.calibration[head.name] = HeadCalibration.fitTemperature(
                    logits: z, width: head.width, labels: labels)
            }
        }
    }
}

import OspreyCore
import OspreyModel

/// How a candidate is fine-tuned from the serving model.
public struct FineTuneSettings: Sendable, Equatable {
    /// Optimisation steps per run: the bound on a run's CPU time.
    public var steps = 200
    public var batchSize = 256
    public var learningRate = 0.0005
    public var seed: UInt64 = 1

    public init() {}
}

/// Makes a candidate model from the serving one: a copy (through the model file's bytes, so
/// nothing is shared with the scorer), trained for a bounded number of steps with the
/// offline ``Trainer`` on the replay buffer, then its sigmoid heads' Platt scaling refitted
/// on examples with the stream's class balance.
///
/// The serving model is only read. The normalisation, the category inputs, the thresholds
/// and the schema are kept, so the candidate scores the same vectors.
///
/// Thread: runs on the caller's thread (the trainer's); the serving model may be scored by
/// another thread meanwhile, as it is only read (its bytes are copied first).
public enum FineTuner {
    /// The result of one run.
    public struct Run {
        public let candidate: Model
        /// The mean combined loss of the steps.
        public let meanLoss: Double
        /// The steps taken: ``FineTuneSettings/steps``, or fewer when the run was stopped.
        public let steps: Int
        /// Whether `stop` ended the run early (the candidate is then not to be promoted).
        public var wasStopped: Bool { steps < requestedSteps }
        let requestedSteps: Int
    }

    /// Fine-tunes a copy of `serving` on `examples`; `calibration` (usually the buffer
    /// without its extra positives) refits the Platt scaling of calibrated sigmoid heads.
    /// `stop` is asked before every step: when it answers true, the run ends at once and its
    /// ``Run/wasStopped`` (a daemon that is shutting down does not wait for a whole run).
    ///
    /// - Throws: ``ModelError`` when the serving model cannot be copied (a programming error
    ///   in practice: its own bytes do not decode), or ``ModelError/data(_:)`` without examples.
    public static func fineTune(
        _ serving: Model, examples: [TrainingExample], calibration: [TrainingExample],
        settings: FineTuneSettings, stop: () -> Bool = { false }
    ) throws(ModelError) -> Run {
        guard !examples.isEmpty else { throw .data("no examples to fine-tune on") }
        let candidate = try Model.decode(
            serving.encoded(), path: "candidate of version \(serving.version)",
            expecting: serving.schema)
        var data = prepared(examples, for: candidate)
        var configuration = ModelConfiguration()
        configuration.learningRate = settings.learningRate
        configuration.batchSize = settings.batchSize
        configuration.seed = settings.seed
        let trainer = Trainer(network: candidate.network, configuration: configuration)
        var random = SeededRandom(seed: settings.seed).derived(0x4654_554e)
        var order = Array(0..<data.count)
        var position = order.count
        var total = 0.0
        var steps = 0
        candidate.network.dropout?.active = true
        while steps < settings.steps, !stop() {
            steps += 1
            if position >= order.count {
                order.shuffle(using: &random)
                position = 0
            }
            let end = min(order.count, position + settings.batchSize)
            total += trainer.step(data, rows: order[position..<end])
            position = end
        }
        candidate.network.dropout?.active = false
        if steps < settings.steps {
            return Run(
                candidate: candidate, meanLoss: total / Double(max(1, steps)), steps: steps,
                requestedSteps: settings.steps)
        }
        data = prepared(calibration.isEmpty ? examples : calibration, for: candidate)
        refitPlatt(candidate, on: data)
        candidate.parentVersion = serving.version
        candidate.version = String((Int(serving.version) ?? 0) + 1)
        return Run(
            candidate: candidate, meanLoss: total / Double(max(1, settings.steps)),
            steps: settings.steps, requestedSteps: settings.steps)
    }

    /// Standardised features with the category one-hot appended, as the network takes them.
    static func prepared(_ examples: [TrainingExample], for model: Model) -> Dataset {
        var data = TrainingExample.dataset(examples, heads: model.heads, width: model.schema.count)
        TrainingRun.standardise(&data, model.normalisation)
        return TrainingRun.appendingCategories(data, model.categoryInputs)
    }

    private static func refitPlatt(_ model: Model, on data: Dataset) {
        let logits = predictLogits(model.network, features: data.features, rows: data.count)
        for (index, head) in model.heads.enumerated() where head.kind.isSigmoid {
            guard case .platt? = model.calibration[head.name], let labels = data.labels[head.name]
            else { continue }
            model.calibration[head.name] = HeadCalibration.fitPlatt(
                logits: logits[index].map(Double.init), labels: labels)
        }
    }
}

import OspreyCore
import OspreyDaemon
import OspreyFeatures
import OspreyModel
import OspreySimulator

/// The demo's first model: simulated history written to a file, read back with the daemon's
/// feature code, and trained with the recipe behind `osprey train` (``TrainingRun``).
///
/// The history starts, as the daemon does, with empty feature windows, so the model sees
/// the same cold start that the live stream gives the daemon.
///
/// Thread: the demo's main thread; training blocks it for its duration.
enum DemoModel {
    /// The heads the demo trains: the fraud and bot heads alert; `fraud_type` explains.
    static let heads: [KnownHead] = [.fraud, .fraudType, .bot]

    /// The trainer's settings: the defaults of `osprey train`, with fewer epochs so that the
    /// demo starts within seconds.
    static func configuration(seed: UInt64) -> ModelConfiguration {
        var configuration = ModelConfiguration()
        configuration.heads = heads
        configuration.epochs = 6
        configuration.patience = 2
        configuration.seed = seed
        return configuration
    }

    /// Simulates `history` into `path`, trains on it and returns the model (version 1), with
    /// the held-out metrics of its heads.
    ///
    /// - Parameter status: called with one line for each step and each epoch.
    /// - Throws: ``SinkError`` when the file cannot be written, what ``ExampleReading``
    ///   throws when it cannot be read, ``ModelError`` when training finds no usable rows.
    static func train(
        history: SimulationSettings, path: String, status: (String) -> Void
    ) throws -> (model: Model, heldOut: [HeadEvaluation], rows: Int) {
        status("simulating \(DurationText.format(history.duration)) of history")
        let sink = try FileRecordSink(path: path)
        var simulator = TrafficSimulator(settings: history)
        while let record = simulator.next() { try sink.write(record) }
        try sink.finish()

        status(
            "computing features of \(simulator.counts["click", default: 0]) clicks and "
                + "\(simulator.counts["order", default: 0]) orders")
        let configuration = configuration(seed: history.seed)
        let days = DayRange(
            first: DatasetBuilder.day(ms: history.startMs),
            last: DatasetBuilder.day(ms: history.endMs - 1))
        let read = try ExampleReading.read(
            path: path, format: .events, range: days,
            purchaseHorizonMs: configuration.purchaseHorizonMs)
        let vocabulary = read.builder.vocabulary(interestClasses: configuration.interestClasses)
        let dataset = read.builder.finish(heads: heads, vocabulary: vocabulary)

        let epochs = configuration.epochs
        let (model, _, heldOut) = try TrainingRun.train(
            dataset, schema: read.schema, vocabulary: vocabulary, configuration: configuration,
            createdAt: TimestampText.rfc3339(milliseconds: wallClockMilliseconds())
        ) { summary in
            status(
                "training on \(dataset.count) events: epoch \(summary.epoch)/\(epochs), "
                    + "validation loss " + StatsView.fixed(summary.validationLoss, 4))
        }
        model.notes["input"] = "osprey demo: simulated history, seed \(history.seed)"
        return (model, heldOut, dataset.count)
    }
}

extension DemoModel {
    /// The held-out AUC of each sigmoid head, `fraud AUC 0.981, bot AUC 0.996`.
    static func quality(_ heldOut: [HeadEvaluation]) -> String {
        heldOut.filter(\.isSigmoid).map { evaluation in
            let auc = evaluation.metrics["auc_roc"].map { StatsView.fixed($0, 3) } ?? "n/a"
            return "\(evaluation.head) AUC \(auc)"
        }.joined(separator: ", ")
    }
}

import OspreyCore
import OspreyFeatures
import OspreyModel

/// `osprey bench score`: scoring throughput per core beside `sgemm` on the same shapes.
struct BenchScoreCommand: Command {
    static let spec = CommandSpec(
        name: "bench score",
        abstract: "Measures model scoring throughput beside sgemm on the same shapes.",
        discussion: """
            Scores micro-batches of 1, 64 and 256 random events with a freshly initialised \
            model (or the model given) and prints events per second on one core and the \
            GFLOP/s achieved, beside the GFLOP/s of cblas_sgemm alone on the same layer \
            shapes measured in the same run, and their ratio. OpenBLAS runs with one thread \
            unless told otherwise. Build with 'swift build -c release' for meaningful figures.
            """,
        options: [
            OptionSpec(
                "model", value: "FILE",
                help: "Benchmarks this model file instead of a fresh default model."),
            OptionSpec(
                "architecture", value: "NAME",
                help:
                    "The fresh model's architecture: mmoe (the default), shared_bottom or "
                    + "single_task."
            ),
            OptionSpec(
                "config", value: "FILE",
                help: "A key = value file whose model.* keys (architecture, hidden, tower, "
                    + "experts) shape the fresh model, read as osprey train reads them."),
            OptionSpec(
                "features", value: "N",
                help: "The fresh model's number of input features. The default is the width of "
                    + "the daemon's feature schema for events."),
            OptionSpec(
                "seconds", value: "SECONDS",
                help: "How long to time each measurement. The default is 2."),
            OptionSpec(
                "threads", value: "N", help: "OpenBLAS threads. The default is 1 (one core)."),
        ])

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let threads = try arguments.int("threads", default: OpenBLAS.defaultThreadCount)
        let schemaWidth = try FeatureStore(configuration: FeatureConfiguration()).schema.count
        let features = try arguments.int("features", default: schemaWidth)
        let seconds = try arguments.value("seconds", default: 2.0, as: "a number of seconds") {
            Double($0).flatMap { $0 > 0 && $0 <= 600 ? $0 : nil }
        }
        guard threads >= 1, features >= 1 else {
            throw UsageError("--threads and --features must be at least 1")
        }
        let model: Model
        if let path = arguments.value("model") {
            model = try Model.load(path: path)
        } else {
            // The same reading as `osprey train`: --config's keys, --architecture over them.
            let configuration = try TrainCommand.configuration(arguments)
            let heads = [
                HeadSpec(name: "fraud", kind: .sigmoid),
                HeadSpec(
                    name: "fraud_type",
                    kind: .softmax(classes: LabelVocabulary.handbookFraudTypes)),
            ]
            model = ScoreBenchmark.syntheticModel(
                architecture: configuration.architecture, features: features, heads: heads,
                shape: configuration.shape)
        }
        OpenBLAS.setThreadCount(threads)
        let shape = model.shape
        print(
            "model: \(model.architecture.rawValue), \(model.schema.count) features, "
                + "hidden \(shape.hidden), "
                + "tower \(shape.tower), experts \(shape.experts), heads "
                + model.heads.map(\.name).joined(separator: ",")
                + ", \(model.network.multiplyAddsPerRow) multiply-adds per event")
        print("OpenBLAS threads: \(OpenBLAS.threadCount)")
        print("batch   events/s/core   model GFLOP/s   sgemm GFLOP/s   model/sgemm")
        for batch in [1, 64, 256] {
            let result = ScoreBenchmark.run(model: model, batch: batch, seconds: seconds)
            let eventsPerCore = result.eventsPerSecond / Double(threads)
            print(
                pad(String(batch), 5) + pad(String(Int(eventsPerCore.rounded())), 16)
                    + pad(EvaluationReportFormat.two(result.modelGFLOPs), 16)
                    + pad(EvaluationReportFormat.two(result.gemmGFLOPs), 16)
                    + pad(String(Int((result.ratio * 100).rounded())) + "%", 14))
        }
        return ExitCode.success
    }

    static func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
}

/// Number formatting for the model commands' tables.
enum EvaluationReportFormat {
    static func two(_ value: Double) -> String {
        guard value.isFinite else { return "n/a" }
        let scaled = Int((value * 100).rounded())
        return "\(scaled / 100)." + String(String(100 + abs(scaled) % 100).dropFirst())
    }
}

import Foundation
import OspreyCore
import OspreyFeatures
import OspreyModel

/// `osprey train`: trains a model offline from a file and writes it as safetensors.
struct TrainCommand: Command {
    static let spec = CommandSpec(
        name: "train",
        abstract: "Trains a multi-task model from a file and writes it as a safetensors file.",
        discussion: """
            The file is read from its start with the daemon's feature code; the events from \
            --from to --to (whole UTC days, both included) are the training rows. Each head \
            trains on the rows that carry its label: fraud, fraud_type and bot from the \
            file's truth, purchase and interest from what the same user does next. A seeded \
            share of the rows is held out to choose the epoch and to calibrate each head. \
            The model's settings come from the model.* and training.* keys of --config; \
            --architecture, --heads and --seed override them.
            """,
        options: ModelCommandSupport.inputOptions + ModelCommandSupport.periodOptions + [
            OptionSpec(
                "config", value: "FILE",
                help: "A key = value file with model.* and training.* settings."),
            OptionSpec("out", value: "MODEL", help: "The model file to write."),
            OptionSpec(
                "architecture", value: "NAME",
                help: "Overrides model.architecture: mmoe, shared_bottom or single_task."),
            OptionSpec(
                "heads", value: "LIST", help: "Overrides model.heads, for example fraud,fraud_type."
            ),
            OptionSpec("seed", value: "N", help: "Overrides training.seed."),
            OptionSpec(
                "label-delay", value: "DURATION",
                help:
                    "How long after a handbook transaction its label is known to the features. "
                    + "The default is 7d."
            ),
            OptionSpec(
                "version", value: "VERSION",
                help: "The version recorded in the model. The default is 1."),
            OptionSpec(
                "parent-version", value: "VERSION",
                help: "The version this model derives from, if any."),
            ModelCommandSupport.quietOption,
        ])

    static func configuration(_ arguments: ParsedArguments) throws -> ModelConfiguration {
        var values: [String: String] = [:]
        var lines: [String: Int] = [:]
        if let path = arguments.value("config") {
            let file = try ConfigurationFile.load(path: path)
            for entry in file.entries {
                values[entry.key] = entry.value
                if case .file(_, let line) = entry.origin { lines[entry.key] = line }
            }
        }
        if let value = arguments.value("architecture") { values["model.architecture"] = value }
        if let value = arguments.value("heads") { values["model.heads"] = value }
        if let value = arguments.value("seed") { values["training.seed"] = value }
        do {
            return try ModelConfiguration(values, lines: lines)
        } catch {
            throw UsageError(error.description)
        }
    }

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let out = try arguments.required("out")
        _ = try arguments.required("input")
        let range = try ModelCommandSupport.period(arguments)
        let configuration = try configuration(arguments)
        let labelDelay = try arguments.duration("label-delay", default: .seconds(7 * 86_400))
        let quiet = arguments.flag("quiet")

        let read = try ModelCommandSupport.read(
            arguments, range: range, horizonMs: configuration.purchaseHorizonMs, knownSince: nil,
            labelDelay: labelDelay, label: "train: reading")
        let vocabulary = read.builder.vocabulary(interestClasses: configuration.interestClasses)
        let dataset = read.builder.finish(heads: KnownHead.allCases, vocabulary: vocabulary)
        if !quiet {
            printError(
                "train: \(dataset.count) rows from \(DayRange.format(range.first)) to "
                    + "\(DayRange.format(range.last)), \(read.schema.count) features, "
                    + "\(configuration.architecture.rawValue)")
        }
        let epochs = configuration.epochs
        let (model, history, heldOut) = try TrainingRun.train(
            dataset, schema: read.schema, vocabulary: vocabulary, configuration: configuration,
            createdAt: TimestampText.rfc3339(
                milliseconds: Int64(Date().timeIntervalSince1970 * 1000))
        ) { summary in
            guard !quiet else { return }
            printError(
                "train: epoch \(summary.epoch)/\(epochs) loss "
                    + EvaluationReport.format3(summary.trainingLoss * 1000) + "e-3 validation "
                    + EvaluationReport.format3(summary.validationLoss * 1000) + "e-3")
        }
        model.version = arguments.value("version") ?? "1"
        model.parentVersion = arguments.value("parent-version") ?? ""
        model.notes["input"] = try arguments.required("input")
        model.notes["format"] = try ModelCommandSupport.format(arguments).rawValue
        model.notes["from"] = DayRange.format(range.first)
        model.notes["to"] = DayRange.format(range.last)
        try model.save(to: out)

        print(
            "trained \(model.architecture.rawValue) on \(dataset.count) rows; "
                + "kept epoch \(history.bestEpoch)"
        )
        print("heads: " + model.heads.map(\.name).joined(separator: ", "))
        print("held-out metrics (calibrated):")
        print(ModelCommandSupport.table(heldOut), terminator: "")
        print("wrote \(out)")
        return ExitCode.success
    }
}

import Foundation
import OspreyCore
import OspreyFeatures
import OspreyModel

/// `osprey eval`: per-head metrics of a model on a period of a file, with pictures.
struct EvalCommand: Command {
    static let spec = CommandSpec(
        name: "eval",
        abstract: "Evaluates a model on a period of a file and prints per-head metrics.",
        discussion: """
            The file is read from its start with the daemon's feature code and the events \
            from --from to --to (whole UTC days, both included) are scored. Sigmoid heads get \
            AUC-ROC, average precision, log loss, expected calibration error (10 bins), \
            precision@100 per day and card precision@100 as the Fraud Detection Handbook \
            defines them; softmax heads get top-1 and top-5 accuracy and log loss.

            With --known-since, a row is left out when its user had a fraud from that day up \
            to --label-delay plus one day before the row's day: the handbook's test protocol, \
            which drops cards already known to be compromised (for its split, --known-since \
            2018-07-25 with the default delay of 7d).

            With --report, the metrics are also written to DIR/report.json, and each sigmoid \
            head's ROC curve, precision-recall curve and calibration plot to SVG files there.
            """,
        options: [OptionSpec("model", value: "MODEL", help: "The model file to evaluate.")]
            + ModelCommandSupport.inputOptions + ModelCommandSupport.periodOptions + [
                OptionSpec(
                    "report", value: "DIR", help: "Writes report.json and SVG plots into DIR."),
                OptionSpec(
                    "known-since", value: "DATE",
                    help:
                        "Leaves out rows of users with a fraud known before the row, counting "
                        + "from DATE."
                ),
                OptionSpec(
                    "label-delay", value: "DURATION",
                    help: "How long after a transaction its label is known. The default is 7d."),
                ModelCommandSupport.quietOption,
            ])

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let modelPath = try arguments.required("model")
        let input = try arguments.required("input")
        let format = try ModelCommandSupport.format(arguments)
        let range = try ModelCommandSupport.period(arguments)
        let labelDelay = try arguments.duration("label-delay", default: .seconds(7 * 86_400))
        let knownSince =
            arguments.value("known-since") == nil
            ? nil : try ModelCommandSupport.day(arguments, "known-since")
        var features = FeatureConfiguration()
        features.labelDelay = labelDelay
        let schema = try FeatureFileReader(path: input, format: format, configuration: features)
            .schema
        let model = try Model.load(path: modelPath, expecting: schema)

        let read = try ModelCommandSupport.read(
            arguments, range: range, horizonMs: horizon(model), knownSince: knownSince,
            labelDelay: labelDelay, label: "eval: reading")
        let dataset = Self.dataset(read.builder, model: model, delay: labelDelay)
        guard dataset.count > 0 else {
            throw ModelError.data("no rows to evaluate between --from and --to")
        }
        let evaluations = Evaluation.evaluate(model, on: dataset)
        guard !evaluations.isEmpty else {
            throw ModelError.data("the rows carry no label for any of the model's heads")
        }
        print(
            "model \(model.version) (\(model.architecture.rawValue)) on \(dataset.count) rows from "
                + "\(DayRange.format(range.first)) to \(DayRange.format(range.last))")
        print(ModelCommandSupport.table(evaluations), terminator: "")
        if let directory = arguments.value("report") {
            try writeReport(
                evaluations, to: directory,
                extra: [
                    ("model", modelPath), ("model_version", model.version),
                    ("architecture", model.architecture.rawValue), ("input", input),
                    ("from", DayRange.format(range.first)), ("to", DayRange.format(range.last)),
                    ("rows", String(dataset.count)),
                ])
            print("wrote \(directory)/report.json and plots")
        }
        return ExitCode.success
    }

    /// The purchase horizon the model's labels were made with.
    static func horizon(_ model: Model) -> Int64 {
        model.notes["purchase_horizon_ms"].flatMap { Int64($0) }
            ?? ModelConfiguration().purchaseHorizonMs
    }

    /// The period's rows with labels in the model's vocabulary, known frauds left out.
    static func dataset(_ builder: DatasetBuilder, model: Model, delay: Duration) -> Dataset {
        let heads = model.heads.compactMap { KnownHead(rawValue: $0.name) }
        let vocabulary = LabelVocabulary(
            fraudTypes: model.heads.first { $0.name == KnownHead.fraudType.rawValue }?.kind.classes
                ?? LabelVocabulary.handbookFraudTypes,
            interests: model.heads.first { $0.name == KnownHead.interest.rawValue }?.kind.classes
                ?? ["other"])
        let all = builder.finish(heads: heads, vocabulary: vocabulary)
        let delayDays = delay.totalMilliseconds / DayRange.dayMs
        return all.subset(builder.rowsWithoutKnownFrauds(delayDays: delayDays))
    }

    static func writeReport(
        _ evaluations: [HeadEvaluation], to directory: String, extra: [(String, String)]
    ) throws {
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true)
        let json = EvaluationReport.json(evaluations, extra: extra)
        try json.write(toFile: directory + "/report.json", atomically: true, encoding: .utf8)
        for evaluation in evaluations {
            for (file, svg) in EvaluationReport.plots(evaluation) {
                try svg.write(toFile: directory + "/" + file, atomically: true, encoding: .utf8)
            }
        }
    }
}

import OspreyCore
import OspreyFeatures
import OspreyModel

/// What `train`, `eval` and `score` share: their options' parsing and their output.
enum ModelCommandSupport {
    static let inputOptions: [OptionSpec] = [
        OptionSpec(
            "input", value: "FILE", help: "The JSON Lines file to read (.jsonl or .jsonl.gz)."),
        OptionSpec(
            "format", value: "FORMAT",
            help: "The input's format: events, handbook or yoochoose. The default is events."),
    ]

    static let periodOptions: [OptionSpec] = [
        OptionSpec("from", value: "DATE", help: "The first day of the period (YYYY-MM-DD, UTC)."),
        OptionSpec("to", value: "DATE", help: "The last day of the period, included."),
    ]

    static let quietOption = OptionSpec("quiet", help: "Prints no progress on stderr.")

    static func format(_ arguments: ParsedArguments) throws(UsageError) -> InputFormat {
        let name = arguments.value("format") ?? "events"
        guard let format = InputFormat(rawValue: name) else {
            throw UsageError(
                "option '--format' expects events, handbook or yoochoose, not '\(name)'")
        }
        return format
    }

    static func day(_ arguments: ParsedArguments, _ name: String) throws(UsageError) -> Int64 {
        let text = try arguments.required(name)
        guard let day = DayRange.day(text) else {
            throw UsageError("option '--\(name)' expects a date such as 2018-07-25, not '\(text)'")
        }
        return day
    }

    static func period(_ arguments: ParsedArguments) throws(UsageError) -> DayRange {
        let first = try day(arguments, "from")
        let last = try day(arguments, "to")
        guard first <= last else { throw UsageError("--from must not be after --to") }
        return DayRange(first: first, last: last)
    }

    /// Reads the period's rows, reporting progress unless `--quiet`.
    static func read(
        _ arguments: ParsedArguments, range: DayRange, horizonMs: Int64, knownSince: Int64?,
        labelDelay: Duration, label: String
    ) throws -> ExampleReading.Result {
        var features = FeatureConfiguration()
        features.labelDelay = labelDelay
        let progress = arguments.flag("quiet") ? nil : ProgressLine(label: label).report
        let result = try ExampleReading.read(
            path: try arguments.required("input"), format: try format(arguments), range: range,
            purchaseHorizonMs: horizonMs, knownSince: knownSince, features: features,
            progress: progress)
        let refused = result.rejected.values.reduce(0, +)
        if refused > 0 {
            let reasons = result.rejected.sorted { $0.key.rawValue < $1.key.rawValue }
                .map { "\($0.key.rawValue)=\($0.value)" }.joined(separator: " ")
            printError("\(refused) lines refused: \(reasons)")
        }
        return result
    }

    /// A table of per-head metrics, one row per head, for the terminal.
    static func table(_ evaluations: [HeadEvaluation]) -> String {
        let sigmoidColumns = [
            ("auc_roc", "AUC-ROC"), ("average_precision", "AP"), ("log_loss", "log loss"),
            ("expected_calibration_error", "ECE"), ("precision_at_100_per_day", "P@100/day"),
            ("card_precision_at_100", "CP@100"),
        ]
        let softmaxColumns = [
            ("top1_accuracy", "top-1"), ("top5_accuracy", "top-5"), ("log_loss", "log loss"),
        ]
        var text = ""
        for (kind, columns) in [(true, sigmoidColumns), (false, softmaxColumns)] {
            let rows = evaluations.filter { $0.isSigmoid == kind }
            guard !rows.isEmpty else { continue }
            text += pad("head", 12, left: true) + pad("rows", 9) + pad("positives", 10)
            text += columns.map { pad($0.1, 11) }.joined() + "\n"
            for evaluation in rows {
                text += pad(evaluation.head, 12, left: true) + pad(String(evaluation.rows), 9)
                text += pad(kind ? String(evaluation.positives) : "-", 10)
                text += columns.map { column in
                    pad(evaluation.metrics[column.0].map(EvaluationReport.format3) ?? "n/a", 11)
                }.joined()
                text += "\n"
            }
        }
        return text
    }

    static func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
        let padding = String(repeating: " ", count: max(0, width - text.count))
        return left ? text + padding : padding + text
    }
}

import Foundation
import OspreyCore
import OspreyFeatures
import OspreyModel
import OspreyOnline

/// `osprey backtest`: the online loop driven from a file in event time.
struct BacktestCommand: Command {
    static let spec = CommandSpec(
        name: "backtest",
        abstract: "Replays a file through the online learning loop and prints prequential metrics.",
        discussion: """
            Every event after the warm-up is scored by the serving model, in file order, with \
            the daemon's feature code; its label is applied when it becomes known (for \
            handbook files --label-delay after the transaction, for events files at the label \
            line's time), and each label is judged against the score given before it was \
            known. With fine-tuning on, a candidate is trained from the serving model on the \
            replay buffer every online.fine_tune.every labels and replaces it only if it is \
            not worse on the newest labels, which neither model has trained on.

            The first model is --model or, without it, a model trained on the file's first \
            --warm-up of event time; warm-up events are not judged. The model's settings come \
            from the model.* and training.* keys of --config, the loop's from its online.* \
            keys. The output is a table per week of the target head's AUC-ROC, average \
            precision and, for handbook files, card precision@100 per day averaged over the \
            week, then the figures over the last 30 days and the examples per second. The \
            target head is online.target_head, fraud by default.
            """,
        options: [
            OptionSpec(
                "input", value: "FILE",
                help: "The JSON Lines file to read (.jsonl or .jsonl.gz)."),
            OptionSpec(
                "format", value: "FORMAT",
                help: "The input's format: events or handbook. The default is events."),
            OptionSpec(
                "label-delay", value: "DURATION",
                help: "How long after a handbook transaction its label is known. The default "
                    + "is 7d."),
            OptionSpec(
                "config", value: "FILE",
                help: "A key = value file with model.*, training.* and online.* settings."),
            OptionSpec("model", value: "MODEL", help: "The model to start from."),
            OptionSpec(
                "warm-up", value: "DURATION",
                help: "The first part of the file, which is not judged and which trains the "
                    + "first model when --model is not given. The default is 28d without "
                    + "--model and 0 with it."),
            OptionSpec(
                "report", value: "DIR",
                help: "A directory for weekly.csv and promotions.csv."),
            OptionSpec(
                "fine-tune", value: "on|off", help: "Whether the loop learns. The default is on."),
            OptionSpec(
                "seed", value: "N",
                help: "Seeds the first model's training, fine-tuning and the replay buffer. The "
                    + "default is 1."),
            ModelCommandSupport.quietOption,
        ])

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        var options = BacktestOptions(
            path: try arguments.required("input"), format: try ModelCommandSupport.format(arguments)
        )
        guard options.format != .yoochoose else {
            throw UsageError("option '--format' expects events or handbook, not 'yoochoose'")
        }
        options.labelDelay = try arguments.duration("label-delay", default: options.labelDelay)
        if arguments.value("warm-up") != nil {
            options.warmUp = try arguments.duration("warm-up", default: .zero)
        }
        options.modelConfiguration = try TrainCommand.configuration(arguments)
        options.online = try onlineSettings(arguments)
        if let path = arguments.value("model") { options.model = try Model.load(path: path) }
        if !arguments.flag("quiet") {
            options.progress = ProgressLine(label: "backtest").report
        }
        let result = try Backtest.run(options)
        print(report(result, handbook: options.format == .handbook), terminator: "")
        if let directory = arguments.value("report") { try write(result, to: directory) }
        return ExitCode.success
    }

    static func onlineSettings(_ arguments: ParsedArguments) throws -> OnlineSettings {
        var values: [String: String] = [:]
        var lines: [String: Int] = [:]
        if let path = arguments.value("config") {
            for entry in try ConfigurationFile.load(path: path).entries {
                values[entry.key] = entry.value
                if case .file(_, let line) = entry.origin { lines[entry.key] = line }
            }
        }
        var settings: OnlineSettings
        do {
            settings = try OnlineSettings(values, lines: lines)
        } catch {
            throw UsageError(error.description)
        }
        if let seed = arguments.value("seed") {
            guard let value = UInt64(seed) else {
                throw UsageError("option '--seed' expects a whole number, not '\(seed)'")
            }
            settings.seed = value
        }
        switch arguments.value("fine-tune") ?? "on" {
        case "on": settings.fineTuneEnabled = true
        case "off": settings.fineTuneEnabled = false
        case let other: throw UsageError("option '--fine-tune' expects on or off, not '\(other)'")
        }
        return settings
    }

    static func report(_ result: BacktestResult, handbook: Bool) -> String {
        func number(_ value: Double?) -> String {
            ModelCommandSupport.pad(value.map(EvaluationReport.format3) ?? "n/a", 10)
        }
        var text = "week of       labels  positives   AUC-ROC        AP"
        text += handbook ? "    CP@100\n" : "\n"
        for week in result.weeks {
            text += DayRange.format(week.firstDay) + ModelCommandSupport.pad(String(week.labels), 9)
            text += ModelCommandSupport.pad(String(week.positives), 11)
            text += number(week.aucROC) + number(week.averagePrecision)
            text += handbook ? number(week.cardPrecision) + "\n" : "\n"
        }
        let last = (result.eventTimesMs.max() ?? 0) - 30 * DayRange.dayMs
        let tail = result.metrics(fromMs: last)
        text += "last 30 days: \(tail.labels) labels, AUC-ROC \(number(tail.auc).trimmed), "
        text += "AP \(number(tail.ap).trimmed)\n"
        let promotions = result.runs.filter(\.decision.promoted).count
        text += "fine-tuning: \(result.runs.count) runs, \(promotions) promotions, "
        text += "final model version \(result.finalVersion)\n"
        let counts = result.joinCounts
        text += "labels: \(counts.joined) joined, \(counts.unmatched) unmatched, "
        text += "\(counts.late) late, \(counts.duplicate) duplicate\n"
        text += "scored \(result.scored) events in "
        text += EvaluationReport.format3(result.seconds) + " s: "
        text += String(Int(result.examplesPerSecond.rounded())) + " examples/s\n"
        return text
    }

    static func write(_ result: BacktestResult, to directory: String) throws {
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true)
        var weekly = "week,labels,positives,auc_roc,average_precision,card_precision_at_100\n"
        for week in result.weeks {
            let values = [week.aucROC, week.averagePrecision, week.cardPrecision].map {
                $0.map { String($0) } ?? ""
            }
            weekly += "\(DayRange.format(week.firstDay)),\(week.labels),\(week.positives),"
            weekly += values.joined(separator: ",") + "\n"
        }
        try weekly.write(toFile: directory + "/weekly.csv", atomically: true, encoding: .utf8)
        var runs = "event_time,promoted,serving_version,mean_loss,reason\n"
        for run in result.runs {
            runs += TimestampText.rfc3339(milliseconds: run.atMs) + ","
            runs += "\(run.decision.promoted),\(run.servingVersion),\(run.meanLoss),"
            runs += "\"" + run.decision.reason.replacingOccurrences(of: "\"", with: "'") + "\"\n"
        }
        try runs.write(toFile: directory + "/promotions.csv", atomically: true, encoding: .utf8)
    }
}

extension String {
    fileprivate var trimmed: String { trimmingCharacters(in: .whitespaces) }
}

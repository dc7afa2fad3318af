import OspreyCore
import OspreySimulator

#if canImport(Glibc)
    import Glibc
#endif

/// `osprey simulate`: realistic traffic with labelled fraud and bot patterns, to a file.
enum SimulateCommand: Command {
    static let spec = CommandSpec(
        name: "simulate",
        abstract: "Writes realistic clicks and orders with labelled fraud and bot patterns.",
        discussion: """
            Simulates a population of users shopping with a daily rhythm (sessions, categories,
            devices, addresses, countries, heavy-tailed amounts), with account takeovers, card
            testing, bots and promotion abuse mixed in. Each order gets a label (fraud with its
            fraud_type, or legit) and a share of clicks a label (bot or human), published
            --label-delay after the event. Events and labels are written as JSON lines in time
            order; the same --seed gives the same bytes.
            """,
        options: [
            OptionSpec("out", value: "FILE", help: "Writes the JSON lines to FILE; '-' is stdout."),
            OptionSpec(
                "rate", value: "N", help: "About N events per second of event time. Default 500."),
            OptionSpec("users", value: "N", help: "The number of regular users. Default 10000."),
            OptionSpec(
                "duration", value: "DURATION",
                help: "How much event time to simulate. Default 1h."),
            OptionSpec("seed", value: "N", help: "The seed of every random draw. Default 1."),
            OptionSpec(
                "start", value: "MS",
                help: "The first event time, in milliseconds since the epoch. Default 2026-01-05."),
            OptionSpec(
                "drift-at", value: "DURATION",
                help: "Changes the fraud patterns this long after the start."),
            OptionSpec(
                "label-delay", value: "DURATION",
                help: "How long after an event its label is published. Default 1h."),
        ])

    static func settings(from arguments: ParsedArguments) throws(UsageError) -> SimulationSettings {
        var settings = SimulationSettings()
        settings.rate = try arguments.value("rate", default: 500, as: "a positive number") {
            Double($0).flatMap { $0 > 0 && $0.isFinite ? $0 : nil }
        }
        settings.users = try arguments.int("users", default: settings.users)
        guard settings.users > 0 else { throw UsageError("option '--users' must be at least 1") }
        settings.duration = try arguments.duration("duration", default: settings.duration)
        settings.seed = try arguments.value("seed", default: 1, as: "a whole number") { UInt64($0) }
        settings.startMs = try arguments.value(
            "start", default: settings.startMs, as: "milliseconds"
        ) {
            Int64($0)
        }
        if arguments.value("drift-at") != nil {
            settings.driftAfter = try arguments.duration("drift-at", default: .zero)
        }
        settings.labelDelay = try arguments.duration("label-delay", default: settings.labelDelay)
        return settings
    }

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let settings = try settings(from: arguments)
        let path = try arguments.required("out")
        guard let output = path == "-" ? fdopen(1, "w") : fopen(path, "w") else {
            printError("cannot write \(path): \(String(cString: strerror(errno)))")
            return ExitCode.failure
        }
        var simulator = TrafficSimulator(settings: settings)
        var progress = SimulationProgress(total: settings.duration)
        var written = 0
        while let record = simulator.next() {
            var line = record.json
            line.append(10)
            guard fwrite(line, 1, line.count, output) == line.count else {
                printError("cannot write \(path): \(String(cString: strerror(errno)))")
                return ExitCode.failure
            }
            written += 1
            if written % 4096 == 0 {
                progress.update(simulatedMs: record.timeMs - settings.startMs)
            }
        }
        guard fflush(output) == 0, path == "-" || fclose(output) == 0 else {
            printError("cannot write \(path): \(String(cString: strerror(errno)))")
            return ExitCode.failure
        }
        let counts = simulator.counts
        var summary = "simulate: \(written) records:"
        for kind in ["click", "order", "label"] + SessionPatternNames.labelled {
            summary += " \(kind)=\(counts[kind, default: 0])"
        }
        printError(summary)
        return ExitCode.success
    }
}

/// Prints how much of the simulated time is written, on stderr, at most once a second.
private struct SimulationProgress {
    let total: Duration
    private var last = ContinuousClock.now

    init(total: Duration) { self.total = total }

    mutating func update(simulatedMs: Int64) {
        let now = ContinuousClock.now
        guard now - last >= .seconds(1) else { return }
        last = now
        let share = Double(simulatedMs) / Double(max(1, total.totalMilliseconds))
        printError("simulate: \(Int(share * 100))% of \(DurationText.format(total)) written")
    }
}

/// The labelled patterns' names, as the summary counts them.
enum SessionPatternNames {
    static let labelled = SessionPattern.allCases.filter { $0 != .regular }.map(\.rawValue)
}

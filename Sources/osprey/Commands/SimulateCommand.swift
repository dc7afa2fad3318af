import OspreyCore
import OspreyKafka
import OspreySimulator

#if canImport(Glibc)
    import Glibc
#endif

/// `osprey simulate`: realistic traffic with labelled fraud and bot patterns, to a file or to
/// Kafka.
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
            order; the same --seed gives the same bytes. To Kafka, events go to --topic and
            labels to --labels-topic, keyed by user id, paced in real time by default, with
            event time starting now.
            """,
        options: [
            OptionSpec("out", value: "FILE", help: "Writes the JSON lines to FILE; '-' is stdout."),
            OptionSpec(
                "bootstrap", value: "SERVERS",
                help: "Produces to Kafka at these brokers instead of writing a file."),
            OptionSpec("topic", value: "NAME", help: "The events topic. Default events."),
            OptionSpec("labels-topic", value: "NAME", help: "The labels topic. Default labels."),
            OptionSpec(
                "speed", value: "FACTOR",
                help: "Event time per wall time, or 'max'. Default 1 to Kafka, max to a file."),
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
        var settings = try settings(from: arguments)
        let sink: any RecordSink
        var speed: Double?
        if let bootstrap = arguments.value("bootstrap") {
            guard arguments.value("out") == nil else {
                throw UsageError("give either '--out' or '--bootstrap', not both")
            }
            // Live traffic: event time starts now unless --start says otherwise.
            if arguments.value("start") == nil { settings.startMs = wallClockMilliseconds() }
            speed = try parseSpeed(arguments.value("speed") ?? "1")
            sink = try KafkaRecordSink(
                bootstrap: bootstrap, eventsTopic: arguments.value("topic") ?? "events",
                labelsTopic: arguments.value("labels-topic") ?? "labels")
        } else {
            guard let path = arguments.value("out") else {
                throw UsageError("give '--out FILE' or '--bootstrap SERVERS'")
            }
            speed = try parseSpeed(arguments.value("speed") ?? "max")
            sink = try FileRecordSink(path: path)
        }

        var simulator = TrafficSimulator(settings: settings)
        var progress = SimulationProgress(total: settings.duration)
        let started = ContinuousClock.now
        var written = 0
        while let record = simulator.next() {
            if let speed {
                // Paced: wait until the record's moment, scaled by the speed factor.
                let due = started + .milliseconds(Double(record.timeMs - settings.startMs) / speed)
                if due > .now { try sink.idle(until: due) }
            }
            try sink.write(record)
            written += 1
            if written % 4096 == 0 {
                progress.update(simulatedMs: record.timeMs - settings.startMs)
            }
        }
        try sink.finish()
        let counts = simulator.counts
        var summary = "simulate: \(written) records:"
        for kind in ["click", "order", "label"] + SessionPatternNames.labelled {
            summary += " \(kind)=\(counts[kind, default: 0])"
        }
        printError(summary)
        return ExitCode.success
    }

    /// `max` (nil: no pacing) or a positive factor of event time to wall time.
    static func parseSpeed(_ text: String) throws(UsageError) -> Double? {
        if text == "max" { return nil }
        guard let factor = Double(text), factor > 0, factor.isFinite else {
            throw UsageError("option '--speed' expects a positive number or 'max', not '\(text)'")
        }
        return factor
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

import Foundation
import OspreyCore
import OspreyFeatures

/// `osprey bench features`: decoding, feature updates and memory, beside Foundation's
/// `JSONDecoder` measured in the same run.
struct BenchFeaturesCommand: Command {
    static let spec = CommandSpec(
        name: "bench features",
        abstract: "Measures event decoding, feature updates and feature-store memory.",
        discussion: """
            Two data sets are loaded into memory first: the handbook transactions file and a \
            synthetic stream in the event contract's format. For each, the command times \
            Foundation's JSONDecoder on the same lines (the baseline), Osprey's simdjson \
            decoder alone, and the daemon's whole per-event path (decode, update the store, \
            write the vector) on one core, and reports the store's memory per tracked entity \
            and per event held in windows, counted from its structures and as resident memory. \
            Build with 'swift build -c release' for meaningful figures.
            """,
        options: [
            OptionSpec(
                "input", value: "FILE",
                help: """
                    The handbook file. The default is \
                    ../shared/data/handbook/transactions-dev.jsonl.gz.
                    """),
            OptionSpec(
                "users", value: "N",
                help: "Users in the synthetic stream. The default is 1000000."),
            OptionSpec(
                "events", value: "N",
                help: "Events in the synthetic stream. The default is 3000000."),
            OptionSpec(
                "baseline-lines", value: "N",
                help: "Lines decoded by JSONDecoder for the baseline. The default is 200000."),
        ])

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let input =
            arguments.value("input") ?? "../shared/data/handbook/transactions-dev.jsonl.gz"
        let users = try arguments.int("users", default: 1_000_000)
        let events = try arguments.int("events", default: 3_000_000)
        let baseline = try arguments.int("baseline-lines", default: 200_000)
        guard users > 0, events > 0, baseline > 0 else {
            throw UsageError("--users, --events and --baseline-lines must be positive")
        }
        #if DEBUG
            print("warning: this is a debug build; measure with 'swift build -c release'")
        #endif

        printError("bench features: loading \(input)")
        let handbook = try FeatureBenchmark.load(path: input)
        let first = try FeatureBenchmark.measure(
            name: "handbook", lines: handbook, format: .handbook, baselineLines: baseline)
        report(first, bytes: handbook.byteCount)

        printError("bench features: generating \(events) synthetic events for \(users) users")
        let stream = FeatureBenchmark.synthetic(users: users, events: events)
        let second = try FeatureBenchmark.measure(
            name: "synthetic", lines: stream, format: .events, baselineLines: baseline)
        report(second, bytes: stream.byteCount)

        goals([first, second])
        if let load = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) {
            let average = load.split(separator: " ").prefix(3).joined(separator: " ")
            print(
                "machine load average during the run: \(average); rates are per second of"
                    + " the benchmark thread's CPU time")
        }
        return ExitCode.success
    }

    private static func report(_ rates: FeatureBenchmark.Rates, bytes: Int) {
        let state = rates.state
        print("\(rates.name): \(rates.events) events, \(bytes) bytes of JSON")
        print("  Foundation JSONDecoder (baseline)  \(rate(rates.foundationPerSecond)) events/s")
        print(
            "  simdjson decoder                   \(rate(rates.decodePerSecond)) events/s"
                + "  (\(fixed(rates.decodeRatio, 1))x the baseline)")
        print(
            "  decode + update + vector           \(rate(rates.pipelinePerSecond)) events/s"
                + " on one core (\(rate(rates.pipelineWallPerSecond).trimmingWhitespace())"
                + " per wall-clock second)")
        print(
            "  state: \(state.entities) entities, \(state.heldEvents) events held"
                + " (an event is held once per entity that keeps it)")
        print(
            "  state bytes (structures): \(fixed(state.fixedBytesPerEntity, 1)) fixed per entity"
                + ", \(fixed(state.bytesPerHeldEvent, 1)) per held event"
                + ", \(state.pendingLabelBytes) awaiting labels, \(state.totalBytes) in all")
        for (kind, bytes) in rates.stateByKind where bytes.entities > 0 {
            print(
                "    \(kind): \(bytes.entities) entities, \(fixed(bytes.fixedBytesPerEntity, 1))"
                    + " fixed each, \(bytes.heldEvents) events held at"
                    + " \(fixed(bytes.bytesPerHeldEvent, 1)) bytes each")
        }
        let perEntity = Double(rates.residentBytes) / Double(max(1, state.entities))
        print(
            "  resident growth (RSS): \(rates.residentBytes) bytes"
                + ", \(fixed(perEntity, 1)) per entity with its events")
        let statistics = rates.statistics
        print(
            "  late \(statistics.lateEvents), labels applied \(statistics.labelsApplied)"
                + ", unmatched \(statistics.labelsUnmatched)")
    }

    private static func goals(_ all: [FeatureBenchmark.Rates]) {
        print("goals:")
        for rates in all {
            let state = rates.state
            let budget = 256 * state.entities + 24 * state.heldEvents
            print(
                "  \(rates.name): decode \(fixed(rates.decodeRatio, 1))x JSONDecoder (goal 20x) "
                    + (rates.decodeRatio >= 20 ? "met" : "missed")
                    + "; pipeline \(rate(rates.pipelinePerSecond))/s (goal 1000000) "
                    + (rates.pipelinePerSecond >= 1_000_000 ? "met" : "missed")
                    + "; memory \(state.fixedBytes + state.eventBytes) of budget \(budget) "
                    + (state.fixedBytes + state.eventBytes <= budget ? "met" : "missed"))
        }
    }

    private static func rate(_ value: Double) -> String {
        let text = String(Int(value.rounded()))
        return String(repeating: " ", count: max(0, 10 - text.count)) + text
    }

    private static func fixed(_ value: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (value * scale).rounded() / scale
        return String(scaled)
    }
}

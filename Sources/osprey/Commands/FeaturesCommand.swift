import OspreyCore
import OspreyFeatures

#if canImport(Glibc)
    import Glibc
#endif

/// `osprey features`: the vectors the daemon would compute for a file, as CSV.
struct FeaturesCommand: Command {
    static let spec = CommandSpec(
        name: "features",
        abstract: "Writes the feature vector of every event in a file as CSV.",
        discussion: """
            Every click and order of the input is decoded and recorded in a feature store in \
            file order, with the same code as the daemon, and its vector is written as one CSV \
            row: the event id, then the features in schema order. Lines that do not decode are \
            skipped, counted by reason and reported on stderr. Plain .jsonl and gzip-compressed \
            .jsonl.gz files are both read.

            With --format handbook, each transaction's fraud label becomes known --label-delay \
            after it, and the book's 15 baseline inputs (TX_AMOUNT, ...) are added under their \
            own names. With --format yoochoose, views are clicks, purchases are orders of price \
            times quantity, and the session is the user.
            """,
        options: [
            OptionSpec("input", value: "FILE", help: "The JSON Lines file to read."),
            OptionSpec(
                "format", value: "FORMAT",
                help: "The input's format: events, handbook or yoochoose. The default is events."),
            OptionSpec(
                "out", value: "FILE", help: "The CSV file to write; - writes to standard output."),
            OptionSpec(
                "label-delay", value: "DURATION",
                help: "How long after a handbook transaction its label is known. The default is 7d."
            ),
            OptionSpec(
                "risk-delay", value: "DURATION",
                help: """
                    How long before each event the merchant fraud-rate windows end. The \
                    default is 7d.
                    """),
            OptionSpec(
                "lateness", value: "DURATION",
                help: "How late an event may arrive and still be placed exactly. The default is 1h."
            ),
            OptionSpec(
                "limit", value: "N", help: "Stops after writing N rows. The default is no limit."),
            OptionSpec("quiet", help: "Prints no progress on stderr."),
        ])

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let input = try arguments.required("input")
        let output = try arguments.required("out")
        let formatName = arguments.value("format") ?? "events"
        guard let format = InputFormat(rawValue: formatName) else {
            throw UsageError(
                "option '--format' expects events, handbook or yoochoose, not '\(formatName)'")
        }
        var configuration = FeatureConfiguration()
        configuration.labelDelay = try arguments.duration(
            "label-delay", default: configuration.labelDelay)
        configuration.riskDelay = try arguments.duration(
            "risk-delay", default: configuration.riskDelay)
        configuration.allowedLateness = try arguments.duration(
            "lateness", default: configuration.allowedLateness)
        let limit = try arguments.int("limit", default: Int.max)
        guard limit > 0 else { throw UsageError("option '--limit' expects a positive number") }

        var reader: FeatureFileReader
        do {
            reader = try FeatureFileReader(
                path: input, format: format, configuration: configuration)
        } catch let error as FeatureConfigurationError {
            throw UsageError(error.description)
        }
        let writer = try CSVWriter(path: output)
        if !arguments.flag("quiet") { reader.progress = ProgressLine(label: "features").report }
        writer.writeHeader(["event_id"] + reader.schema.names)
        var written = 0
        do {
            try reader.forEach { row in
                writer.writeRow(id: row.eventID, row.exactValues)
                written += 1
                if written >= limit { throw StopReading() }
            }
        } catch is StopReading {}
        try writer.close()
        reportRejections(reader)
        return ExitCode.success
    }

    private static func reportRejections(_ reader: FeatureFileReader) {
        let total = reader.rejected.values.reduce(0, +)
        guard total > 0 else { return }
        let reasons = reader.rejected.sorted { $0.key.rawValue < $1.key.rawValue }
            .map { "\($0.key.rawValue)=\($0.value)" }.joined(separator: " ")
        printError("\(total) lines refused: \(reasons)")
        for (line, error) in reader.firstRejections {
            printError("line \(line): \(error)")
        }
    }
}

/// Thrown from a row closure to end a read early.
struct StopReading: Error {}

/// Prints `osprey: LABEL: N lines (P%)` on stderr at most once a second.
final class ProgressLine {
    let label: String
    private var last = ContinuousClock.now

    init(label: String) { self.label = label }

    func report(_ progress: ReadProgress) {
        let now = ContinuousClock.now
        let done = progress.bytesRead >= progress.fileBytes
        guard done || now - last >= .seconds(1) else { return }
        last = now
        let percent = Int((progress.fraction * 100).rounded(.down))
        printError("\(label): \(progress.lines) lines, \(progress.rows) rows (\(percent)%)")
    }
}

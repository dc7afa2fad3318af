import OspreyCore
import OspreyFeatures
import OspreyModel

/// `osprey score`: every event's probabilities as CSV, for checking metrics elsewhere.
struct ScoreCommand: Command {
    static let spec = CommandSpec(
        name: "score",
        abstract: "Scores every event of a file with a model and writes the scores as CSV.",
        discussion: """
            The file is read with the daemon's feature code and scored in micro-batches of \
            256. Each event gives one row: event_id, then one column per sigmoid head named \
            after it (fraud, bot, purchase) with its calibrated probability. With --from and \
            --to, only events of those days (UTC, both included) are written. A model \
            trained on another feature schema is refused.
            """,
        options: [OptionSpec("model", value: "MODEL", help: "The model file to score with.")]
            + ModelCommandSupport.inputOptions + [
                OptionSpec(
                    "out", value: "FILE",
                    help: "The CSV file to write; - writes to standard output."),
                OptionSpec(
                    "from", value: "DATE",
                    help: "The first day to write (YYYY-MM-DD). The default is the file's start."),
                OptionSpec(
                    "to", value: "DATE",
                    help: "The last day to write, included. The default is the file's end."),
                OptionSpec(
                    "label-delay", value: "DURATION",
                    help:
                        "How long after a handbook transaction its label is known. "
                        + "The default is 7d."
                ),
                ModelCommandSupport.quietOption,
            ])

    static let batchSize = 256

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let modelPath = try arguments.required("model")
        let input = try arguments.required("input")
        let output = try arguments.required("out")
        let format = try ModelCommandSupport.format(arguments)
        let first =
            arguments.value("from") == nil
            ? -1_000_000 : try ModelCommandSupport.day(arguments, "from")
        let last =
            arguments.value("to") == nil
            ? 1_000_000 : try ModelCommandSupport.day(arguments, "to")
        guard first <= last else { throw UsageError("--from must not be after --to") }
        let range = DayRange(first: first, last: last)
        var features = FeatureConfiguration()
        features.labelDelay = try arguments.duration("label-delay", default: .seconds(7 * 86_400))
        var reader = try FeatureFileReader(path: input, format: format, configuration: features)
        let model = try Model.load(path: modelPath, expecting: reader.schema)
        if !arguments.flag("quiet") { reader.progress = ProgressLine(label: "score").report }

        let sigmoidHeads = model.heads.enumerated().filter { $0.element.kind.isSigmoid }
        let writer = try CSVWriter(path: output)
        writer.writeHeader(["event_id"] + sigmoidHeads.map(\.element.name))
        let scorer = Scorer(model: model, capacity: batchSize)
        let width = reader.schema.count
        var batch = [Float](repeating: 0, count: batchSize * width)
        var ids: [String] = []
        var categories: [String?] = []
        var row = [Double](repeating: 0, count: sigmoidHeads.count)
        func flush() {
            guard !ids.isEmpty else { return }
            batch.withUnsafeBufferPointer { features in
                scorer.score(features.baseAddress!, rows: ids.count, categories: categories[...])
            }
            for (index, id) in ids.enumerated() {
                for (column, head) in sigmoidHeads.enumerated() {
                    // The float's shortest text, read back as a double, prints briefly.
                    let value = scorer.probabilities(head: head.offset)[index]
                    row[column] = Double("\(value)") ?? Double(value)
                }
                row.withUnsafeBufferPointer { writer.writeRow(id: id, $0) }
            }
            ids.removeAll(keepingCapacity: true)
            categories.removeAll(keepingCapacity: true)
        }
        var past = false
        do {
            try reader.forEach { event in
                guard range.contains(ms: event.timestampMs) else {
                    if event.timestampMs >= range.endMs { past = true }
                    if past { throw StopReading() }
                    return
                }
                batch.withUnsafeMutableBufferPointer { target in
                    (target.baseAddress! + ids.count * width).update(
                        from: event.values.baseAddress!, count: width)
                }
                ids.append(event.eventID)
                categories.append(event.category)
                if ids.count == batchSize { flush() }
            }
        } catch is StopReading {}
        flush()
        try writer.close()
        return ExitCode.success
    }
}

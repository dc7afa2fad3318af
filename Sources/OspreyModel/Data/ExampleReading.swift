import OspreyFeatures

/// Reads a period of an input file through the feature store into a ``DatasetBuilder``.
///
/// The file is read from its start (the features need the history before the period), rows
/// inside the period are kept, and reading stops once the period and the purchase horizon
/// after it are past.
public enum ExampleReading {
    public struct Result {
        public var builder: DatasetBuilder
        public var schema: FeatureSchema
        /// Lines the reader refused, by reason.
        public var rejected: [DecodeReason: Int]
    }

    private struct PastPeriod: Error {}

    /// For the events format, the truth of each event comes from the file's label lines
    /// (``LabelTruth``), read in a first pass; the other formats carry it on the event.
    ///
    /// - Throws: what ``FeatureFileReader`` throws for a missing or unreadable file.
    public static func read(
        path: String, format: InputFormat, range: DayRange, purchaseHorizonMs: Int64,
        knownSince: Int64? = nil, features: FeatureConfiguration = .init(),
        progress: ((ReadProgress) -> Void)? = nil
    ) throws -> Result {
        var reader = try FeatureFileReader(path: path, format: format, configuration: features)
        reader.progress = progress
        let labelled =
            format == .events
            ? try LabelTruth.read(path: path, maxLineBytes: features.maxMessageBytes) : [:]
        var builder = DatasetBuilder(
            range: range, width: reader.schema.count, purchaseHorizonMs: purchaseHorizonMs,
            knownSince: knownSince)
        do {
            try reader.forEach { row in
                if builder.isDone(after: row.timestampMs) { throw PastPeriod() }
                let truth = labelled[row.eventID] ?? row.truth
                builder.add(
                    ExampleRow(
                        eventID: row.eventID, userID: row.userID, timestampMs: row.timestampMs,
                        isOrder: row.kind == .order, category: row.category, values: row.values,
                        fraud: truth.fraud, fraudType: truth.fraudType, bot: truth.bot))
            }
        } catch is PastPeriod {}
        return Result(builder: builder, schema: reader.schema, rejected: reader.rejected)
    }
}

import OspreyModel

/// One labelled example as the online loop learns from it: the vector kept at decision time,
/// the event's category (the model's context input), a label per head (`-1`: none) and the
/// event's key, which decides whether the ``Holdout`` keeps it out of training.
public struct TrainingExample: Sendable, Equatable {
    /// `[schema.count]`, raw (not standardised).
    public var vector: [Float]
    public var category: String?
    /// One per model head, in model order: `-1`, `0`/`1` or a class index.
    public var labels: [Int32]
    public var timeMs: Int64
    public var userKey: UInt64
    /// The event id's hash (``DelayedLabel/eventKey(_:)``); 0 for examples restored from a
    /// training state of format 1, which did not keep it.
    public var eventKey: UInt64

    public init(
        vector: [Float], category: String?, labels: [Int32], timeMs: Int64, userKey: UInt64,
        eventKey: UInt64
    ) {
        self.vector = vector
        self.category = category
        self.labels = labels
        self.timeMs = timeMs
        self.userKey = userKey
        self.eventKey = eventKey
    }

    /// The examples as a ``Dataset`` for `heads` (raw features; users as their keys).
    public static func dataset(_ examples: [TrainingExample], heads: [HeadSpec], width: Int)
        -> Dataset
    {
        var data = Dataset(width: width, heads: heads.map(\.name))
        data.features.reserveCapacity(examples.count * width)
        for example in examples {
            data.features.append(contentsOf: example.vector)
            data.eventIDs.append("")
            data.userIDs.append(String(example.userKey))
            data.timestampsMs.append(example.timeMs)
            data.categories.append(example.category)
        }
        for (index, head) in heads.enumerated() {
            data.labels[head.name] = examples.map { $0.labels[index] }
        }
        return data
    }
}

import OspreyFeatures

/// The events of one micro-batch waiting to be scored: their feature vectors as one
/// row-major `[rows, width]` buffer, and what an alert needs to say about each.
///
/// Thread: the pipeline thread only.
final class ScoringBatch {
    struct Item {
        let partition: Int32
        let offset: Int64
        let eventID: String
        /// The hash of ``eventID`` that labels name it by (``DecodedEvent/eventHash``).
        let eventKey: UInt64
        let userID: String
        let type: String
        let eventTimeMs: Int64
        /// The Kafka message's timestamp, for the end-to-end latency.
        let messageTimeMs: Int64?
        /// False while replaying events whose output was already delivered.
        let writesOutput: Bool
        /// The click's category, for models whose behaviour heads take it as an input.
        let category: String?
    }

    let width: Int
    let capacity: Int
    /// `[capacity, width]`, row-major; the first ``count`` rows are filled.
    private(set) var features: [Float]
    private(set) var items: [Item] = []
    /// Scratch for the store, which writes doubles.
    private var row: [Double]

    init(width: Int, capacity: Int) {
        self.width = width
        self.capacity = capacity
        features = [Float](repeating: 0, count: width * capacity)
        row = [Double](repeating: 0, count: width)
        items.reserveCapacity(capacity)
    }

    var count: Int { items.count }

    /// Each row's category, in row order.
    var categories: [String?] { items.map(\.category) }
    var isFull: Bool { items.count == capacity }

    /// Lets `store` process `event` into the next row and records `item` for it.
    ///
    /// - Throws: the store's ``DecodeError`` (an event too far in the future); the batch is
    ///   unchanged then.
    func append(_ event: DecodedEvent, store: FeatureStore, item: Item) throws(DecodeError) {
        precondition(!isFull, "append to a full batch")
        try row.withUnsafeMutableBufferPointer { buffer throws(DecodeError) in
            try store.process(event, into: buffer)
        }
        let base = items.count * width
        for column in 0..<width { features[base + column] = Float(row[column]) }
        items.append(item)
    }

    func reset() { items.removeAll(keepingCapacity: true) }

    /// The raw feature values of row `index`.
    func features(of index: Int) -> ArraySlice<Float> {
        features[(index * width)..<((index + 1) * width)]
    }
}

/// Examples in memory: feature vectors, per-head labels and what the evaluation needs to
/// know about each event (its id, user and time).
///
/// Shapes: `features: [count, width]` row-major. `labels[head][row]` is `-1` when the row
/// carries no label for that head, otherwise `0`/`1` (sigmoid head) or a class index.
///
/// Thread: a value type.
public struct Dataset: Sendable {
    public var width: Int
    public var features: [Float] = []
    public var labels: [String: [Int32]] = [:]
    public var eventIDs: [String] = []
    public var userIDs: [String] = []
    public var timestampsMs: [Int64] = []
    /// Each row's category (clicks), the model's context input; may be empty when unused.
    public var categories: [String?] = []

    public init(width: Int, heads: [String]) {
        self.width = width
        for head in heads { labels[head] = [] }
    }

    public var count: Int { timestampsMs.count }

    /// The rows at `indices`, in that order.
    public func subset(_ indices: [Int]) -> Dataset {
        var result = Dataset(width: width, heads: Array(labels.keys))
        result.features.reserveCapacity(indices.count * width)
        features.withUnsafeBufferPointer { source in
            for index in indices {
                result.features.append(
                    contentsOf: source[(index * width)..<((index + 1) * width)])
            }
        }
        for (head, values) in labels { result.labels[head] = indices.map { values[$0] } }
        result.eventIDs = indices.map { eventIDs[$0] }
        result.userIDs = indices.map { userIDs[$0] }
        result.timestampsMs = indices.map { timestampsMs[$0] }
        if !categories.isEmpty { result.categories = indices.map { categories[$0] } }
        return result
    }

    /// The number of labelled rows of `head`.
    public func labelledCount(_ head: String) -> Int {
        labels[head]?.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) } ?? 0
    }
}

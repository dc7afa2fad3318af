import OspreyModel

/// The labelled examples kept out of training, on which a candidate and the serving model are
/// compared: for each head, the newest ``capacity`` of the examples the split holds out.
///
/// The split depends on the event alone: an example is held out when a hash of its event key
/// falls below ``share``, whatever the order in which labels arrive; the others go to training
/// at once. Each head keeps its own hold-out, ordered by event time (ties by event key): when
/// it is full, a newer example pushes out the oldest, which goes to training, and an older one
/// goes to training directly. So once the same labels have arrived, in whatever interleaving
/// of partitions, every head's hold-out holds the same examples, and a head with few labels
/// (`fraud`) is not crowded out by a head with many (`purchase`).
///
/// An example labelled for several heads (an order's `fraud` and `fraud_type`) is held by each
/// of those heads with that head's label alone, and leaves each hold-out on its own, for
/// training on that head's label alone. An example in a hold-out has never been handed to
/// training, so neither a candidate nor the model it came from has learned its label.
///
/// - Important: a held-out example's vector may already have been trained on through another
///   head's label (when it left that head's hold-out first); only its label for this head is
///   guaranteed unseen. The split is fixed by the hash: the same events are held out by every
///   instance and after every restart.
///
/// Thread: a value owned by one thread; copies are cheap (the storage is shared until written).
public struct Holdout: Sendable {
    /// Examples kept per head at most.
    public let capacity: Int
    /// The share of events held out, from 0 to 1.
    public let share: Double
    private let threshold: UInt64
    /// `[head]`: a binary min-heap by ``Key``: the oldest example is at 0.
    private var heaps: [[TrainingExample]]
    /// `[head]`: each heap entry's key, at the same place: the sifts compare these (plain
    /// integers) and move the examples along, without copying them.
    private var keys: [[Key]]

    /// An example's place in a hold-out: event time, then event key.
    struct Key: Comparable {
        let timeMs: Int64
        let eventKey: UInt64

        init(_ example: TrainingExample) {
            timeMs = example.timeMs
            eventKey = example.eventKey
        }

        static func < (a: Key, b: Key) -> Bool {
            a.timeMs != b.timeMs ? a.timeMs < b.timeMs : a.eventKey < b.eventKey
        }
    }

    /// An empty hold-out for `heads` heads, each keeping at most `capacity` examples.
    public init(heads: Int, capacity: Int, share: Double) {
        precondition(capacity > 0, "the hold-out needs room")
        self.capacity = capacity
        self.share = min(1, max(0, share))
        // Held out when the hash is below share × 2^64; all of them at share 1.
        threshold = self.share >= 1 ? .max : UInt64(self.share * 18_446_744_073_709_551_616.0)
        heaps = Array(repeating: [], count: heads)
        keys = Array(repeating: [], count: heads)
    }

    /// Whether the split holds out the event with `eventKey` (the same answer every time).
    public func holdsOut(eventKey: UInt64) -> Bool {
        share >= 1 || Holdout.mix(eventKey) < threshold
    }

    /// Offers a labelled example; returns the examples that go to training now: the example
    /// itself when the split does not hold it out, else, per head it is labelled for, the
    /// oldest of that head's hold-out when it was full (possibly this example), with that
    /// head's label alone.
    ///
    /// Complexity: O(heads × log ``capacity``).
    public mutating func add(_ example: TrainingExample) -> [TrainingExample] {
        guard holdsOut(eventKey: example.eventKey) else { return [example] }
        var leaving: [TrainingExample] = []
        for head in heaps.indices where example.labels[head] >= 0 {
            var single = example
            single.labels = example.labels.indices.map { $0 == head ? example.labels[head] : -1 }
            if let out = insert(single, head: head) { leaving.append(out) }
        }
        return leaving
    }

    /// Head `head`'s hold-out, oldest first (each example labelled for that head alone).
    public func examples(head: Int) -> [TrainingExample] {
        heaps[head].sorted(by: Holdout.order)
    }

    /// Every head's hold-out, head by head, each oldest first.
    public var allExamples: [TrainingExample] {
        heaps.indices.flatMap { examples(head: $0) }
    }

    /// Examples in head `head`'s hold-out.
    public func count(head: Int) -> Int { heaps[head].count }

    /// Examples in all hold-outs together.
    public var count: Int { heaps.reduce(0) { $0 + $1.count } }

    public var isEmpty: Bool { heaps.allSatisfy(\.isEmpty) }

    /// Every head's hold-out as one ``Dataset`` for `heads`: a row per held-out example,
    /// labelled for its own head only, so each head's metrics are taken on its own hold-out.
    public func dataset(heads: [HeadSpec], width: Int) -> Dataset {
        TrainingExample.dataset(allExamples, heads: heads, width: width)
    }

    // MARK: - The heaps

    /// Whether `a` is older than `b`: by event time, then by event key.
    static func order(_ a: TrainingExample, _ b: TrainingExample) -> Bool { Key(a) < Key(b) }

    /// Inserts into a head's heap; returns the example that leaves, if it was full.
    private mutating func insert(_ example: TrainingExample, head: Int) -> TrainingExample? {
        let key = Key(example)
        if heaps[head].count < capacity {
            heaps[head].append(example)
            keys[head].append(key)
            siftUp(head, from: heaps[head].count - 1)
            return nil
        }
        guard keys[head][0] < key else { return example }
        let oldest = heaps[head][0]
        heaps[head][0] = example
        keys[head][0] = key
        siftDown(head, from: 0)
        return oldest
    }

    private mutating func swap(_ head: Int, _ a: Int, _ b: Int) {
        heaps[head].swapAt(a, b)
        keys[head].swapAt(a, b)
    }

    private mutating func siftUp(_ head: Int, from start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard keys[head][child] < keys[head][parent] else { return }
            swap(head, child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ head: Int, from start: Int) {
        let count = keys[head].count
        var parent = start
        while true {
            var smallest = parent
            let left = 2 * parent + 1
            let right = left + 1
            if left < count, keys[head][left] < keys[head][smallest] { smallest = left }
            if right < count, keys[head][right] < keys[head][smallest] { smallest = right }
            guard smallest != parent else { return }
            swap(head, parent, smallest)
            parent = smallest
        }
    }

    /// SplitMix64's finaliser: event keys of tests and simulations are small counters, and
    /// the split must not follow their order.
    static func mix(_ key: UInt64) -> UInt64 {
        var z = key &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

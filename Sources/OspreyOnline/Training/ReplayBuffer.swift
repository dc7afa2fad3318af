import OspreyCore

/// What fine-tuning learns from: the most recent examples, a uniform sample of the older
/// ones, and the most recent positives of each sigmoid head, so that a rare class is not
/// washed out by a run of negatives.
///
/// - The recent part is a ring of the last ``recentCapacity`` examples.
/// - An example leaving the recent part enters the reservoir by reservoir sampling
///   (Algorithm R): every example that ever left has the same chance to be in it.
/// - A positive of a sigmoid head is also kept in that head's ring of
///   ``positiveCapacity`` positives; ``examples`` may therefore hold it twice, which
///   oversamples the rare class on purpose.
///
/// All randomness comes from the seed: the same examples in the same order give the same
/// buffer.
///
/// Thread: a value owned by one thread (the trainer's).
public struct ReplayBuffer: Sendable {
    public let recentCapacity: Int
    public let reservoirCapacity: Int
    public let positiveCapacity: Int
    /// The heads whose positives are kept apart (indices into the examples' labels).
    public let positiveHeads: [Int]

    private var recent: [TrainingExample] = []
    private var recentNext = 0
    private var reservoir: [TrainingExample] = []
    private var left = 0
    private var positives: [[TrainingExample]]
    private var positiveNext: [Int]
    private var random: SeededRandom
    /// Examples ever added.
    public private(set) var added = 0

    public init(
        recentCapacity: Int, reservoirCapacity: Int, positiveCapacity: Int, positiveHeads: [Int],
        seed: UInt64
    ) {
        precondition(recentCapacity > 0, "the replay buffer needs a recent part")
        self.recentCapacity = recentCapacity
        self.reservoirCapacity = max(0, reservoirCapacity)
        self.positiveCapacity = max(0, positiveCapacity)
        self.positiveHeads = positiveHeads
        positives = positiveHeads.map { _ in [] }
        positiveNext = positiveHeads.map { _ in 0 }
        random = SeededRandom(seed: seed).derived(0x5245_504c)
    }

    /// Adds one example.
    public mutating func add(_ example: TrainingExample) {
        added += 1
        for (slot, head) in positiveHeads.enumerated()
        where positiveCapacity > 0 && example.labels[head] == 1 {
            if positives[slot].count < positiveCapacity {
                positives[slot].append(example)
            } else {
                positives[slot][positiveNext[slot]] = example
                positiveNext[slot] = (positiveNext[slot] + 1) % positiveCapacity
            }
        }
        if recent.count < recentCapacity {
            recent.append(example)
            return
        }
        let leaving = recent[recentNext]
        recent[recentNext] = example
        recentNext = (recentNext + 1) % recentCapacity
        left += 1
        guard reservoirCapacity > 0 else { return }
        if reservoir.count < reservoirCapacity {
            reservoir.append(leaving)
        } else {
            let slot = Int(random.next() % UInt64(left))
            if slot < reservoirCapacity { reservoir[slot] = leaving }
        }
    }

    /// Everything held: recent (oldest first), reservoir, then each head's positives.
    public var examples: [TrainingExample] {
        Array(recent[recentNext...]) + Array(recent[..<recentNext]) + reservoir
            + positives.joined()
    }

    /// The recent part and the reservoir without the extra positives: a sample with the
    /// stream's class balance, for calibration.
    public var unbiasedExamples: [TrainingExample] {
        Array(recent[recentNext...]) + Array(recent[..<recentNext]) + reservoir
    }

    public var count: Int { recent.count + reservoir.count + positives.reduce(0) { $0 + $1.count } }
}

import OspreyModel

/// The online loop: score events in micro-batches, keep their vectors, join labels to them,
/// judge each label's prediction (prequential quality), learn from the joined examples, and
/// replace the serving model only through the ``PromotionGuard``.
///
/// Use: ``submit(event:)`` and ``submit(label:)`` in event-time order, then ``flush()`` (or
/// let a full batch flush itself). A flush scores the batch's events with the serving model
/// in one call, then replays events and labels in their original order: each event is kept
/// in the ``LabelJoinStore`` and shown to the ``SelfLabeller``; each label is joined. After
/// the flush, a fine-tuning run starts when ``OnlineSettings/fineTuneEvery`` labels have
/// joined since the last one; its candidate is judged, head by head, on the ``Holdout``
/// (each head's newest examples among the events the split holds out, which enter the replay
/// buffer only when newer ones push them out, so neither model has trained on them).
///
/// - Important: a promotion takes effect at the next batch: the events of one batch are all
///   scored by the same model. The fine-tuning run happens on the caller's thread and holds
///   up the loop for its duration; the daemon is to run ``fineTuneNow()``'s work on its own
///   thread (the pieces are values and can be handed over).
///
/// Thread: one thread owns a learner.
public final class OnlineLearner {
    /// An event to score: its identity, time, kind and raw vector.
    public struct Event: Sendable {
        public var eventKey: UInt64
        public var userKey: UInt64
        public var timeMs: Int64
        public var isOrder: Bool
        public var category: String?
        public var vector: [Float]

        public init(
            eventKey: UInt64, userKey: UInt64, timeMs: Int64, isOrder: Bool, category: String?,
            vector: [Float]
        ) {
            self.eventKey = eventKey
            self.userKey = userKey
            self.timeMs = timeMs
            self.isOrder = isOrder
            self.category = category
            self.vector = vector
        }
    }

    /// One judged prediction, as the prequential windows see it.
    public struct Observation: Sendable {
        public let head: String
        /// The positive-class probability (sigmoid) or the true class's (softmax).
        public let probability: Double
        public let label: Int32
        public let eventTimeMs: Int64
        public let userKey: UInt64
        /// The model version that gave the score.
        public let version: String
    }

    /// What a fine-tuning run did.
    public struct RunRecord: Sendable {
        public let atMs: Int64
        public let meanLoss: Double
        public let decision: PromotionGuard.Decision
        public let servingVersion: String
    }

    public let settings: OnlineSettings
    public private(set) var serving: Model
    private var scorer: Scorer
    private var servingVersionOfBatch: String
    public private(set) var join: LabelJoinStore
    private var selfLabeller: SelfLabeller
    public private(set) var windows: [String: PrequentialWindow] = [:]
    public private(set) var buffer: ReplayBuffer
    /// The examples kept out of training, on which candidates are judged.
    public private(set) var holdout: Holdout
    public private(set) var runs: [RunRecord] = []
    /// Labels whose verdict no head of the model takes.
    public private(set) var labelsForNoHead = 0
    /// Called with every judged prediction (the backtest's weekly tables use it).
    public var observer: ((Observation) -> Void)?

    private let heads: [HeadSpec]
    private let offsets: [Int]
    private let targets: HeadTargets
    private var pending: [Pending] = []
    private var pendingEvents: [Event] = []
    private var labelsSinceRun = 0
    private var latestMs: Int64 = .min

    private enum Pending {
        case event(Int)
        case label(DelayedLabel)
    }

    public init(serving: Model, settings: OnlineSettings) {
        self.settings = settings
        self.serving = serving
        scorer = Scorer(model: serving, capacity: settings.batch)
        servingVersionOfBatch = serving.version
        let heads = serving.heads
        self.heads = heads
        let targets = HeadTargets(heads: heads)
        self.targets = targets
        var offsets: [Int] = []
        var width = 0
        for head in heads {
            offsets.append(width)
            width += head.width
        }
        self.offsets = offsets
        join = LabelJoinStore(
            vectorWidth: serving.schema.count, outputWidth: width,
            maxEntries: settings.joinMaxEntries, ttlMs: settings.joinTTLMs)
        selfLabeller = SelfLabeller(
            horizonMs: settings.purchaseHorizonMs, purchase: targets.hasPurchase,
            interest: targets.hasInterest)
        buffer = ReplayBuffer(
            recentCapacity: settings.recent, reservoirCapacity: settings.reservoir,
            positiveCapacity: settings.positives,
            positiveHeads: heads.indices.filter { heads[$0].kind.isSigmoid },
            seed: settings.seed)
        holdout = Holdout(
            heads: heads.count, capacity: settings.holdout, share: settings.holdoutShare)
        for head in heads {
            windows[head.name] = PrequentialWindow(
                capacity: settings.window, isSigmoid: head.kind.isSigmoid)
        }
    }

    /// Queues an event for scoring; a full batch is flushed at once.
    public func submit(event: Event) {
        pending.append(.event(pendingEvents.count))
        pendingEvents.append(event)
        if pendingEvents.count >= settings.batch { flush() }
    }

    /// Queues a label; it is joined, in order, at the next flush.
    public func submit(label: DelayedLabel) {
        pending.append(.label(label))
    }

    /// Scores the queued events, replays events and labels in order, and runs fine-tuning
    /// when it is due.
    public func flush() {
        let scores = score()
        for item in pending {
            switch item {
            case .event(let position):
                keep(pendingEvents[position], scores: scores, row: position)
            case .label(let label):
                latestMs = max(latestMs, label.timeMs)
                apply(label)
            }
        }
        pending.removeAll(keepingCapacity: true)
        pendingEvents.removeAll(keepingCapacity: true)
        if latestMs > .min { join.expire(now: latestMs) }
        if settings.fineTuneEnabled, labelsSinceRun >= settings.fineTuneEvery {
            fineTuneNow()
        }
    }

    /// Fine-tunes a candidate on the replay buffer, judges it on the hold-out and promotes
    /// it if the guard agrees; returns the record (nil when there is nothing to learn from,
    /// as always when ``OnlineSettings/fineTuneEnabled`` is off: no example is kept then).
    @discardableResult
    public func fineTuneNow() -> RunRecord? {
        labelsSinceRun = 0
        let examples = buffer.examples
        guard !examples.isEmpty, !holdout.isEmpty else { return nil }
        let run: FineTuner.Run
        do {
            run = try FineTuner.fineTune(
                serving, examples: examples, calibration: buffer.unbiasedExamples,
                settings: settings.fineTune)
        } catch {
            return nil
        }
        let slice = holdout.dataset(heads: heads, width: serving.schema.count)
        let decision = settings.promotion.judge(
            candidate: run.candidate, serving: serving, on: slice)
        if decision.promoted {
            serving = run.candidate
            scorer = Scorer(model: serving, capacity: settings.batch)
        }
        let record = RunRecord(
            atMs: latestMs, meanLoss: run.meanLoss, decision: decision,
            servingVersion: serving.version)
        runs.append(record)
        return record
    }

    // MARK: - Steps of a flush

    /// Scores the queued events; returns each head's outputs, `[rows, width]` per head.
    private func score() -> [[Float]] {
        let rows = pendingEvents.count
        guard rows > 0 else { return [] }
        let width = serving.schema.count
        var matrix = [Float](repeating: 0, count: rows * width)
        for (row, event) in pendingEvents.enumerated() {
            matrix.withUnsafeMutableBufferPointer { target in
                for column in 0..<width { target[row * width + column] = event.vector[column] }
            }
        }
        servingVersionOfBatch = serving.version
        return scorer.scoreAll(
            matrix, rows: rows, categories: pendingEvents.map(\.category),
            batchSize: settings.batch)
    }

    /// Keeps a scored event for its labels (when a head can learn from it) and shows it to
    /// the self-labeller (always: an order resolves the purchase labels of earlier clicks).
    private func keep(_ event: Event, scores: [[Float]], row: Int) {
        latestMs = max(latestMs, event.timeMs)
        // Events no head can learn from are scored but not kept.
        if event.isOrder ? targets.learnsFromOrders : targets.learnsFromClicks {
            var outputs: [Float] = []
            outputs.reserveCapacity(join.outputWidth)
            for (index, head) in heads.enumerated() {
                let start = row * head.width
                outputs.append(contentsOf: scores[index][start..<(start + head.width)])
            }
            join.keep(
                LabelJoinStore.Entry(
                    eventKey: event.eventKey, userKey: event.userKey, timeMs: event.timeMs,
                    category: event.category, vector: event.vector, outputs: outputs))
        }
        let implied = selfLabeller.observe(
            eventKey: event.eventKey, userKey: event.userKey, timeMs: event.timeMs,
            isOrder: event.isOrder, category: event.category)
        for label in implied { apply(label) }
    }

    /// Joins one label and learns from it.
    private func apply(_ label: DelayedLabel) {
        let pairs = targets.targets(label.verdict)
        guard !pairs.isEmpty else {
            labelsForNoHead += 1
            return
        }
        let mask = pairs.reduce(UInt32(0)) { $0 | (1 << UInt32($1.head)) }
        guard case .joined(let entry) = join.join(label.eventKey, heads: mask) else { return }
        var labels = [Int32](repeating: -1, count: heads.count)
        for (head, value) in pairs {
            labels[head] = value
            let spec = heads[head]
            let probability =
                spec.kind.isSigmoid
                ? Double(entry.outputs[offsets[head]])
                : Double(entry.outputs[offsets[head] + Int(value)])
            windows[spec.name]?.add(probability: probability, label: value)
            observer?(
                Observation(
                    head: spec.name, probability: probability, label: value,
                    eventTimeMs: entry.timeMs, userKey: entry.userKey,
                    version: servingVersionOfBatch))
        }
        hold(
            TrainingExample(
                vector: entry.vector, category: entry.category, labels: labels,
                timeMs: entry.timeMs, userKey: entry.userKey, eventKey: entry.eventKey))
        labelsSinceRun += 1
    }

    /// Offers an example to the hold-out; what it does not keep goes to the replay buffer.
    /// Without fine-tuning neither is kept: nothing would learn from them or be judged on
    /// them (a tenth of the loop's time outside the feature store).
    private func hold(_ example: TrainingExample) {
        guard settings.fineTuneEnabled else { return }
        for leaving in holdout.add(example) { buffer.add(leaving) }
    }
}

import OspreyCore
import OspreyModel
import OspreyOnline

/// The pipeline's half of online learning: what judged labels leave behind.
///
/// Each label joined to its event's vector (see `PipelineLearning.swift`) is judged against
/// the scores the event got at decision time, in a prequential window per head, and becomes
/// a training example, which the ``Holdout`` keeps out of training or passes on to the replay
/// buffer (the split is fixed by the event id, and each head keeps its own newest
/// ``OnlineSettings/holdout`` examples; one leaves for the buffer when a newer one comes, so
/// the hold-out is never trained on). A training request hands copies of both to the
/// ``BackgroundTrainer``; their arrays are copied on write, so the hand-over costs the
/// pipeline a few reference counts, never a wait for training.
///
/// Thread: the pipeline thread only.
final class DaemonLearning {
    /// Where a label came from, for `osprey_label_joins_total{source}`.
    enum Source: String {
        /// The labels topic (or a label on the events topic).
        case topic
        /// Implied by the stream: purchase and interest self-labels.
        case stream
    }

    enum Outcome: String, CaseIterable {
        case joined, unmatched, late, duplicate
        case noHead = "no_head"
    }

    let settings: OnlineSettings
    let targets: HeadTargets
    let vectorWidth: Int
    /// Every head's outputs side by side: the width of a join entry's outputs.
    let outputWidth: Int
    /// `[head]`: where each head's outputs start in a join entry.
    private let offsets: [Int]
    private var windows: [PrequentialWindow]
    private(set) var buffer: ReplayBuffer
    private(set) var holdout: Holdout
    /// Labels read since the last batch was scored, applied once it is (their events may be
    /// in it).
    var pendingLabels: [(partition: Int32, label: DelayedLabel)] = []
    /// Labels joined since the last training request.
    private(set) var labelsSinceRequest = 0
    /// Whether the examples changed since the training state was last written.
    var unsaved = false
    /// Labels judged since the quality gauges were last computed.
    private var judgedSincePublished = 0
    /// The last computed metrics per head name (`auc_roc`, `average_precision`, `log_loss`).
    private(set) var quality: [String: [String: Double]] = [:]
    private var topicCounts: [Outcome: Int] = [:]

    private let metrics: DaemonMetrics
    private let joinCounters: [Source: [Outcome: Counter]]
    private let labelDelay: Histogram

    init(model: Model, settings: OnlineSettings, metrics: DaemonMetrics) {
        self.settings = settings
        self.metrics = metrics
        let heads = model.heads
        targets = HeadTargets(heads: heads)
        vectorWidth = model.schema.count
        var offsets: [Int] = []
        var width = 0
        for head in heads {
            offsets.append(width)
            width += head.width
        }
        self.offsets = offsets
        outputWidth = width
        windows = heads.map {
            PrequentialWindow(capacity: settings.window, isSigmoid: $0.kind.isSigmoid)
        }
        buffer = DaemonLearning.emptyBuffer(heads: heads, settings: settings)
        holdout = DaemonLearning.emptyHoldout(heads: heads, settings: settings)
        var counters: [Source: [Outcome: Counter]] = [:]
        for source in [Source.topic, .stream] {
            for outcome in Outcome.allCases {
                counters[source, default: [:]][outcome] = metrics.labelJoins.labels(
                    source.rawValue, outcome.rawValue)
            }
        }
        joinCounters = counters
        labelDelay = metrics.labelDelay.labels()
    }

    static func emptyBuffer(heads: [HeadSpec], settings: OnlineSettings) -> ReplayBuffer {
        ReplayBuffer(
            recentCapacity: settings.recent, reservoirCapacity: settings.reservoir,
            positiveCapacity: settings.positives,
            positiveHeads: heads.indices.filter { heads[$0].kind.isSigmoid }, seed: settings.seed)
    }

    static func emptyHoldout(heads: [HeadSpec], settings: OnlineSettings) -> Holdout {
        Holdout(heads: heads.count, capacity: settings.holdout, share: settings.holdoutShare)
    }

    /// Whether `model` scores into the layout the join store and windows were made for (same
    /// feature count, same heads): a swapped-in model of another layout is not learned from.
    func accepts(_ model: Model) -> Bool {
        model.schema.count == vectorWidth
            && model.heads.map(\.name) == targets.heads.map(\.name)
            && model.heads.map(\.width) == targets.heads.map(\.width)
    }

    /// An empty join store with the configured bounds, for a partition without one.
    func makeJoinStore() -> LabelJoinStore {
        LabelJoinStore(
            vectorWidth: vectorWidth, outputWidth: outputWidth,
            maxEntries: settings.joinMaxEntries, ttlMs: settings.joinTTLMs)
    }

    /// Whether a join store restored from a checkpoint fits the serving model's layout.
    func fits(_ store: LabelJoinStore) -> Bool {
        store.vectorWidth == vectorWidth && store.outputWidth == outputWidth
    }

    func makeSelfLabeller() -> SelfLabeller {
        SelfLabeller(
            horizonMs: settings.purchaseHorizonMs, purchase: targets.hasPurchase,
            interest: targets.hasInterest)
    }

    /// Joins `label` to its event in `state`'s join store, judges the scores the event got
    /// and keeps the example; counts the outcome either way.
    func apply(_ label: DelayedLabel, source: Source, in state: PartitionState) {
        let pairs = targets.targets(label.verdict)
        guard !pairs.isEmpty else {
            count(.noHead, source)
            return
        }
        let mask = pairs.reduce(UInt32(0)) { $0 | (1 << UInt32($1.head)) }
        let entry: LabelJoinStore.Entry
        switch state.joinStore.join(label.eventKey, heads: mask) {
        case .joined(let found): entry = found
        case .unmatched: return count(.unmatched, source)
        case .late: return count(.late, source)
        case .duplicate: return count(.duplicate, source)
        }
        count(.joined, source)
        if source == .topic {
            labelDelay.observe(Double(max(0, label.timeMs - entry.timeMs)) / 1000)
        }
        var labels = [Int32](repeating: -1, count: targets.heads.count)
        for (head, value) in pairs {
            labels[head] = value
            let probability =
                targets.heads[head].kind.isSigmoid
                ? entry.outputs[offsets[head]] : entry.outputs[offsets[head] + Int(value)]
            windows[head].add(probability: Double(probability), label: value)
        }
        hold(
            TrainingExample(
                vector: entry.vector, category: entry.category, labels: labels,
                timeMs: entry.timeMs, userKey: entry.userKey, eventKey: entry.eventKey))
        labelsSinceRequest += 1
        judgedSincePublished += 1
    }

    private func count(_ outcome: Outcome, _ source: Source) {
        joinCounters[source]?[outcome]?.increment()
        if source == .topic { topicCounts[outcome, default: 0] += 1 }
    }

    /// Offers an example to the hold-out; what it does not keep goes to the replay buffer.
    func hold(_ example: TrainingExample) {
        unsaved = true
        for leaving in holdout.add(example) { buffer.add(leaving) }
    }

    /// Replaces the buffer and hold-out with restored ones (see ``TrainingStateFile``).
    func restore(buffer restoredBuffer: ReplayBuffer, holdout restoredHoldout: Holdout) {
        buffer = restoredBuffer
        holdout = restoredHoldout
        unsaved = false
    }

    /// A copy of what a fine-tuning run needs when one is due, else nil: there must be both
    /// examples to train on and a hold-out, and either `minLabels` labels joined since the
    /// last request or `interval` passed with at least one.
    func trainingRequest(
        model: Model, version: Int, minLabels: Int, intervalPassed: Bool, run: Int
    ) -> BackgroundTrainer.Request? {
        guard buffer.count > 0, !holdout.isEmpty, labelsSinceRequest > 0,
            labelsSinceRequest >= minLabels || intervalPassed
        else { return nil }
        let trigger = labelsSinceRequest >= minLabels ? "labels" : "interval"
        labelsSinceRequest = 0
        return BackgroundTrainer.Request(
            modelBytes: model.encoded(), servingVersion: version, examples: buffer.examples,
            calibration: buffer.unbiasedExamples, holdout: holdout, trigger: trigger, run: run)
    }

    /// Computes the prequential metrics and sets their gauges, when labels were judged since
    /// the last time (O(window × log window) per head).
    func publishQuality() {
        guard judgedSincePublished > 0 else { return }
        judgedSincePublished = 0
        for (index, head) in targets.heads.enumerated() where windows[index].count > 0 {
            let values = windows[index].metrics
            quality[head.name] = values
            metrics.prequentialLabels.labels(head.name).set(windows[index].count)
            if let value = values["auc_roc"], value.isFinite {
                metrics.prequentialAUC.labels(head.name).set(value)
            }
            if let value = values["average_precision"], value.isFinite {
                metrics.prequentialAveragePrecision.labels(head.name).set(value)
            }
            if let value = values["log_loss"], value.isFinite {
                metrics.prequentialLogLoss.labels(head.name).set(value)
            }
        }
        let joined = topicCounts[.joined, default: 0]
        let tried = joined + topicCounts[.unmatched, default: 0] + topicCounts[.late, default: 0]
        if tried > 0 { metrics.labelJoinHitRatio.labels().set(Double(joined) / Double(tried)) }
        metrics.replayExamples.labels().set(buffer.count + holdout.count)
    }
}

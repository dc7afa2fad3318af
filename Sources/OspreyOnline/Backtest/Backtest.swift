import OspreyCore
import OspreyFeatures
import OspreyModel

/// What a backtest runs: the file, the label delay, the first model, the online settings.
public struct BacktestOptions {
    public var path: String
    public var format: InputFormat
    /// For handbook files: how long after a transaction its label arrives (and is known to
    /// the merchant risk features). Events files carry their own label lines.
    public var labelDelay: Duration = .seconds(7 * 86_400)
    /// The first part of the file, in event time, whose events are not scored or judged;
    /// its rows train the first model when none is given. Nil: 28 days without a model, 0
    /// with one.
    public var warmUp: Duration?
    public var model: Model?
    public var modelConfiguration = ModelConfiguration()
    public var online = OnlineSettings()
    /// Called about every 65,536 lines of the file.
    public var progress: ((ReadProgress) -> Void)?

    public init(path: String, format: InputFormat) {
        self.path = path
        self.format = format
    }
}

/// The prequential figures of one week (of event time) for the target head.
public struct BacktestWeek: Sendable {
    /// The week's first day, days since the epoch.
    public let firstDay: Int64
    public let labels: Int
    public let positives: Int
    public let aucROC: Double?
    public let averagePrecision: Double?
    /// Card precision@100 per day, averaged over the week's days (handbook files).
    public let cardPrecision: Double?
}

/// What a backtest measured.
public struct BacktestResult {
    /// Events scored after the warm-up.
    public var scored = 0
    /// Wall-clock seconds of the scored part (features, scoring, joins, fine-tuning).
    public var seconds = 0.0
    public var weeks: [BacktestWeek] = []
    /// The target head's judged predictions: probability, label, event time, user key.
    public var probabilities: [Double] = []
    public var labels: [Int32] = []
    public var eventTimesMs: [Int64] = []
    public var users: [UInt64] = []
    public var runs: [OnlineLearner.RunRecord] = []
    public var joinCounts = LabelJoinStore.Counts()
    public var windows: [String: PrequentialWindow] = [:]
    public var finalVersion = ""
    /// The model the loop started from (given, or trained on the warm-up).
    public var firstModel: Model?
    /// Rows the first model trained on (0 when it was given).
    public var warmUpRows = 0
    public var refusedLines = 0

    public var examplesPerSecond: Double { seconds > 0 ? Double(scored) / seconds : 0 }

    /// AUC-ROC and average precision of the target head over events from `startMs` on.
    public func metrics(fromMs startMs: Int64) -> (auc: Double?, ap: Double?, labels: Int) {
        let rows = eventTimesMs.indices.filter { eventTimesMs[$0] >= startMs }
        let p = rows.map { probabilities[$0] }
        let y = rows.map { labels[$0] }
        return (
            BinaryMetrics.rocAUC(scores: p, labels: y),
            BinaryMetrics.averagePrecision(scores: p, labels: y), rows.count
        )
    }
}

/// Drives the online loop from a file in event time: every event is scored by the serving
/// model and kept; its label is applied when its time comes (for handbook files
/// ``BacktestOptions/labelDelay`` after the transaction, for events files at the label
/// line's `ts`); the loop fine-tunes and promotes as it would online.
///
/// The first model is ``BacktestOptions/model`` or, without one, a model trained with the
/// offline recipe (``TrainingRun``) on the rows of the warm-up. Labels still due when the
/// file ends are applied then, so that the last days are judged too.
public enum Backtest {
    private struct State {
        var builder: DatasetBuilder?
        var learner: OnlineLearner?
        var warmUpKeys: Set<UInt64> = []
        var scheduled: [DelayedLabel] = []
        var scheduledHead = 0
        var fileLabelHead = 0
        var warmUpEndMs: Int64?
        var clock = ContinuousClock.now
        var truth: [UInt64: Verdict] = [:]
    }

    /// - Throws: ``FeatureFileError`` for an unreadable file, ``ModelError`` when the warm-up
    ///   cannot train a model, ``OnlineError/data(_:)`` when no event is scored.
    public static func run(_ options: BacktestOptions) throws -> BacktestResult {
        var features = FeatureConfiguration()
        features.labelDelay = options.labelDelay
        var reader = try FeatureFileReader(
            path: options.path, format: options.format, configuration: features)
        reader.progress = options.progress
        let fileLabels = options.format == .events ? try LabelFile(path: options.path) : nil
        var result = BacktestResult()
        result.refusedLines = fileLabels?.refused ?? 0
        var state = State()
        if let fileLabels, options.model == nil {
            for label in fileLabels.labels { state.truth[label.eventKey] = label.verdict }
        }
        let collector = Collector(head: options.online.promotion.targetHead)
        let delayMs = options.labelDelay.totalMilliseconds
        let schema = reader.schema

        try reader.forEach { row in
            if state.warmUpEndMs == nil {
                let firstDay = DatasetBuilder.day(ms: row.timestampMs)
                let warmUp =
                    options.warmUp ?? (options.model == nil ? .seconds(28 * 86_400) : .zero)
                state.warmUpEndMs = row.timestampMs + warmUp.totalMilliseconds
                state.builder = DatasetBuilder(
                    range: DayRange(first: firstDay, last: firstDay + 100_000),
                    width: schema.count,
                    purchaseHorizonMs: options.modelConfiguration.purchaseHorizonMs)
            }
            if row.timestampMs < state.warmUpEndMs! {
                if options.model == nil { state.builder!.add(exampleRow(row, state.truth)) }
                state.warmUpKeys.insert(DelayedLabel.eventKey(row.eventID))
                return
            }
            if state.learner == nil {
                let model = try options.model ?? firstModel(state.builder!, schema, options)
                result.warmUpRows = options.model == nil ? state.builder!.count : 0
                state.builder = nil
                result.firstModel = model
                state.learner = OnlineLearner(serving: model, settings: options.online)
                state.clock = ContinuousClock.now
                state.learner!.observer = { collector.add($0) }
            }
            let learner = state.learner!
            deliver(upTo: row.timestampMs, &state, fileLabels, learner)
            let key = DelayedLabel.eventKey(row.eventID)
            learner.submit(
                event: OnlineLearner.Event(
                    eventKey: key, userKey: DelayedLabel.userKey(row.userID),
                    timeMs: row.timestampMs, isOrder: row.kind == .order,
                    category: row.category, vector: Array(row.values)))
            result.scored += 1
            if let fraud = row.truth.fraud {
                state.scheduled.append(
                    DelayedLabel(
                        eventKey: key, timeMs: row.timestampMs + delayMs,
                        verdict: fraud ? .fraud(type: row.truth.fraudType) : .legit))
            }
        }
        guard let learner = state.learner else {
            throw OnlineError.data("no event after the warm-up: nothing was scored")
        }
        deliver(upTo: .max, &state, fileLabels, learner)
        learner.flush()
        result.seconds = seconds(since: state.clock)
        result.refusedLines += reader.rejected.values.reduce(0, +)
        result.runs = learner.runs
        result.joinCounts = learner.join.counts
        result.windows = learner.windows
        result.finalVersion = learner.serving.version
        result.probabilities = collector.probabilities
        result.labels = collector.labels
        result.eventTimesMs = collector.times
        result.users = collector.users
        result.weeks = weeks(result, handbook: options.format == .handbook)
        return result
    }

    /// Applies the labels known by `timeMs`: scheduled handbook labels and file labels.
    private static func deliver(
        upTo timeMs: Int64, _ state: inout State, _ file: LabelFile?, _ learner: OnlineLearner
    ) {
        while state.scheduledHead < state.scheduled.count,
            state.scheduled[state.scheduledHead].timeMs <= timeMs
        {
            learner.submit(label: state.scheduled[state.scheduledHead])
            state.scheduledHead += 1
        }
        if state.scheduledHead > 65_536, state.scheduledHead * 2 > state.scheduled.count {
            state.scheduled.removeFirst(state.scheduledHead)
            state.scheduledHead = 0
        }
        guard let file else { return }
        while state.fileLabelHead < file.labels.count,
            file.labels[state.fileLabelHead].timeMs <= timeMs
        {
            let label = file.labels[state.fileLabelHead]
            state.fileLabelHead += 1
            if !state.warmUpKeys.contains(label.eventKey) { learner.submit(label: label) }
        }
    }

    /// The row for the warm-up's dataset, its truth from the file's label lines when the
    /// row carries none (events files).
    private static func exampleRow(_ row: borrowing FeatureRow, _ truth: [UInt64: Verdict])
        -> ExampleRow
    {
        var example = ExampleRow(
            eventID: row.eventID, userID: row.userID, timestampMs: row.timestampMs,
            isOrder: row.kind == .order, category: row.category, values: row.values,
            fraud: row.truth.fraud, fraudType: row.truth.fraudType, bot: row.truth.bot)
        guard !truth.isEmpty else { return example }
        switch truth[DelayedLabel.eventKey(row.eventID)] {
        case .fraud(let type)?:
            example.fraud = true
            example.fraudType = type
        case .legit?: example.fraud = false
        case .bot?: example.bot = true
        case .human?: example.bot = false
        default: break
        }
        return example
    }

    private static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }
}

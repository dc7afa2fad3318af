import OspreyCore

/// The online loop's settings, from `online.*` keys.
///
/// Every key, with its default in brackets:
///
/// - `online.window` [`10000`]: labels per head in the prequential window.
/// - `online.join.ttl` [`30d`]: how long a scored event waits for its label.
/// - `online.join.max_entries` [`500000`]: scored events kept at most; the oldest leave first.
/// - `online.buffer.recent` [`20000`]: the newest labelled examples in the replay buffer.
/// - `online.buffer.reservoir` [`20000`]: the uniform sample of older examples.
/// - `online.buffer.positives` [`5000`]: the newest positives kept per sigmoid head.
/// - `online.holdout` [`5000`]: labelled examples kept out of training per head, on which a
///   candidate and the serving model are compared head by head. The split is fixed by the
///   event id: a hash of it holds out one event in five (``holdoutShare``) whatever the order
///   labels arrive in, and each head keeps the newest `online.holdout` of its held-out
///   examples by event time; an older one leaves for the replay buffer (see ``Holdout``).
/// - `online.fine_tune.every` [`20000`]: labels between fine-tuning runs.
/// - `online.fine_tune.steps` [`200`], `online.fine_tune.batch_size` [`256`],
///   `online.fine_tune.learning_rate` [`0.0005`]: the bounded run.
/// - `online.target_head` [`fraud`]: the head that must not get worse.
/// - `online.tolerance.HEAD` [`0.005`]: the allowed drop of a head's primary metric.
/// - `online.batch` [`256`]: events scored together (a promotion takes effect between
///   batches).
/// - `online.purchase_horizon` [`1h`]: the self-label horizon of the `purchase` head.
///
/// Keys outside `online.` are ignored here; an unknown `online.` key is an error.
public struct OnlineSettings: Sendable, Equatable {
    public var window = 10_000
    public var joinTTLMs: Int64 = 30 * 86_400_000
    public var joinMaxEntries = 500_000
    public var recent = 20_000
    public var reservoir = 20_000
    public var positives = 5_000
    public var holdout = 5_000
    /// The share of events whose labels the split holds out (``Holdout/share``); fixed, as a
    /// change would move examples a serving model may have trained on into the hold-out.
    public var holdoutShare = 0.2
    public var fineTuneEvery = 20_000
    public var fineTune = FineTuneSettings()
    public var promotion = PromotionGuard()
    public var batch = 256
    public var purchaseHorizonMs: Int64 = 3_600_000
    /// Whether the loop fine-tunes at all (`--fine-tune off` keeps the first model).
    public var fineTuneEnabled = true
    public var seed: UInt64 = 1 {
        didSet { fineTune.seed = seed }
    }

    public init() {}

    /// Reads the `online.*` keys of `values`; `lines` gives each key's line for messages.
    ///
    /// - Throws: ``OnlineError/configuration(_:)`` naming the key (and line) of an unknown
    ///   `online.` key or a bad value.
    public init(_ values: [String: String], lines: [String: Int] = [:]) throws(OnlineError) {
        for key in values.keys.sorted() where key.hasPrefix("online.") {
            let text = values[key]!.trimmingWhitespace()
            func fail(_ what: String) -> OnlineError {
                let place = lines[key].map { " (line \($0))" } ?? ""
                return .configuration("\(key)\(place): \(what), not '\(text)'")
            }
            func count() throws(OnlineError) -> Int {
                guard let value = Int(text), value >= 1, value <= 100_000_000 else {
                    throw fail("expected a whole number from 1 to 100000000")
                }
                return value
            }
            func number() throws(OnlineError) -> Double {
                guard let value = Double(text), value.isFinite, value >= 0 else {
                    throw fail("expected a number of at least 0")
                }
                return value
            }
            func duration() throws(OnlineError) -> Int64 {
                guard let value = DurationText.parse(text), value > .zero else {
                    throw fail("expected a duration such as 1h or 7d")
                }
                return value.totalMilliseconds
            }
            switch key {
            case "online.window": window = try count()
            case "online.join.ttl": joinTTLMs = try duration()
            case "online.join.max_entries": joinMaxEntries = try count()
            case "online.buffer.recent": recent = try count()
            case "online.buffer.reservoir": reservoir = try count()
            case "online.buffer.positives": positives = try count()
            case "online.holdout": holdout = try count()
            case "online.fine_tune.every": fineTuneEvery = try count()
            case "online.fine_tune.steps": fineTune.steps = try count()
            case "online.fine_tune.batch_size": fineTune.batchSize = try count()
            case "online.fine_tune.learning_rate": fineTune.learningRate = try number()
            case "online.target_head": promotion.targetHead = text
            case "online.batch": batch = try count()
            case "online.purchase_horizon": purchaseHorizonMs = try duration()
            default:
                let prefix = "online.tolerance."
                guard key.hasPrefix(prefix), key.count > prefix.count else {
                    throw .configuration(
                        "\(key)\(lines[key].map { " (line \($0))" } ?? ""): unknown key")
                }
                promotion.tolerances[String(key.dropFirst(prefix.count))] = try number()
            }
        }
    }
}

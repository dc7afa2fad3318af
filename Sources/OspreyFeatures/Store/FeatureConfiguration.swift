import OspreyCore

/// How the feature store windows, delays and forgets, with the defaults a daemon starts from.
///
/// Thread: any; a value type.
public struct FeatureConfiguration: Sendable, Equatable {
    /// Sliding windows over the user's and the merchant's events (1 min, 10 min, 1 h, 1 day,
    /// 7 days, 30 days by default).
    public var windows: [Duration]
    /// Windows over each device's and IP's events (1 h, 1 day, 7 days by default).
    public var networkWindows: [Duration]
    /// Lengths of the merchant fraud-rate windows, which end ``riskDelay`` before the event
    /// (1, 7 and 30 days by default).
    public var riskWindows: [Duration]
    /// How long before the event the fraud-rate windows end (7 days by default), so that they
    /// cover only transactions whose labels have had time to arrive.
    public var riskDelay: Duration
    /// How far behind the stream's newest time an event may be and still be placed exactly
    /// (1 hour by default). Later events are counted and treated as if they happened at that
    /// bound.
    public var allowedLateness: Duration
    /// How far ahead of the stream's newest time and of the wall clock an event may be (1 day
    /// by default); further ones are refused with `future_timestamp`.
    public var futureTolerance: Duration
    /// Entities without an event for this long are forgotten (45 days by default). It must be
    /// at least the longest window (with the delay) plus the lateness.
    public var idleEviction: Duration
    /// How long an order stays matchable by a later label (30 days by default).
    public var labelHorizon: Duration
    /// For the handbook format: how long after a transaction its label becomes known (7 days).
    public var labelDelay: Duration
    /// Adds the handbook's 15 baseline features (`TX_AMOUNT`, ...) to the vector. The reader
    /// sets it for the handbook format; it needs 1, 7 and 30 days among both ``windows`` and
    /// ``riskWindows``.
    public var bookFeatures: Bool
    /// The largest message the decoder accepts, in bytes.
    public var maxMessageBytes: Int

    public init(
        windows: [Duration] = [
            .seconds(60), .seconds(600), .seconds(3600), .days(1), .days(7),
            .days(30),
        ],
        networkWindows: [Duration] = [.seconds(3600), .days(1), .days(7)],
        riskWindows: [Duration] = [.days(1), .days(7), .days(30)],
        riskDelay: Duration = .days(7),
        allowedLateness: Duration = .seconds(3600),
        futureTolerance: Duration = .days(1),
        idleEviction: Duration = .days(45),
        labelHorizon: Duration = .days(30),
        labelDelay: Duration = .days(7),
        bookFeatures: Bool = false,
        maxMessageBytes: Int = 65_536
    ) {
        self.windows = windows
        self.networkWindows = networkWindows
        self.riskWindows = riskWindows
        self.riskDelay = riskDelay
        self.allowedLateness = allowedLateness
        self.futureTolerance = futureTolerance
        self.idleEviction = idleEviction
        self.labelHorizon = labelHorizon
        self.labelDelay = labelDelay
        self.bookFeatures = bookFeatures
        self.maxMessageBytes = maxMessageBytes
    }

    /// The longest time any entity keeps its events: windows, the delayed risk windows, and
    /// the lateness on top.
    var retentionMs: Int64 {
        let longest = (windows + networkWindows).map(\.totalMilliseconds).max() ?? 0
        let risk = (riskWindows.map(\.totalMilliseconds).max() ?? 0) + riskDelay.totalMilliseconds
        return max(longest, risk) + allowedLateness.totalMilliseconds
    }

    /// Checks the values against each other.
    ///
    /// - Throws: ``FeatureConfigurationError`` naming the first problem.
    public func validate() throws(FeatureConfigurationError) {
        for (name, list) in [
            ("windows", windows), ("network windows", networkWindows),
            ("risk windows", riskWindows),
        ] {
            guard !list.isEmpty, list.count <= 16 else {
                throw FeatureConfigurationError("\(name) must number 1 to 16")
            }
            guard list.allSatisfy({ $0.totalMilliseconds > 0 }) else {
                throw FeatureConfigurationError("\(name) must be longer than zero")
            }
            guard Set(list.map(\.totalMilliseconds)).count == list.count else {
                throw FeatureConfigurationError("\(name) must not repeat a length")
            }
        }
        guard idleEviction.totalMilliseconds >= retentionMs else {
            throw FeatureConfigurationError(
                "idle eviction must be at least the longest window plus delay and lateness ("
                    + DurationText.format(.milliseconds(retentionMs)) + ")")
        }
        guard labelHorizon <= idleEviction else {
            throw FeatureConfigurationError("the label horizon must not exceed idle eviction")
        }
        guard maxMessageBytes >= 64 else {
            throw FeatureConfigurationError("the message limit must be at least 64 bytes")
        }
        if bookFeatures {
            let days = [Duration.days(1), .days(7), .days(30)]
            guard days.allSatisfy(windows.contains), days.allSatisfy(riskWindows.contains) else {
                throw FeatureConfigurationError(
                    "the handbook features need windows and risk windows of 1d, 7d and 30d")
            }
        }
    }
}

/// A feature configuration whose values contradict each other.
public struct FeatureConfigurationError: Error, Sendable, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "invalid feature configuration: " + message }
}

extension Duration {
    /// `days` whole days.
    public static func days(_ days: Int) -> Duration { .seconds(Int64(days) * 86_400) }
}

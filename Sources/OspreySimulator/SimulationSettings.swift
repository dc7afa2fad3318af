/// What ``TrafficSimulator`` produces: how many users, how fast, for how long, and when the
/// fraud patterns change.
public struct SimulationSettings: Sendable, Equatable {
    /// The number of regular users (fraudsters and bots come on top).
    public var users: Int = 10_000
    /// About this many events per second of event time, on average over a day (the daily
    /// rhythm makes evenings busier than nights).
    public var rate: Double = 500
    /// How much event time to simulate.
    public var duration: Duration = .seconds(3600)
    public var seed: UInt64 = 1
    /// Event time of the first event, in milliseconds since the epoch (default
    /// 2026-01-05T00:00:00Z, a Monday).
    public var startMs: Int64 = 1_767_571_200_000
    /// When set, the fraud patterns change this long after the start.
    public var driftAfter: Duration?
    /// How long after an event its label is published.
    public var labelDelay: Duration = .seconds(3600)
    /// The share of clicks that get a `bot` or `human` label (every order gets a label).
    public var clickLabelShare: Double = 0.2
    /// The share of sessions that follow each pattern; the rest are regular shoppers.
    public var mix = PatternMix()

    public init() {}

    /// The end of the simulated time, in milliseconds since the epoch.
    public var endMs: Int64 { startMs + duration.totalMilliseconds }

    /// The moment of drift in milliseconds since the epoch, or nil.
    public var driftMs: Int64? { driftAfter.map { startMs + $0.totalMilliseconds } }
}

/// The shares of sessions that follow each labelled pattern.
public struct PatternMix: Sendable, Equatable {
    public var accountTakeover = 0.001
    public var cardTesting = 0.0003
    public var bot = 0.006
    public var promotionAbuse = 0.0003

    public init() {}
}

/// The patterns a session can follow; every one but `regular` carries a label.
public enum SessionPattern: String, Sendable, CaseIterable {
    case regular
    /// A stolen account: a new device in another country, then a burst of high-value orders.
    case accountTakeover = "account_takeover"
    /// Stolen cards tried with many small orders in quick succession from one new account.
    case cardTesting = "card_testing"
    /// Automated browsing: click bursts with inhumanly regular timing.
    case bot
    /// Many new accounts from one device, each redeeming a promotion once.
    case promotionAbuse = "promotion_abuse"

    /// The fraud type written in labels, or nil for patterns that are not fraud.
    public var fraudType: String? {
        switch self {
        case .regular, .bot: return nil
        default: return rawValue
        }
    }
}

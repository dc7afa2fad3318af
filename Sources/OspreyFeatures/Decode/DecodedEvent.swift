/// What an event is, after decoding.
public enum DecodedKind: UInt8, Sendable {
    case click, order, label
}

/// One event as the feature store consumes it: times, amounts and interned identities, with
/// no strings.
///
/// Thread: any; a value type.
public struct DecodedEvent: Sendable {
    public var kind: DecodedKind
    /// Event time in epoch milliseconds (for a label: when the truth became known).
    public var timestampMs: Int64
    /// The amount in hundredths (orders; 0 for clicks and labels).
    ///
    /// - Important: Amounts are kept to the cent: finer fractions are rounded, which is exact
    ///   for currencies with two decimals and for the handbook data.
    public var amountCents: Int32
    /// `event_id` (or `order_id`); for a label, the event it judges.
    public var eventHash: UInt64
    public var user: EntityKey
    public var merchant: EntityKey?
    public var device: EntityKey?
    public var ip: EntityKey?
    /// Hashes of `country` and `category`, 0 when absent.
    public var countryHash: UInt64
    public var categoryHash: UInt64
    /// For labels: whether the judged event was fraud (or, for a behaviour label, a bot).
    public var labelFraud: Bool
    /// For labels: true for `bot`/`human`, which judge a click's session rather than an
    /// order; the feature store leaves them to the bot head.
    public var judgesBehaviour = false

    public init(
        kind: DecodedKind, timestampMs: Int64, amountCents: Int32 = 0, eventHash: UInt64,
        user: EntityKey, merchant: EntityKey? = nil, device: EntityKey? = nil,
        ip: EntityKey? = nil, countryHash: UInt64 = 0, categoryHash: UInt64 = 0,
        labelFraud: Bool = false
    ) {
        self.kind = kind
        self.timestampMs = timestampMs
        self.amountCents = amountCents
        self.eventHash = eventHash
        self.user = user
        self.merchant = merchant
        self.device = device
        self.ip = ip
        self.countryHash = countryHash
        self.categoryHash = categoryHash
        self.labelFraud = labelFraud
    }

    /// The largest amount an event may carry, in either sign.
    public static let amountLimit = Double(Int32.max) / 100

    /// The seed that turns event ids into ``eventHash`` values.
    public static let eventSeed: UInt64 = 0x2d35_8dcc_aa6c_78a5
    /// The seed for countries and categories.
    public static let valueSeed: UInt64 = 0x4f1b_bcdc_bfa5_3e0a
}

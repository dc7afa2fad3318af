/// Decides which heads fire for a scored event: each head that judges events of its type and
/// whose probability is above its threshold, subject to an optional budget of alerts per hour
/// of event time.
///
/// A head judges only the events its label is about (``judges(head:eventType:)``): `fraud`
/// orders, `bot` and `purchase` clicks. Every head is still scored and reported for every
/// event; a click's fraud score simply never fires.
///
/// The budget counts alerts in fixed hours of event time (00:00-01:00, ...), so a replay of
/// the same events spends it the same way. Once an hour's budget is spent, further alerts in
/// that hour are suppressed and counted, not sent.
///
/// - Important: The budget's count lives in memory. After a restart within an hour the count
///   starts again from zero, so that hour may carry up to twice its budget.
///
/// Thread: owned by the pipeline thread.
public struct AlertPolicy: Sendable {
    /// Head name to threshold; heads not listed never fire.
    public private(set) var thresholds: [String: Double]
    /// Alerts allowed per hour of event time; 0 means no budget.
    public let budgetPerHour: Int
    private var currentHour: Int64 = .min
    private var spentThisHour = 0
    /// Alerts that fired but were held back by the budget, since the start.
    public private(set) var suppressed = 0

    public init(thresholds: [String: Double], budgetPerHour: Int) {
        self.thresholds = thresholds
        self.budgetPerHour = budgetPerHour
    }

    /// Replaces the thresholds (SIGHUP).
    public mutating func reload(thresholds: [String: Double]) {
        self.thresholds = thresholds
    }

    /// Whether `head` judges events of `eventType` (`click` or `order`): the fraud head is
    /// trained on orders' labels, the bot and purchase heads on clicks', so only those may fire
    /// it. A head Osprey does not know judges both.
    public static func judges(head: String, eventType: String) -> Bool {
        switch head {
        case "fraud", "fraud_type": eventType == "order"
        case "bot", "purchase", "interest": eventType == "click"
        default: true
        }
    }

    /// The heads that fire for these probabilities, in `probabilities`' order; empty when none
    /// judging `eventType` passes its threshold, or the hour's budget is spent.
    ///
    /// - Parameters:
    ///   - eventType: `click` or `order`; see ``judges(head:eventType:)``.
    ///   - eventTimeMs: the event's time, which picks the budget's hour.
    public mutating func decide(
        probabilities: [(head: String, probability: Double)], eventType: String,
        eventTimeMs: Int64
    ) -> [FiredHead] {
        var fired: [FiredHead] = []
        for (head, probability) in probabilities {
            guard let threshold = thresholds[head], probability > threshold,
                Self.judges(head: head, eventType: eventType)
            else { continue }
            fired.append(FiredHead(head: head, score: probability, threshold: threshold))
        }
        guard !fired.isEmpty, budgetPerHour > 0 else { return fired }
        let hour = eventTimeMs >= 0 ? eventTimeMs / 3_600_000 : (eventTimeMs + 1) / 3_600_000 - 1
        if hour != currentHour {
            currentHour = hour
            spentThisHour = 0
        }
        guard spentThisHour < budgetPerHour else {
            suppressed += 1
            return []
        }
        spentThisHour += 1
        return fired
    }
}

/// One event with its feature vector and whatever truth the source carries, as the dataset
/// builder receives it (the feature reader's rows map onto this one to one).
public struct ExampleRow {
    public var eventID: String
    public var userID: String
    public var timestampMs: Int64
    public var isOrder: Bool
    public var category: String?
    /// `[schema.count]`, valid during the call only.
    public var values: UnsafeBufferPointer<Float>
    public var fraud: Bool?
    public var fraudType: String?
    public var bot: Bool?

    public init(
        eventID: String, userID: String, timestampMs: Int64, isOrder: Bool, category: String?,
        values: UnsafeBufferPointer<Float>, fraud: Bool?, fraudType: String?, bot: Bool?
    ) {
        self.eventID = eventID
        self.userID = userID
        self.timestampMs = timestampMs
        self.isOrder = isOrder
        self.category = category
        self.values = values
        self.fraud = fraud
        self.fraudType = fraudType
        self.bot = bot
    }
}

/// A period of whole UTC days, `from` and `to` inclusive, as `--from` and `--to` give it.
public struct DayRange: Sendable, Equatable {
    /// Days since 1970-01-01.
    public let first: Int64
    public let last: Int64

    public init(first: Int64, last: Int64) {
        self.first = first
        self.last = last
    }

    public static let dayMs: Int64 = 86_400_000

    public var startMs: Int64 { first * Self.dayMs }
    public var endMs: Int64 { (last + 1) * Self.dayMs }

    public func contains(ms: Int64) -> Bool { ms >= startMs && ms < endMs }

    /// Parses `YYYY-MM-DD` into days since the epoch, or nil.
    public static func day(_ text: String) -> Int64? {
        let parts = text.split(separator: "-")
        guard parts.count == 3, let year = Int64(parts[0]), let month = Int64(parts[1]),
            let day = Int64(parts[2]), parts[0].count == 4, (1...12).contains(month),
            (1...31).contains(day)
        else { return nil }
        // Days from civil (Howard Hinnant's algorithm).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let monthIndex = (month + 9) % 12
        let dayOfYear = (153 * monthIndex + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        // Reject dates such as 2018-02-31 by checking the round trip.
        guard format(days) == text else { return nil }
        return days
    }

    /// Formats days since the epoch as `YYYY-MM-DD`.
    public static func format(_ days: Int64) -> String {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }
}

/// The label vocabularies of the softmax heads, fixed when a model is trained and reused
/// when it is evaluated.
public struct LabelVocabulary: Sendable, Equatable {
    /// `fraud_type` classes: `none` (a genuine order) first, then the fraud types.
    public var fraudTypes: [String]
    /// `interest` classes: the most frequent categories, then `other`.
    public var interests: [String]

    public init(fraudTypes: [String], interests: [String]) {
        self.fraudTypes = fraudTypes
        self.interests = interests
    }

    /// The handbook's three scenarios, in the simulator's order.
    public static let handbookFraudTypes = [
        "none", "high_amount", "compromised_terminal", "compromised_card",
    ]
}

/// Collects feature rows from a time-ordered stream into a ``Dataset`` for a period, and
/// derives the labels the stream itself implies:
///
/// - `fraud` and `bot` from the row's truth; `fraud_type` is `none` for a genuine order and
///   the fraud's type for a fraud (a fraud without a type carries no `fraud_type` label);
/// - `purchase` (clicks only): 1 when the same user orders within the horizon after the
///   click, 0 when they do not, no label when the data ends before the horizon does;
/// - `interest` (clicks only): the category of the user's next click that has one (no label
///   when there is none in the data); categories outside the vocabulary are `other`.
///
/// Rows are kept for the period; rows after it (up to the horizon) are read only to label
/// the period's last clicks. With a `knownSince` day the builder also records each user's
/// fraud days from then on, for the handbook's exclusion of cards already known compromised.
///
/// Thread: one builder on one thread.
public struct DatasetBuilder {
    public let range: DayRange
    public let width: Int
    public let purchaseHorizonMs: Int64
    public let knownSince: Int64?

    private var dataset: Dataset
    private var isClick: [Bool] = []
    private var categories: [String?] = []
    private var fraudTypes: [String?] = []
    private var frauds: [Int32] = []
    private var bots: [Int32] = []
    /// Times of orders per user (period and lookahead).
    private var orderTimes: [String: [Int64]] = [:]
    /// Clicks per user with a category, in time order: (time, category).
    private var clickCategories: [String: [(Int64, String)]] = [:]
    private var lastTimestamp: Int64 = .min
    /// Days on which each user had a fraud, from `knownSince` on.
    public private(set) var fraudDays: [String: [Int64]] = [:]

    public init(range: DayRange, width: Int, purchaseHorizonMs: Int64, knownSince: Int64? = nil) {
        self.range = range
        self.width = width
        self.purchaseHorizonMs = purchaseHorizonMs
        self.knownSince = knownSince
        dataset = Dataset(width: width, heads: [])
    }

    /// Whether rows at or after `timestampMs` can no longer matter (the reader may stop).
    public func isDone(after timestampMs: Int64) -> Bool {
        timestampMs >= range.endMs + purchaseHorizonMs
    }

    /// Takes one row (rows must come in time order).
    public mutating func add(_ row: ExampleRow) {
        let time = row.timestampMs
        lastTimestamp = max(lastTimestamp, time)
        let day = Self.day(ms: time)
        if let knownSince, row.fraud == true, day >= knownSince, time < range.endMs {
            fraudDays[row.userID, default: []].append(day)
        }
        if time >= range.startMs, time < range.endMs + purchaseHorizonMs {
            if row.isOrder {
                orderTimes[row.userID, default: []].append(time)
            } else if let category = row.category {
                clickCategories[row.userID, default: []].append((time, category))
            }
        }
        guard range.contains(ms: time) else { return }
        dataset.features.append(contentsOf: row.values)
        dataset.eventIDs.append(row.eventID)
        dataset.userIDs.append(row.userID)
        dataset.timestampsMs.append(time)
        isClick.append(!row.isOrder)
        categories.append(row.category)
        frauds.append(row.fraud.map { $0 ? 1 : 0 } ?? -1)
        fraudTypes.append(row.fraud == true ? row.fraudType : (row.fraud == false ? "none" : nil))
        bots.append(row.bot.map { $0 ? 1 : 0 } ?? -1)
    }

    public static func day(ms: Int64) -> Int64 {
        ms >= 0 ? ms / DayRange.dayMs : (ms - DayRange.dayMs + 1) / DayRange.dayMs
    }

    public var count: Int { dataset.count }

    /// The fraud types and categories present, most frequent first, for building a
    /// vocabulary from training data.
    public func vocabulary(interestClasses: Int) -> LabelVocabulary {
        var typeCounts: [String: Int] = [:]
        for type in fraudTypes.compactMap({ $0 }) where type != "none" {
            typeCounts[type, default: 0] += 1
        }
        var types = LabelVocabulary.handbookFraudTypes
        for type in typeCounts.keys.sorted() where !types.contains(type) { types.append(type) }
        var categoryCounts: [String: Int] = [:]
        for case let category? in categories { categoryCounts[category, default: 0] += 1 }
        let top = categoryCounts.sorted {
            $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key)
        }
        .prefix(interestClasses).map(\.key)
        return LabelVocabulary(fraudTypes: types, interests: top + ["other"])
    }

    /// The dataset with labels for `heads`, using `vocabulary` for the softmax heads.
    public func finish(heads: [KnownHead], vocabulary: LabelVocabulary) -> Dataset {
        var result = dataset
        result.labels = [:]
        result.categories = categories
        for head in heads {
            switch head {
            case .fraud: result.labels[head.rawValue] = frauds
            case .bot: result.labels[head.rawValue] = bots
            case .fraudType:
                let index = Dictionary(
                    uniqueKeysWithValues: vocabulary.fraudTypes.enumerated().map { ($1, Int32($0)) }
                )
                result.labels[head.rawValue] = fraudTypes.map { type in
                    type.flatMap { index[$0] } ?? -1
                }
            case .purchase: result.labels[head.rawValue] = purchaseLabels()
            case .interest: result.labels[head.rawValue] = interestLabels(vocabulary.interests)
            }
        }
        return result
    }

    private func purchaseLabels() -> [Int32] {
        (0..<dataset.count).map { row in
            guard isClick[row] else { return -1 }
            let time = dataset.timestampsMs[row]
            let orders = orderTimes[dataset.userIDs[row]] ?? []
            // The first order strictly after the click.
            let next = Self.firstIndex(in: orders, after: time)
            if next < orders.count, orders[next] <= time + purchaseHorizonMs { return 1 }
            return time + purchaseHorizonMs <= lastTimestamp ? 0 : -1
        }
    }

    private func interestLabels(_ classes: [String]) -> [Int32] {
        let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, Int32($0)) })
        let other = Int32(classes.count - 1)
        return (0..<dataset.count).map { row in
            guard isClick[row] else { return -1 }
            let clicks = clickCategories[dataset.userIDs[row]] ?? []
            let time = dataset.timestampsMs[row]
            // The next click strictly after this one (same-millisecond clicks are ambiguous).
            var low = 0
            var high = clicks.count
            while low < high {
                let middle = (low + high) / 2
                if clicks[middle].0 <= time { low = middle + 1 } else { high = middle }
            }
            guard low < clicks.count else { return -1 }
            return index[clicks[low].1] ?? other
        }
    }

    private static func firstIndex(in times: [Int64], after time: Int64) -> Int {
        var low = 0
        var high = times.count
        while low < high {
            let middle = (low + high) / 2
            if times[middle] <= time { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// The rows to keep for the handbook's test protocol: drop a row when its user had a
    /// fraud from `knownSince` up to `delayDays + 1` days before the row's day (that fraud's
    /// label would have arrived by then). Rows are kept when `knownSince` is nil.
    public func rowsWithoutKnownFrauds(delayDays: Int64) -> [Int] {
        guard knownSince != nil else { return Array(0..<dataset.count) }
        return (0..<dataset.count).filter { row in
            let day = Self.day(ms: dataset.timestampsMs[row])
            guard let days = fraudDays[dataset.userIDs[row]] else { return true }
            return !days.contains { $0 <= day - delayDays - 1 }
        }
    }
}

import OspreyModel
import Testing

@Suite struct DatasetBuilderTests {
    static let minute: Int64 = 60_000
    static let day = DayRange(first: 0, last: 0)

    struct Event {
        var user: String
        var minute: Int64
        var order = false
        var category: String? = nil
        var fraud: Bool? = nil
        var type: String? = nil
    }

    static func build(_ events: [Event], horizonMinutes: Int64 = 30, knownSince: Int64? = nil)
        -> DatasetBuilder
    {
        var builder = DatasetBuilder(
            range: DayRange(first: 0, last: 1), width: 1,
            purchaseHorizonMs: horizonMinutes * minute,
            knownSince: knownSince)
        let value: [Float] = [1]
        value.withUnsafeBufferPointer { values in
            for (index, event) in events.enumerated() {
                builder.add(
                    ExampleRow(
                        eventID: "e\(index)", userID: event.user,
                        timestampMs: event.minute * minute,
                        isOrder: event.order, category: event.category, values: values,
                        fraud: event.fraud, fraudType: event.type, bot: nil))
            }
        }
        return builder
    }

    @Test func purchaseLabelLooksAheadPerUser() {
        let builder = Self.build([
            Event(user: "a", minute: 0, category: "1"),  // a orders at 20: 1
            Event(user: "b", minute: 1, category: "2"),  // b orders at 40: beyond 30 min: 0
            Event(user: "a", minute: 20, order: true),
            Event(user: "a", minute: 25, category: "1"),  // no order after: 0
            Event(user: "b", minute: 41, order: true),
            Event(user: "c", minute: 100, category: "3"),  // the data ends before 130: none
        ])
        let data = builder.finish(
            heads: [.purchase], vocabulary: LabelVocabulary(fraudTypes: [], interests: ["other"]))
        #expect(data.labels["purchase"] == [1, 0, -1, 0, -1, -1])
    }

    @Test func interestIsTheNextClicksCategory() {
        let builder = Self.build([
            Event(user: "a", minute: 0, category: "1"),
            Event(user: "b", minute: 1, category: "9"),
            Event(user: "a", minute: 2, category: "2"),
            Event(user: "a", minute: 3, order: true),
            Event(user: "b", minute: 4, category: "7"),
            Event(user: "a", minute: 5, category: "1"),
        ])
        let vocabulary = builder.vocabulary(interestClasses: 2)
        // "1" twice, then "2", "7" and "9" once each (ties by name): keep "1" and "2".
        #expect(vocabulary.interests == ["1", "2", "other"])
        let data = builder.finish(heads: [.interest], vocabulary: vocabulary)
        // a:0 -> "2" (1); b:1 -> "7" (other = 2); a:2 -> "1" (0); order; b:4 none; a:5 none.
        #expect(data.labels["interest"] == [1, 2, 0, -1, -1, -1])
    }

    @Test func fraudTypeIsNoneForGenuineOrders() {
        let builder = Self.build([
            Event(user: "a", minute: 0, order: true, fraud: false),
            Event(user: "a", minute: 1, order: true, fraud: true, type: "compromised_card"),
            Event(user: "a", minute: 2, order: true, fraud: true),
            Event(user: "a", minute: 3, order: true),
        ])
        let vocabulary = builder.vocabulary(interestClasses: 5)
        let data = builder.finish(heads: [.fraud, .fraudType], vocabulary: vocabulary)
        #expect(data.labels["fraud"] == [0, 1, 1, -1])
        #expect(data.labels["fraud_type"] == [0, 3, -1, -1])
    }

    @Test func knownFraudsAreLeftOutAfterTheDelay() {
        // Day 0: user a has a fraud. With a one-day delay, a's rows of day 2 on are left out
        // (the fraud is known by then); day 1 is kept.
        var builder = DatasetBuilder(
            range: DayRange(first: 0, last: 3), width: 1, purchaseHorizonMs: 0, knownSince: 0)
        let day = DayRange.dayMs
        let value: [Float] = [0]
        value.withUnsafeBufferPointer { values in
            for (index, (user, time, fraud)) in [
                ("a", 0, true), ("b", day, false), ("a", day + 5, false), ("a", 2 * day, false),
                ("b", 3 * day, true), ("a", 3 * day + 1, false),
            ].enumerated() {
                builder.add(
                    ExampleRow(
                        eventID: "\(index)", userID: user, timestampMs: time, isOrder: true,
                        category: nil, values: values, fraud: fraud, fraudType: nil, bot: nil))
            }
        }
        #expect(builder.rowsWithoutKnownFrauds(delayDays: 1) == [0, 1, 2, 4])
    }

    @Test func datesParseAndFormat() {
        #expect(DayRange.day("1970-01-01") == 0)
        #expect(DayRange.day("2018-07-25") == 17737)
        #expect(DayRange.format(17737) == "2018-07-25")
        #expect(DayRange.day("2018-02-31") == nil)
        #expect(DayRange.day("2018-7-25") == nil)
        #expect(DayRange.day("tomorrow") == nil)
    }
}

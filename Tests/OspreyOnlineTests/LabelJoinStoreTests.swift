import OspreyOnline
import Testing

/// The join store's bounds, counts and saved form.
@Suite struct LabelJoinStoreTests {
    static func entry(_ key: UInt64, at time: Int64) -> LabelJoinStore.Entry {
        LabelJoinStore.Entry(
            eventKey: key, userKey: key % 2, timeMs: time, category: key == 2 ? "shoes" : nil,
            vector: [Float(key), 1], outputs: [0.5])
    }

    @Test func sizeAndTTLBoundsAndEveryKindOfLabelIsCounted() {
        var store = LabelJoinStore(vectorWidth: 2, outputWidth: 1, maxEntries: 3, ttlMs: 1000)
        for key in 1...4 { store.keep(Self.entry(UInt64(key), at: Int64(key) * 100)) }
        #expect(store.count == 3)
        #expect(store.counts.evicted == 1)
        #expect(store.join(1, heads: 1) == .late)
        #expect(store.join(99, heads: 1) == .unmatched)
        guard case .joined(let entry) = store.join(2, heads: 1) else {
            Issue.record("event 2 did not join")
            return
        }
        #expect(entry.vector == [2, 1] && entry.category == "shoes")
        #expect(store.join(2, heads: 1) == .duplicate)
        // Another head of the same event is not a duplicate.
        if case .joined = store.join(2, heads: 2) {} else { Issue.record("head 2 refused") }

        store.expire(now: 1350)  // cutoff 350: events 2 and 3 leave, 4 stays
        #expect(store.count == 1 && store.counts.expired == 2)
        #expect(store.join(3, heads: 1) == .late)
        let counts = store.counts
        #expect(counts.kept == 4 && counts.joined == 2 && counts.late == 2)
        #expect(counts.unmatched == 1 && counts.duplicate == 1)
    }

    @Test func savedBytesRestoreAnEqualStore() throws {
        var store = LabelJoinStore(vectorWidth: 2, outputWidth: 1, maxEntries: 2, ttlMs: 1000)
        for key in 1...3 { store.keep(Self.entry(UInt64(key), at: Int64(key))) }
        _ = store.join(2, heads: 1)
        var restored = try LabelJoinStore(bytes: store.serialised())
        #expect(restored.serialised() == store.serialised())
        #expect(restored.counts == store.counts)
        #expect(restored.entry(3) == store.entry(3))
        #expect(restored.join(2, heads: 1) == .duplicate)
        #expect(restored.join(1, heads: 1) == .late)

        let bytes = store.serialised()
        #expect(throws: OnlineError.self) { try LabelJoinStore(bytes: Array(bytes.dropLast(3))) }
        #expect(throws: OnlineError.self) { try LabelJoinStore(bytes: [0, 1, 2]) }
    }

    @Test func selfLabelsResolvePurchaseAndInterest() {
        var labeller = SelfLabeller(horizonMs: 1000, purchase: true, interest: true)
        #expect(
            labeller.observe(eventKey: 1, userKey: 7, timeMs: 0, isOrder: false, category: "a")
                .isEmpty)
        let second = labeller.observe(
            eventKey: 2, userKey: 7, timeMs: 10, isOrder: false, category: "b")
        #expect(second == [DelayedLabel(eventKey: 1, timeMs: 10, verdict: .nextCategory("b"))])
        let order = labeller.observe(
            eventKey: 3, userKey: 7, timeMs: 500, isOrder: true, category: nil)
        #expect(order.filter { $0.verdict == .purchased(true) }.map(\.eventKey) == [1, 2])
        _ = labeller.observe(eventKey: 4, userKey: 8, timeMs: 600, isOrder: false, category: nil)
        #expect(labeller.advance(to: 1600).isEmpty)  // 600 + 1000 is not yet past
        #expect(
            labeller.advance(to: 1601)
                == [DelayedLabel(eventKey: 4, timeMs: 1600, verdict: .purchased(false))])
    }
}

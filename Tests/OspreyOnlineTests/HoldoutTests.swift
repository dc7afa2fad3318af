import OspreyModel
import OspreyOnline
import Testing

/// The hold-out's split and bounds: per head, fixed by the event id, whatever the arrival order.
@Suite struct HoldoutTests {
    /// Heads 0 (`fraud`) and 1 (`purchase`): `count` examples, one head labelled each, the
    /// fraud labels one in `fraudEvery`, at one second apart.
    static func stream(_ count: Int, fraudEvery: Int) -> [TrainingExample] {
        (0..<count).map { index in
            let fraud = index % fraudEvery == 0
            return TrainingExample(
                vector: [Float(index)], category: nil,
                labels: fraud ? [Int32(index % 3 == 0 ? 1 : 0), -1] : [-1, Int32(index % 2)],
                timeMs: Int64(index) * 1000, userKey: UInt64(index % 7),
                eventKey: UInt64(index) &* 0x9E37_79B9 &+ 11)
        }
    }

    /// Feeds `examples` to a fresh hold-out; returns it and what went to training.
    static func fill(_ examples: [TrainingExample], capacity: Int) -> (Holdout, [TrainingExample]) {
        var holdout = Holdout(heads: 2, capacity: capacity, share: 0.2)
        var training: [TrainingExample] = []
        for example in examples { training += holdout.add(example) }
        return (holdout, training)
    }

    static func keys(_ examples: [TrainingExample]) -> [UInt64] {
        examples.map(\.eventKey).sorted()
    }

    @Test func theSplitDependsOnTheEventsNotOnTheirArrivalOrder() {
        let examples = Self.stream(6000, fraudEvery: 10)
        let (inOrder, trainedInOrder) = Self.fill(examples, capacity: 150)
        // Four partitions, read in turn with uneven batches: another arrival order, but
        // each partition's own order kept, as the daemon reads them.
        var partitions = (0..<4).map { part in examples.filter { $0.userKey % 4 == UInt64(part) } }
        var interleaved: [TrainingExample] = []
        var turn = 0
        while partitions.contains(where: { !$0.isEmpty }) {
            let part = turn % 4
            let take = min(partitions[part].count, 1 + (turn * 7) % 13)
            interleaved += partitions[part].prefix(take)
            partitions[part].removeFirst(take)
            turn += 1
        }
        #expect(interleaved.map(\.eventKey) != examples.map(\.eventKey))
        let (shuffled, trainedShuffled) = Self.fill(interleaved, capacity: 150)

        for head in 0..<2 {
            #expect(shuffled.examples(head: head) == inOrder.examples(head: head))
        }
        #expect(Self.keys(trainedShuffled) == Self.keys(trainedInOrder))
        // Nothing is lost or doubled: every example is held out or trained on, once per head.
        #expect(inOrder.count + trainedInOrder.count == examples.count)
        #expect(Set(Self.keys(inOrder.allExamples)).isDisjoint(with: Self.keys(trainedInOrder)))
    }

    @Test func eachHeadKeepsItsNewestHeldOutExamplesWhateverTheOtherHeadsLabel() {
        // 600 fraud labels among 6000: with one hold-out for all heads they would be a tenth.
        let examples = Self.stream(6000, fraudEvery: 10)
        let (holdout, _) = Self.fill(examples, capacity: 100)
        let fraud = holdout.examples(head: 0)
        let purchase = holdout.examples(head: 1)
        #expect(fraud.count == 100 && purchase.count == 100)
        #expect(fraud.allSatisfy { $0.labels[0] >= 0 && $0.labels[1] == -1 })
        #expect(purchase.allSatisfy { $0.labels[1] >= 0 && $0.labels[0] == -1 })
        // The newest of the held-out events, oldest first.
        let heldFraud = examples.filter {
            $0.labels[0] >= 0 && holdout.holdsOut(eventKey: $0.eventKey)
        }
        #expect(fraud.map(\.eventKey) == heldFraud.suffix(100).map(\.eventKey))
        #expect(fraud.map(\.timeMs) == fraud.map(\.timeMs).sorted())
        // The data set labels each row for its own head only.
        let data = holdout.dataset(
            heads: [
                HeadSpec(name: "fraud", kind: .sigmoid), HeadSpec(name: "purchase", kind: .sigmoid),
            ],
            width: 1)
        #expect(data.count == 200)
        #expect(data.labels["fraud"]?.filter { $0 >= 0 }.count == 100)
        #expect(data.labels["purchase"]?.filter { $0 >= 0 }.count == 100)
    }

    @Test func aboutTheShareOfEventsIsHeldOutAndAnExampleOfTwoHeadsIsHeldByBoth() {
        let holdout = Holdout(heads: 2, capacity: 10, share: 0.2)
        let held = (0..<20_000).filter { holdout.holdsOut(eventKey: UInt64($0)) }.count
        #expect(abs(Double(held) / 20_000 - 0.2) < 0.01)
        #expect(Holdout(heads: 1, capacity: 1, share: 1).holdsOut(eventKey: 42))
        #expect(!Holdout(heads: 1, capacity: 1, share: 0).holdsOut(eventKey: 42))

        var split = Holdout(heads: 2, capacity: 1, share: 1)
        let order = TrainingExample(
            vector: [1], category: nil, labels: [1, 2], timeMs: 5, userKey: 1, eventKey: 9)
        #expect(split.add(order).isEmpty)
        #expect(split.examples(head: 0).map(\.labels) == [[1, -1]])
        #expect(split.examples(head: 1).map(\.labels) == [[-1, 2]])
        // A newer one pushes it out of both, one head's label at a time; an older one goes to
        // training at once.
        var newer = order
        newer.timeMs = 6
        newer.eventKey = 10
        #expect(split.add(newer).map(\.labels) == [[1, -1], [-1, 2]])
        var older = order
        older.timeMs = 1
        #expect(split.add(older).map(\.timeMs) == [1, 1])
        #expect(split.allExamples.map(\.timeMs) == [6, 6])
    }
}

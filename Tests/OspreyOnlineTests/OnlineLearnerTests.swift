import Foundation
import OspreyCore
import OspreyFeatures
import OspreyModel
import OspreyOnline
import OspreyTestSupport
import Testing

/// The online loop on a small synthetic problem and on real feature vectors.
@Suite(.timeLimit(.minutes(1))) struct OnlineLearnerTests {
    /// Three features; fraud when the first is above 1 (about 16% of rows), with no noise.
    static func vector(_ random: inout SeededRandom) -> [Float] {
        (0..<3).map { _ in Float(random.unit() * 4 - 2) }
    }

    static func truth(_ vector: [Float]) -> Bool { vector[0] > 1 }

    /// A fraud-only model trained offline on 3,000 clean rows (seed 5).
    static func cleanModel() throws -> Model {
        var random = SeededRandom(seed: 5)
        var data = Dataset(width: 3, heads: ["fraud"])
        for row in 0..<3000 {
            let x = vector(&random)
            data.features.append(contentsOf: x)
            data.labels["fraud", default: []].append(truth(x) ? 1 : 0)
            data.eventIDs.append("t\(row)")
            data.userIDs.append("u\(row % 50)")
            data.timestampsMs.append(Int64(row) * 1000)
        }
        var configuration = ModelConfiguration()
        configuration.heads = [.fraud]
        configuration.epochs = 8
        configuration.shape = NetworkShape(hidden: [8], tower: [], experts: 2)
        return try TrainingRun.train(
            data, schema: FeatureSchema(names: ["a", "b", "c"]),
            vocabulary: LabelVocabulary(fraudTypes: ["none"], interests: ["other"]),
            configuration: configuration, createdAt: "2026-12-04T00:00:00Z"
        ).model
    }

    /// A burst of 1,500 flipped labels followed by 400 honest ones: the candidate learns the
    /// flipped rule from the buffer, the hold-out (the newest 60 of the events the split holds
    /// out, one in five: about the newest 300 labels) shows it, and the guard keeps the
    /// serving model, byte for byte.
    @Test func poisonedLabelsGiveACandidateTheGuardRejects() throws {
        let model = try Self.cleanModel()
        let before = model.encoded()
        var settings = OnlineSettings()
        settings.holdout = 60
        settings.recent = 2000
        settings.fineTuneEvery = 1_000_000
        settings.fineTune.steps = 300
        settings.fineTune.learningRate = 0.01
        let learner = OnlineLearner(serving: model, settings: settings)
        var random = SeededRandom(seed: 9)
        for index in 0..<1900 {
            let x = Self.vector(&random)
            let key = UInt64(index + 1)
            learner.submit(
                event: .init(
                    eventKey: key, userKey: key % 40, timeMs: Int64(index) * 1000,
                    isOrder: true, category: nil, vector: x))
            let fraud = Self.truth(x) != (index < 1500)
            learner.submit(
                label: DelayedLabel(
                    eventKey: key, timeMs: Int64(index) * 1000 + 1,
                    verdict: fraud ? .fraud(type: nil) : .legit))
        }
        learner.flush()
        #expect(learner.holdout.count(head: 0) == 60)
        let record = try #require(learner.fineTuneNow())
        #expect(!record.decision.promoted, "\(record.decision.reason)")
        #expect(record.decision.reason.contains("fraud"))
        let fraud = try #require(record.decision.comparisons.first { $0.head == "fraud" })
        #expect(fraud.candidate < fraud.serving - 0.1)
        #expect(learner.serving === model)
        #expect(learner.serving.encoded() == before)
        #expect(learner.serving.version == "1")
    }

    /// A run asked to stop ends between two steps and says so; a whole run does not.
    @Test func aFineTuningRunStopsBetweenStepsWhenAsked() throws {
        let model = try Self.cleanModel()
        var random = SeededRandom(seed: 3)
        let examples = (0..<300).map { index in
            let x = Self.vector(&random)
            return TrainingExample(
                vector: x, category: nil, labels: [Self.truth(x) ? 1 : 0],
                timeMs: Int64(index) * 1000, userKey: 1, eventKey: UInt64(index))
        }
        var settings = FineTuneSettings()
        settings.steps = 50
        settings.batchSize = 32
        var asked = 0
        let stopped = try FineTuner.fineTune(
            model, examples: examples, calibration: examples, settings: settings,
            stop: {
                asked += 1
                return asked > 7
            })
        #expect(stopped.steps == 7 && stopped.wasStopped)
        let whole = try FineTuner.fineTune(
            model, examples: examples, calibration: examples, settings: settings)
        #expect(whole.steps == 50 && !whole.wasStopped)
    }

    /// A user orders three times; the label of the first order arrives after the third. The
    /// example it makes carries the first order's vector as the feature store gave it then,
    /// not the user's later state.
    @Test func aLateLabelTrainsOnTheVectorOfDecisionTime() throws {
        let directory = try TestEnvironment.temporaryDirectory("online-pit")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("events.jsonl").path
        let lines = [("o1", "10:00:00", 20), ("o2", "10:30:00", 900), ("o3", "11:00:00", 35)]
            .map { id, time, amount in
                #"{"type":"order","event_id":"\#(id)","user_id":"u1","#
                    + #""ts":"2026-12-03T\#(time)Z","amount":\#(amount)}"#
            }
        try (lines.joined(separator: "\n") + "\n").write(
            toFile: path, atomically: true, encoding: .utf8)
        var reader = try FeatureFileReader(path: path, format: .events)
        var vectors: [String: [Float]] = [:]
        var events: [OnlineLearner.Event] = []
        try reader.forEach { row in
            vectors[row.eventID] = Array(row.values)
            events.append(
                .init(
                    eventKey: DelayedLabel.eventKey(row.eventID),
                    userKey: DelayedLabel.userKey(row.userID), timeMs: row.timestampMs,
                    isOrder: true, category: nil, vector: Array(row.values)))
        }
        #expect(vectors["o1"] != vectors["o3"])

        let schema = reader.schema
        let heads = [HeadSpec(name: "fraud", kind: .sigmoid)]
        let shape = NetworkShape(hidden: [4], tower: [], experts: 2)
        let model = Model(
            network: makeNetwork(
                .mmoe, inputs: schema.count, heads: heads, shape: shape, seed: 3, as: Float.self),
            shape: shape, schema: schema, normalisation: .identity(width: schema.count),
            createdAt: "2026-12-04T00:00:00Z")
        let learner = OnlineLearner(serving: model, settings: OnlineSettings())
        for event in events { learner.submit(event: event) }
        learner.submit(
            label: DelayedLabel(
                eventKey: DelayedLabel.eventKey("o1"), timeMs: events[2].timeMs + 60_000,
                verdict: .fraud(type: nil)))
        learner.flush()
        // One example, in the hold-out or the buffer as the split of its event id decides.
        let kept = learner.holdout.allExamples + learner.buffer.unbiasedExamples
        let example = try #require(kept.first)
        #expect(kept.count == 1)
        #expect(example.eventKey == DelayedLabel.eventKey("o1"))
        #expect(example.vector == vectors["o1"])
        #expect(example.labels == [1])
        #expect(learner.join.counts.joined == 1)
        #expect(learner.windows["fraud"]?.total == 1)
    }
}

/// Self-labels through the whole loop: a model with a `purchase` head learns from the
/// stream's own orders.
@Suite struct SelfLabelLoopTests {
    @Test func aClickFollowedByAnOrderBecomesAPositivePurchaseExample() throws {
        let schema = FeatureSchema(names: ["a", "b"])
        let heads = [HeadSpec(name: "purchase", kind: .sigmoid)]
        let shape = NetworkShape(hidden: [4], tower: [], experts: 2)
        let model = Model(
            network: makeNetwork(
                .mmoe, inputs: 2, heads: heads, shape: shape, seed: 3, as: Float.self),
            shape: shape, schema: schema, normalisation: .identity(width: 2),
            createdAt: "2026-12-04T00:00:00Z")
        var settings = OnlineSettings()
        settings.purchaseHorizonMs = 60_000
        let learner = OnlineLearner(serving: model, settings: settings)
        let events: [(UInt64, UInt64, Int64, Bool, [Float])] = [
            (1, 7, 0, false, [1, 0]),  // user 7 clicks ...
            (2, 8, 5_000, false, [2, 0]),  // user 8 clicks and never orders
            (3, 7, 30_000, true, [3, 0]),  // ... and orders within the horizon
            (4, 9, 200_000, false, [4, 0]),  // time moves past user 8's horizon
        ]
        for (key, user, time, isOrder, vector) in events {
            learner.submit(
                event: .init(
                    eventKey: key, userKey: user, timeMs: time, isOrder: isOrder,
                    category: nil, vector: vector))
        }
        learner.flush()
        let examples = (learner.holdout.allExamples + learner.buffer.unbiasedExamples).sorted {
            $0.eventKey < $1.eventKey
        }
        #expect(examples.map(\.vector) == [[1, 0], [2, 0]])
        #expect(examples.map(\.labels) == [[1], [0]])
        #expect(learner.windows["purchase"]?.total == 2)
    }
}

import Foundation
import OspreyFeatures
import OspreyModel
import OspreyOnline
import OspreyTestSupport
import Testing

@testable import OspreyDaemon

/// The pipeline's half of online learning without Kafka: labels joined to kept vectors, the
/// hold-out and buffer they fill, when a training run is due, and the examples' file.
@Suite struct DaemonLearningTests {
    static let schema = FeatureSchema(names: ["a", "b", "c"])

    static func setting(holdout: Int) -> OnlineSettings {
        var settings = OnlineSettings()
        settings.holdout = holdout
        settings.recent = 50
        settings.reservoir = 20
        settings.window = 100
        return settings
    }

    static func partition(_ learning: DaemonLearning, metrics: DaemonMetrics) throws
        -> PartitionState
    {
        PartitionState(
            partition: 0, store: try FeatureStore(configuration: FeatureConfiguration()),
            joinStore: learning.makeJoinStore(), selfLabeller: learning.makeSelfLabeller(),
            nextEventOffset: 0, nextLabelOffset: -1, outputFrom: 0, metrics: metrics)
    }

    /// Keeps `count` orders whose fraud score is their index over `count` and labels them
    /// fraud from the middle on: a perfect ranking.
    static func keepAndLabel(
        _ count: Int, learning: DaemonLearning, state: PartitionState, from first: UInt64 = 1
    ) {
        for index in 0..<count {
            let key = first + UInt64(index)
            var outputs = [Float](repeating: 0, count: learning.outputWidth)
            outputs[0] = Float(index) / Float(count)
            state.joinStore.keep(
                LabelJoinStore.Entry(
                    eventKey: key, userKey: 7, timeMs: Int64(key) * 1000, category: nil,
                    vector: [Float(index), 1, 2], outputs: outputs))
        }
        for index in 0..<count {
            let key = first + UInt64(index)
            let label = DelayedLabel(
                eventKey: key, timeMs: Int64(key) * 1000 + 500,
                verdict: index >= count / 2 ? .fraud(type: nil) : .legit)
            learning.apply(label, source: .topic, in: state)
        }
    }

    @Test func joinedLabelsFeedQualityHoldoutAndBufferAndCountTheRest() throws {
        let metrics = DaemonMetrics()
        let model = ModelCatalog.freshModel(schema: Self.schema)
        let learning = DaemonLearning(
            model: model, settings: Self.setting(holdout: 10), metrics: metrics)
        let state = try Self.partition(learning, metrics: metrics)
        Self.keepAndLabel(40, learning: learning, state: state)
        learning.apply(
            DelayedLabel(eventKey: 3, timeMs: 10_000, verdict: .legit), source: .topic, in: state)
        learning.apply(
            DelayedLabel(eventKey: 999, timeMs: 10_000, verdict: .legit), source: .topic,
            in: state)
        learning.publishQuality()

        #expect(learning.quality["fraud"]?["auc_roc"] == 1)
        // Every joined label is held out or trained on: the split holds out the events whose
        // key it picks, with the vectors kept at decision time.
        let held = learning.holdout.examples(head: 0)
        #expect(held.count + learning.buffer.unbiasedExamples.count == 40)
        #expect(!held.isEmpty && held.count <= 10)
        let picked = (1...40).filter { learning.holdout.holdsOut(eventKey: UInt64($0)) }
        #expect(held.map(\.eventKey) == picked.suffix(10).map(UInt64.init))
        #expect(held.allSatisfy { $0.vector[0] == Float($0.eventKey - 1) })
        #expect(held.allSatisfy { $0.labels == [$0.eventKey > 20 ? 1 : 0, -1, -1, -1] })
        let joins = metrics.labelJoins
        #expect(joins.labels("topic", "joined").value == 40)
        #expect(joins.labels("topic", "duplicate").value == 1)
        #expect(joins.labels("topic", "unmatched").value == 1)
        #expect(metrics.prequentialAUC.labels("fraud").value == 1)
        #expect(metrics.labelJoinHitRatio.labels().value == 40.0 / 41.0)
    }

    @Test func aRunIsDueAfterMinLabelsOrTheIntervalWithNewLabels() throws {
        let metrics = DaemonMetrics()
        let model = ModelCatalog.freshModel(schema: Self.schema)
        // Every event held out: the first ten labels fill the hold-out and leave nothing to
        // train on.
        var settings = Self.setting(holdout: 10)
        settings.holdoutShare = 1
        let learning = DaemonLearning(model: model, settings: settings, metrics: metrics)
        let state = try Self.partition(learning, metrics: metrics)
        func request(minLabels: Int, intervalPassed: Bool) -> BackgroundTrainer.Request? {
            learning.trainingRequest(
                model: model, version: 1, minLabels: minLabels, intervalPassed: intervalPassed,
                run: 1)
        }
        // Nothing to train on yet: the first labels fill the hold-out.
        Self.keepAndLabel(10, learning: learning, state: state)
        #expect(request(minLabels: 1, intervalPassed: true) == nil)
        Self.keepAndLabel(30, learning: learning, state: state, from: 100)
        #expect(request(minLabels: 100, intervalPassed: false) == nil)
        let byCount = try #require(request(minLabels: 40, intervalPassed: false))
        #expect(byCount.trigger == "labels" && byCount.holdout.count == 10)
        #expect(byCount.examples.count >= 30 && byCount.servingVersion == 1)
        // The count starts again; the interval alone needs a new label.
        #expect(request(minLabels: 1000, intervalPassed: true) == nil)
        Self.keepAndLabel(2, learning: learning, state: state, from: 500)
        #expect(request(minLabels: 1000, intervalPassed: true)?.trigger == "interval")
    }

    @Test func theExamplesFileRestoresHoldoutAndBuffer() throws {
        let metrics = DaemonMetrics()
        let model = ModelCatalog.freshModel(schema: Self.schema)
        let learning = DaemonLearning(
            model: model, settings: Self.setting(holdout: 10), metrics: metrics)
        let state = try Self.partition(learning, metrics: metrics)
        Self.keepAndLabel(120, learning: learning, state: state)
        #expect(learning.holdout.count == 10)
        let directory = try TestEnvironment.temporaryDirectory("training-state")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = TrainingStateFile(checkpointDirectory: directory.path, topic: "events")
        #expect(try file.save(learning) > 0)

        let restored = DaemonLearning(
            model: model, settings: Self.setting(holdout: 10), metrics: metrics)
        let result = try file.restore(into: restored)
        #expect(result == .init(format: 2, examples: 10 + 50 + 20, heldOut: 10))
        #expect(restored.holdout.allExamples == learning.holdout.allExamples)
        #expect(restored.buffer.unbiasedExamples.count == learning.buffer.unbiasedExamples.count)
        #expect(
            Set(restored.buffer.unbiasedExamples.map(\.eventKey))
                == Set(learning.buffer.unbiasedExamples.map(\.eventKey)))

        // Another model's heads cannot use them: refused by name, nothing restored.
        let other = Model(
            network: makeNetwork(
                .mmoe, inputs: 3, heads: [HeadSpec(name: "fraud", kind: .sigmoid)],
                shape: NetworkShape(), seed: 1, as: Float.self),
            shape: NetworkShape(), schema: Self.schema, normalisation: .identity(width: 3),
            createdAt: "2026-12-04T00:00:00Z")
        let mismatched = DaemonLearning(
            model: other, settings: Self.setting(holdout: 10), metrics: metrics)
        #expect(throws: CheckpointError.self) { try file.restore(into: mismatched) }
        #expect(mismatched.holdout.isEmpty)
    }

    /// Format 1 (one hold-out for all heads, no event keys) is still read: its hold-out joins
    /// the replay buffer, and the hold-out fills again from new labels.
    @Test func aTrainingStateOfFormat1IsReadWithItsHoldoutForTraining() throws {
        let metrics = DaemonMetrics()
        let model = ModelCatalog.freshModel(schema: Self.schema)
        let directory = try TestEnvironment.temporaryDirectory("training-state-v1")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = TrainingStateFile(checkpointDirectory: directory.path, topic: "events")
        func example(_ value: Float) -> [UInt8] {
            var bytes: [UInt8] = []
            appendInteger(UInt32(4), to: &bytes)
            for label in [Int32(value >= 3 ? 1 : 0), -1, -1, -1] {
                appendInteger(label, to: &bytes)
            }
            appendInteger(UInt32(3), to: &bytes)
            for feature in [value, 1, 2] { appendInteger(feature.bitPattern, to: &bytes) }
            appendInteger(UInt8(0), to: &bytes)
            appendInteger(Int64(value * 1000), to: &bytes)
            appendInteger(UInt64(7), to: &bytes)
            return bytes
        }
        var payload = TrainingStateFile.magic
        appendInteger(UInt32(1), to: &payload)
        appendInteger(UInt32(3), to: &payload)
        appendText("fraud,fraud_type,bot,purchase", to: &payload)
        // Hold-out 4 and 5, reservoir 0, recent 1 to 3.
        for list in [[4, 5], [0], [1, 2, 3]] as [[Float]] {
            appendInteger(UInt32(list.count), to: &payload)
            for value in list { payload += example(value) }
        }
        try file.file.write(payload)

        let learning = DaemonLearning(
            model: model, settings: Self.setting(holdout: 10), metrics: metrics)
        #expect(try file.restore(into: learning) == .init(format: 1, examples: 6, heldOut: 0))
        #expect(learning.holdout.isEmpty)
        #expect(
            learning.buffer.unbiasedExamples.map { $0.vector[0] }.sorted() == [0, 1, 2, 3, 4, 5])
        #expect(learning.buffer.unbiasedExamples.allSatisfy { $0.eventKey == 0 })
    }

    /// A damaged file (checksum), an unknown format and a truncated payload are refused.
    @Test func aDamagedTrainingStateIsRefused() throws {
        let metrics = DaemonMetrics()
        let model = ModelCatalog.freshModel(schema: Self.schema)
        let learning = DaemonLearning(
            model: model, settings: Self.setting(holdout: 10), metrics: metrics)
        let state = try Self.partition(learning, metrics: metrics)
        Self.keepAndLabel(60, learning: learning, state: state)
        let directory = try TestEnvironment.temporaryDirectory("training-state-damaged")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = TrainingStateFile(checkpointDirectory: directory.path, topic: "events")
        _ = try file.save(learning)
        let good = try #require(try file.file.read()).payload

        var damaged = try Array(Data(contentsOf: URL(fileURLWithPath: file.file.currentPath)))
        damaged[40] ^= 0xFF
        try Data(damaged).write(to: URL(fileURLWithPath: file.file.currentPath))
        let fresh = DaemonLearning(
            model: model, settings: Self.setting(holdout: 10), metrics: metrics)
        #expect(throws: CheckpointError.self) { try file.restore(into: fresh) }

        var future = good
        future[8] = 3
        try FileManager.default.removeItem(atPath: file.file.currentPath)
        try file.file.write(future)
        #expect(throws: CheckpointError.self) { try file.restore(into: fresh) }

        try FileManager.default.removeItem(atPath: file.file.currentPath)
        try file.file.write(Array(good.dropLast(5)))
        #expect(throws: CheckpointError.self) { try file.restore(into: fresh) }
        #expect(fresh.holdout.isEmpty && fresh.buffer.count == 0)
    }
}

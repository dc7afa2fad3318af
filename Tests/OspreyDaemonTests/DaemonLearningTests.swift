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
        #expect(learning.holdout.count == 10 && learning.buffer.unbiasedExamples.count == 30)
        // The hold-out holds the newest examples, with the vectors kept at decision time.
        #expect(learning.holdout.map { $0.vector[0] } == (30..<40).map(Float.init))
        #expect(learning.holdout.allSatisfy { $0.labels[0] == 1 })
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
        let learning = DaemonLearning(
            model: model, settings: Self.setting(holdout: 10), metrics: metrics)
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
        let directory = try TestEnvironment.temporaryDirectory("training-state")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = TrainingStateFile(checkpointDirectory: directory.path, topic: "events")
        #expect(try file.save(learning) > 0)

        let restored = DaemonLearning(
            model: model, settings: Self.setting(holdout: 10), metrics: metrics)
        #expect(try file.restore(into: restored) == 10 + 50 + 20)
        #expect(restored.holdout == learning.holdout)
        #expect(restored.buffer.unbiasedExamples.count == learning.buffer.unbiasedExamples.count)
        #expect(
            Set(restored.buffer.unbiasedExamples.map { $0.vector[0] })
                == Set(learning.buffer.unbiasedExamples.map { $0.vector[0] }))

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
}

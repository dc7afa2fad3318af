import Foundation
import OspreyFeatures
import OspreyModel
import OspreyTestSupport
import Testing

/// Trains on the handbook's first week with the real feature code and checks that the fraud
/// head ranks the next three days' frauds far better than chance, that calibration holds
/// roughly, and that the saved file scores the same after loading.
@Suite(.timeLimit(.minutes(2))) struct HandbookEndToEndTests {
    @Test func fraudHeadBeatsAWeakBar() throws {
        guard let url = try TestEnvironment.dataFile("handbook/transactions-dev.jsonl.gz") else {
            return
        }
        let training = DayRange(
            first: DayRange.day("2018-04-08")!, last: DayRange.day("2018-04-14")!)
        let test = DayRange(first: DayRange.day("2018-04-15")!, last: DayRange.day("2018-04-17")!)
        // One read covers both periods; the builder keeps the rows of the whole span.
        let span = DayRange(first: training.first, last: test.last)
        let read = try ExampleReading.read(
            path: url.path, format: .handbook, range: span, purchaseHorizonMs: 0)
        let vocabulary = read.builder.vocabulary(interestClasses: 2)
        let all = read.builder.finish(heads: [.fraud, .fraudType], vocabulary: vocabulary)
        let trainingRows = all.timestampsMs.indices.filter { all.timestampsMs[$0] < training.endMs }
        let testRows = all.timestampsMs.indices.filter { all.timestampsMs[$0] >= test.startMs }
        #expect(trainingRows.count > 60_000 && testRows.count > 25_000)

        var configuration = ModelConfiguration()
        configuration.architecture = .sharedBottom
        configuration.heads = [.fraud, .fraudType]
        configuration.shape = NetworkShape(hidden: [16], tower: [], experts: 1)
        configuration.epochs = 3
        configuration.batchSize = 512
        configuration.learningRate = 0.003
        let (model, _, heldOut) = try TrainingRun.train(
            all.subset(trainingRows), schema: read.schema, vocabulary: vocabulary,
            configuration: configuration, createdAt: "2026-12-04T00:00:00Z")
        #expect(heldOut.contains { $0.head == "fraud" })

        let evaluations = Evaluation.evaluate(model, on: all.subset(testRows))
        let fraud = try #require(evaluations.first { $0.head == "fraud" })
        let auc = try #require(fraud.metrics["auc_roc"])
        let ap = try #require(fraud.metrics["average_precision"])
        // Chance is 0.5 and the fraud rate (about 0.006); the book's models reach 0.8+.
        #expect(auc > 0.75, "AUC \(auc)")
        #expect(ap > 0.2, "AP \(ap)")
        #expect(fraud.metrics["expected_calibration_error"]! < 0.02)
        let type = try #require(evaluations.first { $0.head == "fraud_type" })
        #expect(type.metrics["top1_accuracy"]! > 0.9)

        // The file round trip on real features gives the same bits.
        let directory = try TestEnvironment.temporaryDirectory("handbook-model")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("fraud.safetensors").path
        try model.save(to: path)
        let loaded = try Model.load(path: path, expecting: read.schema)
        let sample = all.subset(Array(testRows.prefix(2000)))
        let before = Scorer(model: model).scoreAll(sample.features, rows: sample.count)
        let after = Scorer(model: loaded).scoreAll(sample.features, rows: sample.count)
        #expect(before.map { $0.map(\.bitPattern) } == after.map { $0.map(\.bitPattern) })
    }
}

import OspreyCore
import OspreyModel
import Testing

/// `training.average_decay`: the trainer judges and keeps a moving average of its weights.
@Suite struct WeightAverageTests {
    static let heads = [HeadSpec(name: "fraud", kind: .sigmoid)]
    static let rows = 64
    static let width = 3

    static func data(seed: UInt64) -> Dataset {
        var random = SeededRandom(seed: seed)
        var data = Dataset(width: width, heads: ["fraud"])
        data.features = (0..<(rows * width)).map { _ in Float(random.unit() * 4 - 2) }
        data.labels["fraud"] = (0..<rows).map { data.features[$0 * width] > 0.3 ? 1 : 0 }
        data.eventIDs = (0..<rows).map(String.init)
        data.userIDs = data.eventIDs
        data.timestampsMs = (0..<rows).map { Int64($0) }
        return data
    }

    static func network() -> any MultiTaskNetwork<Float> {
        makeNetwork(
            .sharedBottom, inputs: width, heads: heads,
            shape: NetworkShape(hidden: [5], tower: []), seed: 9, as: Float.self)
    }

    /// One full batch per epoch, so that the trainer's shuffling changes only the order of a
    /// sum: a second network stepped by hand, with the average kept in Double beside it, must
    /// end where the trainer does (to float rounding), and away from its last step.
    @Test func keptWeightsAreTheBestEpochsAverage() {
        let decay = 0.6
        let epochs = 6
        var configuration = ModelConfiguration()
        configuration.batchSize = Self.rows
        configuration.epochs = epochs
        configuration.patience = epochs
        let training = Self.data(seed: 1)
        let validation = Self.data(seed: 2)

        var averaging = configuration
        averaging.averageDecay = decay
        let trained = Self.network()
        let history = Trainer(network: trained, configuration: averaging)
            .train(training, validation: validation)

        let network = Self.network()
        let trainer = Trainer(network: network, configuration: configuration)
        var average = network.parameters.map { $0.array.map(Double.init) }
        var best: (loss: Double, values: [[Float]], epoch: Int)?
        for epoch in 1...epochs {
            _ = trainer.step(training, rows: Array(0..<Self.rows)[...])
            let stepped = network.parameters.map(\.array)
            for (index, parameter) in network.parameters.enumerated() {
                for (offset, value) in parameter.array.enumerated() {
                    average[index][offset] =
                        decay * average[index][offset] + (1 - decay) * Double(value)
                }
            }
            let averaged = average.map { $0.map(Float.init) }
            for (parameter, values) in zip(network.parameters, averaged) {
                parameter.assign(values)
            }
            let loss = trainer.validationLoss(validation)
            if best == nil || loss < best!.loss - 1e-6 { best = (loss, averaged, epoch) }
            for (parameter, values) in zip(network.parameters, stepped) {
                parameter.assign(values)
            }
        }

        #expect(history.bestEpoch == best!.epoch)
        var largestError: Float = 0
        var largestGap: Float = 0
        for (index, parameter) in trained.parameters.enumerated() {
            for (offset, value) in parameter.array.enumerated() {
                largestError = max(largestError, abs(value - best!.values[index][offset]))
                let last = network.parameters[index].values[offset]
                largestGap = max(largestGap, abs(best!.values[index][offset] - last))
            }
        }
        #expect(largestError < 1e-4, "kept weights differ from the average by \(largestError)")
        // The check means something only if the average lies away from the last step.
        #expect(largestGap > 1e-3, "the average is only \(largestGap) from the last step")
    }

    @Test func decayIsRefusedOutsideItsRange() {
        #expect(throws: ModelError.self) {
            _ = try ModelConfiguration(["training.average_decay": "1"])
        }
        let parsed = try? ModelConfiguration(["training.average_decay": "0.99"])
        #expect(parsed?.averageDecay == 0.99)
    }
}

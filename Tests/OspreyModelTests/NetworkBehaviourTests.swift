import OspreyCore
import OspreyModel
import Testing

@Suite struct NetworkBehaviourTests {
    static let heads = [
        HeadSpec(name: "fraud", kind: .sigmoid),
        HeadSpec(name: "interest", kind: .softmax(classes: ["1", "2", "3", "4", "other"])),
    ]

    static func inputs(rows: Int, width: Int, seed: UInt64) -> [Float] {
        var random = SeededRandom(seed: seed)
        return (0..<(rows * width)).map { _ in Float(random.unit() * 4 - 2) }
    }

    @Test func mmoeGatesSumToOne() {
        var random = SeededRandom(seed: 12345)
        let network = MMoENetwork<Float>(
            inputs: 6, heads: Self.heads, shape: NetworkShape(hidden: [8], tower: [], experts: 5),
            random: &random)
        // Non-zero gate weights so the gates differ from uniform.
        for gate in network.gates {
            for index in 0..<gate.weight.count {
                gate.weight.values[index] = Float(index % 7) * 0.3 - 1
            }
        }
        let rows = 37
        let x = Self.inputs(rows: rows, width: 6, seed: 2)
        x.withUnsafeBufferPointer { network.forward(x: $0.baseAddress!, rows: rows) }
        for head in Self.heads.indices {
            let gate = network.gate(head: head)
            var differs = false
            for row in 0..<rows {
                let values = (0..<5).map { gate[row * 5 + $0] }
                #expect(abs(values.reduce(0, +) - 1) < 1e-5)
                #expect(values.allSatisfy { $0 > 0 && $0 < 1 })
                differs = differs || abs(values[0] - 0.2) > 1e-3
            }
            #expect(differs)
        }
    }

    @Test(arguments: Architecture.allCases)
    func headWithoutLabelsGetsZeroGradient(_ architecture: Architecture) {
        var configuration = ModelConfiguration()
        configuration.batchSize = 16
        // Without weight decay a parameter moves only through its gradient.
        configuration.weightDecay = 0
        let network = makeNetwork(
            architecture, inputs: 4, heads: Self.heads,
            shape: NetworkShape(hidden: [6], tower: [3]),
            seed: 3, as: Float.self)
        let trainer = Trainer(network: network, configuration: configuration)
        var data = Dataset(width: 4, heads: ["fraud", "interest"])
        data.features = Self.inputs(rows: 16, width: 4, seed: 8)
        data.labels["fraud"] = (0..<16).map { Int32($0 % 2) }
        data.labels["interest"] = [Int32](repeating: -1, count: 16)
        data.eventIDs = (0..<16).map(String.init)
        data.userIDs = data.eventIDs
        data.timestampsMs = (0..<16).map { Int64($0) }
        let before = network.parameters.map(\.array)
        _ = trainer.step(data, rows: Array(0..<16)[...])
        for (parameter, old) in zip(network.parameters, before) {
            let isInterest = parameter.name.contains("interest")
            if isInterest {
                #expect(parameter.gradient.allSatisfy { $0 == 0 }, "\(parameter.name)")
                #expect(parameter.array == old, "\(parameter.name) moved without labels")
            }
        }
        // The labelled head did learn something.
        let fraudMoved = zip(network.parameters, before).contains { parameter, old in
            parameter.name.contains("head.fraud") && parameter.array != old
        }
        #expect(fraudMoved)
    }

    static func trainOnce(seed: UInt64, architecture: Architecture) -> [[Float]] {
        var configuration = ModelConfiguration()
        configuration.seed = seed
        configuration.epochs = 3
        configuration.batchSize = 32
        configuration.taskWeighting = .uncertainty
        let network = makeNetwork(
            architecture, inputs: 5, heads: Self.heads,
            shape: NetworkShape(hidden: [8, 4], tower: [4]),
            seed: seed, as: Float.self)
        let trainer = Trainer(network: network, configuration: configuration)
        var data = Dataset(width: 5, heads: ["fraud", "interest"])
        let rows = 200
        data.features = Self.inputs(rows: rows, width: 5, seed: 4)
        data.labels["fraud"] = (0..<rows).map { data.features[$0 * 5] > 0.5 ? 1 : 0 }
        data.labels["interest"] = (0..<rows).map { $0 % 3 == 0 ? -1 : Int32($0 % 5) }
        data.eventIDs = (0..<rows).map(String.init)
        data.userIDs = data.eventIDs
        data.timestampsMs = (0..<rows).map { Int64($0) }
        _ = trainer.train(data, validation: nil)
        return network.parameters.map(\.array) + [trainer.logVariance!.array]
    }

    @Test(arguments: [Architecture.mmoe, .sharedBottom])
    func trainingIsDeterministicForASeed(_ architecture: Architecture) {
        let first = Self.trainOnce(seed: 17, architecture: architecture)
        let second = Self.trainOnce(seed: 17, architecture: architecture)
        let other = Self.trainOnce(seed: 18, architecture: architecture)
        #expect(first.map { $0.map(\.bitPattern) } == second.map { $0.map(\.bitPattern) })
        #expect(first != other)
    }

    @Test func configurationRejectsUnknownModelKeys() {
        #expect(throws: ModelError.configuration("unknown key 'model.hiden' (line 3)")) {
            _ = try ModelConfiguration(["model.hiden": "64"], lines: ["model.hiden": 3])
        }
        #expect(throws: ModelError.self) { _ = try ModelConfiguration(["model.experts": "zero"]) }
        #expect(throws: ModelError.self) {
            _ = try ModelConfiguration(["model.heads": "fraud,spam"])
        }
        let parsed = try? ModelConfiguration([
            "model.architecture": "shared_bottom", "model.heads": "fraud, fraud_type",
            "model.hidden": "32,16", "training.task_weighting": "uncertainty",
            "kafka.bootstrap.servers": "embedded", "training.enabled": "true",
        ])
        #expect(parsed?.architecture == .sharedBottom)
        #expect(parsed?.heads == [.fraud, .fraudType])
        #expect(parsed?.shape.hidden == [32, 16])
        #expect(parsed?.taskWeighting == .uncertainty)
    }
}

import OspreyCore
import OspreyModel
import Testing

/// The scoring pass (``MultiTaskNetwork/score(x:rows:occlusion:)``) may take its own path, as
/// the MMoE does with its experts and gates fused into one product; it must give the logits of
/// the training forward, and follow the weights when they change.
@Suite struct ScoringPathTests {
    static let inputs = 11
    static let heads = [
        HeadSpec(name: "fraud", kind: .sigmoid),
        HeadSpec(name: "interest", kind: .softmax(classes: ["a", "b", "c", "other"])),
    ]

    static func rows(_ count: Int, seed: UInt64) -> [Float] {
        var random = SeededRandom(seed: seed)
        return (0..<(count * inputs)).map { _ in Float(random.unit() * 4 - 2) }
    }

    /// Each head's logits after `pass`, copied.
    static func logits(
        _ network: any MultiTaskNetwork<Float>, rows: Int, _ pass: () -> Void
    ) -> [[Float]] {
        pass()
        return heads.indices.map { head in
            Array(
                UnsafeBufferPointer(
                    start: network.logits(head: head), count: rows * heads[head].width))
        }
    }

    static func expectClose(_ a: [[Float]], _ b: [[Float]], _ what: String) {
        for (x, y) in zip(a, b) {
            for (u, v) in zip(x, y) { #expect(abs(u - v) <= 1e-5 * max(1, abs(u)), "\(what)") }
        }
    }

    @Test(arguments: Architecture.allCases)
    func scoringGivesTheForwardsLogitsAndFollowsChangedWeights(_ architecture: Architecture) {
        let shape = NetworkShape(hidden: [9, 6], tower: [5], experts: 3)
        let network = makeNetwork(
            architecture, inputs: Self.inputs, heads: Self.heads, shape: shape, seed: 8,
            as: Float.self)
        for layer in network.denseLayers {
            for index in 0..<layer.bias.count { layer.bias.values[index] = Float(index % 4) * 0.1 }
            layer.bias.changed()
        }
        let count = 37
        let x = Self.rows(count, seed: 5)
        func forward() -> [[Float]] {
            x.withUnsafeBufferPointer { buffer in
                Self.logits(network, rows: count) {
                    network.forward(x: buffer.baseAddress!, rows: count)
                }
            }
        }
        func score() -> [[Float]] {
            x.withUnsafeBufferPointer { buffer in
                Self.logits(network, rows: count) {
                    network.score(x: buffer.baseAddress!, rows: count, occlusion: nil)
                }
            }
        }
        let before = score()
        Self.expectClose(before, forward(), "first scoring pass")

        // New weights through assign: the scoring pass must use them, not a copy of the old.
        for layer in network.inputLayers {
            layer.weight.assign(layer.weight.array.map { $0 * -0.5 + 0.01 })
        }
        let assigned = score()
        Self.expectClose(assigned, forward(), "after assign")
        #expect(assigned[0] != before[0])

        // And after an optimiser step.
        x.withUnsafeBufferPointer { buffer in
            network.forward(x: buffer.baseAddress!, rows: count)
            let gradients = Self.heads.map { head in
                [Float](repeating: 0.3, count: count * head.width)
            }
            gradients[0].withUnsafeBufferPointer { first in
                gradients[1].withUnsafeBufferPointer { second in
                    network.backward(
                        x: buffer.baseAddress!, rows: count,
                        dLogits: [first.baseAddress!, second.baseAddress!])
                }
            }
        }
        AdamOptimizer<Float>(variant: .adam, learningRate: 0.05, weightDecay: 0)
            .update(network.parameters)
        let stepped = score()
        Self.expectClose(stepped, forward(), "after an optimiser step")
        #expect(stepped[0] != assigned[0])
    }

    @Test func mmoeScoringMakesOneProductForItsExpertsAndGates() {
        let shape = NetworkShape(hidden: [64, 32], tower: [16], experts: 4)
        let network = makeNetwork(
            .mmoe, inputs: 121, heads: Array(Self.heads.prefix(1)), shape: shape, seed: 1,
            as: Float.self)
        let shapes = network.scoringShapes
        #expect(shapes.first?.inputs == 121)
        #expect(shapes.first?.outputs == 4 * 64 + 4)
        // The same multiply-adds as the layers one by one.
        #expect(
            shapes.reduce(0) { $0 + $1.inputs * $1.outputs } == network.multiplyAddsPerRow)
    }
}

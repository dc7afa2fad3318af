import OspreyCore
import OspreyModel
import Testing

/// Every analytic gradient against central finite differences in `Double`.
///
/// Tolerance: with step `h = 1e-6` the truncation error is about `h²` times the third
/// derivative and the rounding error about `1e-16 / h`; `|analytic - numeric| <= 1e-6 *
/// max(1, |analytic|)` leaves two orders of margin. Random inputs make it vanishingly
/// unlikely that a ReLU kink lies within `h` of a pre-activation.
@Suite struct GradientCheckTests {
    static let step = 1e-6
    static let tolerance = 1e-6

    /// Random standard-normal-ish inputs (sum of uniforms).
    static func randomInputs(_ count: Int, _ random: inout SeededRandom) -> [Double] {
        (0..<count).map { _ in (0..<4).reduce(0.0) { sum, _ in sum + random.unit() } - 2 }
    }

    /// The total masked loss of `network` on `x`, and (when `backward`) the parameters'
    /// gradients.
    static func loss(
        _ network: any MultiTaskNetwork<Double>, x: [Double], rows: Int, labels: [[Int32]],
        losses: [HeadLoss], backward: Bool
    ) -> Double {
        x.withUnsafeBufferPointer { x in
            network.forward(x: x.baseAddress!, rows: rows)
            var total = 0.0
            var gradients: [[Double]] = []
            for (head, spec) in network.heads.enumerated() {
                var gradient = [Double](repeating: 0, count: rows * spec.width)
                let result = labels[head].withUnsafeBufferPointer { labels in
                    losses[head].evaluate(
                        logits: network.logits(head: head), labels: labels.baseAddress!,
                        rows: rows, gradient: &gradient)
                }
                total += result.loss
                gradients.append(gradient)
            }
            if backward {
                for parameter in network.parameters { parameter.zeroGradient() }
                let pointers = gradients.map { array -> UnsafeMutablePointer<Double> in
                    let pointer = UnsafeMutablePointer<Double>.allocate(capacity: array.count)
                    pointer.initialize(from: array, count: array.count)
                    return pointer
                }
                defer { pointers.forEach { $0.deallocate() } }
                network.backward(
                    x: x.baseAddress!, rows: rows, dLogits: pointers.map { UnsafePointer($0) })
            }
            return total
        }
    }

    static func check(_ architecture: Architecture, seed: UInt64, focal: Double) {
        var random = SeededRandom(seed: seed)
        let inputs = 3 + Int(random.next() % 4)
        let rows = 2 + Int(random.next() % 6)
        let heads = [
            HeadSpec(name: "fraud", kind: .sigmoid),
            HeadSpec(name: "fraud_type", kind: .softmax(classes: ["a", "b", "c"])),
        ]
        let shape = NetworkShape(
            hidden: [4 + Int(random.next() % 3), 3], tower: [3], experts: 2 + Int(random.next() % 2)
        )
        let network = makeNetwork(
            architecture, inputs: inputs, heads: heads, shape: shape, seed: seed, as: Double.self)
        // Give biases non-zero values so their gradients are exercised away from zero.
        for parameter in network.parameters {
            for index in 0..<parameter.count { parameter.values[index] += random.symmetric(0.3) }
        }
        let x = randomInputs(rows * inputs, &random)
        let labels: [[Int32]] = [
            (0..<rows).map { row in row == 0 ? -1 : Int32(random.next() % 2) },
            (0..<rows).map { row in row == 1 ? -1 : Int32(random.next() % 3) },
        ]
        let losses = [
            HeadLoss(kind: .sigmoid, positiveWeight: 3, focalGamma: focal),
            HeadLoss(kind: heads[1].kind),
        ]
        _ = loss(network, x: x, rows: rows, labels: labels, losses: losses, backward: true)
        for parameter in network.parameters {
            let analytic = Array(parameter.gradient)
            for index in 0..<parameter.count {
                let original = parameter.values[index]
                parameter.values[index] = original + step
                let plus = loss(
                    network, x: x, rows: rows, labels: labels, losses: losses, backward: false)
                parameter.values[index] = original - step
                let minus = loss(
                    network, x: x, rows: rows, labels: labels, losses: losses, backward: false)
                parameter.values[index] = original
                let numeric = (plus - minus) / (2 * step)
                let error = abs(analytic[index] - numeric)
                #expect(
                    error <= tolerance * max(1, abs(analytic[index])),
                    "\(architecture) \(parameter.name)[\(index)]: \(analytic[index]) vs \(numeric)")
            }
        }
    }

    @Test(arguments: Architecture.allCases)
    func networkGradientsMatchFiniteDifferences(_ architecture: Architecture) {
        for seed: UInt64 in 1...3 {
            Self.check(architecture, seed: seed &* 7919, focal: seed == 2 ? 2 : 0)
        }
    }

    @Test func denseLayerGradientsIncludingInput() {
        var random = SeededRandom(seed: 42)
        let layer = Dense<Double>(name: "d", inputs: 5, outputs: 3, random: &random)
        let rows = 4
        let x = GradientCheckTests.randomInputs(rows * 5, &random)
        let weights = GradientCheckTests.randomInputs(rows * 3, &random)
        // Loss = sum(y * weights): dL/dy = weights.
        func value(_ x: [Double]) -> Double {
            var y = [Double](repeating: 0, count: rows * 3)
            x.withUnsafeBufferPointer { layer.forward(x: $0.baseAddress!, rows: rows, y: &y) }
            return zip(y, weights).reduce(0) { $0 + $1.0 * $1.1 }
        }
        var dx = [Double](repeating: 0, count: rows * 5)
        layer.weight.zeroGradient()
        layer.bias.zeroGradient()
        x.withUnsafeBufferPointer { x in
            weights.withUnsafeBufferPointer { dy in
                layer.backward(x: x.baseAddress!, rows: rows, dy: dy.baseAddress!, dx: &dx)
            }
        }
        for index in x.indices {
            var plus = x
            plus[index] += GradientCheckTests.step
            var minus = x
            minus[index] -= GradientCheckTests.step
            let numeric = (value(plus) - value(minus)) / (2 * GradientCheckTests.step)
            #expect(abs(numeric - dx[index]) <= 1e-6 * max(1, abs(numeric)))
        }
        for parameter in layer.parameters {
            for index in 0..<parameter.count {
                let original = parameter.values[index]
                parameter.values[index] = original + GradientCheckTests.step
                let plus = value(x)
                parameter.values[index] = original - GradientCheckTests.step
                let minus = value(x)
                parameter.values[index] = original
                let numeric = (plus - minus) / (2 * GradientCheckTests.step)
                #expect(abs(numeric - parameter.gradient[index]) <= 1e-6 * max(1, abs(numeric)))
            }
        }
    }

    @Test(arguments: [(1.0, 0.0), (5.0, 0.0), (1.0, 2.0), (0.5, 0.5)])
    func lossGradientsMatchFiniteDifferences(positiveWeight: Double, gamma: Double) {
        var random = SeededRandom(seed: 9)
        let rows = 6
        let sigmoid = HeadLoss(kind: .sigmoid, positiveWeight: positiveWeight, focalGamma: gamma)
        let softmax = HeadLoss(kind: .softmax(classes: ["a", "b", "c", "d"]))
        for (loss, width) in [(sigmoid, 1), (softmax, 4)] {
            let logits = GradientCheckTests.randomInputs(rows * width, &random).map { $0 * 3 }
            let labels: [Int32] = (0..<rows).map { row in
                row == 2 ? -1 : Int32(random.next() % UInt64(width == 1 ? 2 : width))
            }
            func value(_ z: [Double]) -> Double {
                var scratch = [Double](repeating: 0, count: z.count)
                return loss.evaluate(logits: z, labels: labels, rows: rows, gradient: &scratch).loss
            }
            var gradient = [Double](repeating: 0, count: logits.count)
            _ = loss.evaluate(logits: logits, labels: labels, rows: rows, gradient: &gradient)
            for index in logits.indices {
                var plus = logits
                plus[index] += GradientCheckTests.step
                var minus = logits
                minus[index] -= GradientCheckTests.step
                let numeric = (value(plus) - value(minus)) / (2 * GradientCheckTests.step)
                #expect(abs(numeric - gradient[index]) <= 1e-6 * max(1, abs(numeric)))
            }
            // The unlabelled row gets no gradient.
            #expect((0..<width).allSatisfy { gradient[2 * width + $0] == 0 })
        }
    }

    @Test func lossIsFiniteForExtremeLogits() {
        let loss = HeadLoss(kind: .sigmoid, focalGamma: 2)
        var gradient = [Double](repeating: 0, count: 4)
        let result = loss.evaluate(
            logits: [800, -800, 800, -800], labels: [0, 1, 1, 0], rows: 4, gradient: &gradient)
        #expect(result.loss.isFinite && result.loss > 100)
        #expect(gradient.allSatisfy { $0.isFinite })
    }
}

import OspreyCore
import OspreyFeatures
import OspreyModel
import Testing

/// Scoring with an ``InputOcclusion`` layout must give what a plain forward of the same rows
/// gives, for every architecture: the input layers' shortcut is exact up to rounding.
@Suite struct InputOcclusionTests {
    static let width = 9

    static func model(_ architecture: Architecture, categories: [String]) -> Model {
        let heads = [
            HeadSpec(name: "fraud", kind: .sigmoid),
            HeadSpec(name: "interest", kind: .softmax(classes: ["a", "b", "other"])),
        ]
        let shape = NetworkShape(hidden: [12, 7], tower: [5], experts: 3)
        let network = makeNetwork(
            architecture, inputs: width + categories.count, heads: heads, shape: shape, seed: 21,
            as: Float.self)
        // Non-zero biases, so that a copy that forgot the bias would differ.
        for layer in network.denseLayers {
            for index in 0..<layer.bias.count { layer.bias.values[index] = Float(index % 3) * 0.2 }
        }
        return Model(
            network: network, shape: shape,
            schema: FeatureSchema(names: (0..<width).map { "f\($0)" }),
            normalisation: Normalisation(
                mean: (0..<width).map { Float($0) * 0.5 },
                scale: (0..<width).map { 1 + Float($0) * 0.25 }),
            categoryInputs: categories, createdAt: "2026-12-04T00:00:00Z")
    }

    @Test(arguments: Architecture.allCases)
    func occludedRowsScoreAsAPlainForward(_ architecture: Architecture) {
        let model = Self.model(architecture, categories: ["shoes", "books"])
        var random = SeededRandom(seed: 3)
        // Three events; each followed by copies with one column set to NaN (the mean).
        let occluded: [[Int]] = [[0, 4, 8], [2], [1, 3, 5, 6, 7]]
        var rows: [Float] = []
        var categories: [String?] = []
        var groups: [InputOcclusion.Group] = []
        for (event, columns) in occluded.enumerated() {
            let base = (0..<Self.width).map { _ in Float(random.unit() * 6 - 3) }
            groups.append(InputOcclusion.Group(baseRow: rows.count / Self.width, columns: columns))
            let category = ["shoes", nil, "books"][event]
            rows += base
            categories.append(category)
            for column in columns {
                var copy = base
                copy[column] = .nan
                rows += copy
                categories.append(category)
            }
        }
        let count = rows.count / Self.width
        let occlusion = InputOcclusion(groups: groups)
        #expect(occlusion.rows == count)

        let plain = Scorer(model: model).scoreAll(rows, rows: count, categories: categories)
        let scorer = Scorer(model: model)
        rows.withUnsafeBufferPointer {
            scorer.score($0.baseAddress!, categories: categories[...], occlusion: occlusion)
        }
        for (head, spec) in model.heads.enumerated() {
            let fast = scorer.probabilities(head: head)
            for index in 0..<(count * spec.width) {
                #expect(
                    abs(fast[index] - plain[head][index]) < 1e-5, "head \(spec.name) at \(index)")
            }
        }
        // The copies really differ from their event's row, so the comparison judges them.
        #expect(plain[0][0] != plain[0][1] || plain[0][0] != plain[0][2])

        // The copies come from their base rows, not from their own input rows: with the input
        // rows of the copies garbled, the occluded pass still gives the same scores.
        var garbled = rows
        for group in groups {
            for position in group.columns.indices {
                let row = group.baseRow + 1 + position
                for column in 0..<Self.width where column != group.columns[position] {
                    garbled[row * Self.width + column] += 100
                }
            }
        }
        garbled.withUnsafeBufferPointer {
            scorer.score($0.baseAddress!, categories: categories[...], occlusion: occlusion)
        }
        for index in 0..<count {
            #expect(abs(scorer.probabilities(head: 0)[index] - plain[0][index]) < 1e-5)
        }

        // The layout is cleared after the pass: a plain batch of the same size scores plainly.
        let other = rows.map { $0.isNaN ? 1 : $0 + 0.5 }
        let expected = Scorer(model: model).scoreAll(other, rows: count, categories: categories)
        other.withUnsafeBufferPointer {
            scorer.score($0.baseAddress!, rows: count, categories: categories[...])
        }
        for index in 0..<count {
            #expect(abs(scorer.probabilities(head: 0)[index] - expected[0][index]) < 1e-6)
        }
    }

    /// The dense layer's shortcut itself: with the layout set, a copy's output comes from its
    /// base row's output (a plain product of the garbled copy rows would differ).
    @Test func denseLayerComputesCopiesFromTheirBaseRow() {
        var random = SeededRandom(seed: 8)
        let layer = Dense<Float>(name: "probe", inputs: 5, outputs: 4, random: &random)
        for index in 0..<4 { layer.bias.values[index] = Float(index) - 1.5 }
        let base: [Float] = [0.5, -1, 2, 0.25, 3]
        let columns = [1, 4]
        var exact = base
        for column in columns {
            var copy = base
            copy[column] = 0
            exact += copy
        }
        var expected = [Float](repeating: 0, count: 12)
        exact.withUnsafeBufferPointer { x in
            expected.withUnsafeMutableBufferPointer {
                layer.forward(x: x.baseAddress!, rows: 3, y: $0.baseAddress!)
            }
        }
        let garbled = base + [Float](repeating: 9, count: 10)
        var output = [Float](repeating: 0, count: 12)
        layer.occlusion = InputOcclusion(groups: [
            InputOcclusion.Group(baseRow: 0, columns: columns)
        ])
        garbled.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer {
                layer.forward(x: x.baseAddress!, rows: 3, y: $0.baseAddress!)
            }
        }
        layer.occlusion = nil
        for index in 0..<12 { #expect(abs(output[index] - expected[index]) < 1e-5, "at \(index)") }
    }
}

import OspreyModel

/// Explains an alert cheaply by occlusion: each feature in turn is set to its training mean
/// and the fired head's probability is scored again; a feature's contribution is how far the
/// probability falls without it.
///
/// One alert costs one forward pass over `[features, features]` rows (a few hundred thousand
/// multiply-adds for the default model), so it is computed for alerts only, never for every
/// event. It is exact for what it measures, and, like gradient × input, it is a local
/// explanation that ignores interactions between features.
///
/// Thread: the pipeline thread only (it owns its scorer).
final class Attribution {
    private let scorer: Scorer
    private let width: Int
    private var rows: [Float]

    init(model: Model) {
        width = model.schema.count
        scorer = Scorer(model: model, capacity: width + 1)
        rows = [Float](repeating: 0, count: (width + 1) * width)
    }

    /// The `limit` features that raise head `head`'s probability most for `features`, largest
    /// contribution first; features that lower it are left out.
    func topFeatures(
        _ features: ArraySlice<Float>, category: String?, head: Int, limit: Int
    ) -> [FeatureContribution] {
        guard limit > 0 else { return [] }
        let input = Array(features)
        // Row 0 is the event as it is; row 1 + j has feature j replaced by NaN, which the
        // standardisation maps to 0, the training mean.
        for row in 0...width {
            let base = row * width
            for column in 0..<width { rows[base + column] = input[column] }
            if row > 0 { rows[base + row - 1] = .nan }
        }
        let categories = [String?](repeating: category, count: width + 1)
        rows.withUnsafeBufferPointer {
            scorer.score($0.baseAddress!, rows: width + 1, categories: categories[...])
        }
        let probabilities = scorer.probabilities(head: head)
        let names = scorer.model.schema.names
        let full = Double(probabilities[0])
        var contributions: [FeatureContribution] = []
        for column in 0..<width {
            let drop = full - Double(probabilities[column + 1])
            guard drop > 0 else { continue }
            contributions.append(
                FeatureContribution(
                    name: names[column], value: Double(input[column]), contribution: drop))
        }
        contributions.sort { $0.contribution > $1.contribution }
        return Array(contributions.prefix(limit))
    }
}

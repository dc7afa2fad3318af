import OspreyModel

/// Explains an alert cheaply by occlusion: each candidate feature in turn is set to its
/// training mean and the fired head's probability is scored again; a feature's contribution
/// is how far the probability falls without it.
///
/// The candidates are the ``candidateCount`` features farthest from their training mean, in
/// standard deviations after the model's own normalisation: a feature at its mean cannot
/// change the score by being set to it, and one near it rarely explains much. So one alert
/// costs a forward pass over `1 + candidateCount` rows (about a million multiply-adds for the
/// default model), a fifth of occluding every feature; it is computed for alerts only, never
/// for every event. It is exact for what it measures, and, like gradient × input, a local
/// explanation that ignores interactions between features.
///
/// Thread: the pipeline thread only (it owns its scorer).
final class Attribution {
    /// How many features are occluded per alert at most.
    static let candidateCount = 24

    private let scorer: Scorer
    private let width: Int
    private var rows: [Float]
    private var standardised: [Float]

    init(model: Model) {
        width = model.schema.count
        let capacity = min(width, Self.candidateCount) + 1
        scorer = Scorer(model: model, capacity: capacity)
        rows = [Float](repeating: 0, count: capacity * width)
        standardised = [Float](repeating: 0, count: width)
    }

    /// The `limit` features that raise head `head`'s probability most for `features`, largest
    /// contribution first; features that lower it are left out.
    func topFeatures(
        _ features: ArraySlice<Float>, category: String?, head: Int, limit: Int
    ) -> [FeatureContribution] {
        guard limit > 0 else { return [] }
        let input = Array(features)
        let candidates = candidates(input)
        // Row 0 is the event as it is; row 1 + i has candidate i replaced by NaN, which the
        // standardisation maps to 0, the training mean.
        for row in 0...candidates.count {
            let base = row * width
            for column in 0..<width { rows[base + column] = input[column] }
            if row > 0 { rows[base + candidates[row - 1]] = .nan }
        }
        let categories = [String?](repeating: category, count: candidates.count + 1)
        rows.withUnsafeBufferPointer {
            scorer.score($0.baseAddress!, rows: candidates.count + 1, categories: categories[...])
        }
        let probabilities = scorer.probabilities(head: head)
        let names = scorer.model.schema.names
        let full = Double(probabilities[0])
        var contributions: [FeatureContribution] = []
        for (position, column) in candidates.enumerated() {
            let drop = full - Double(probabilities[position + 1])
            guard drop > 0 else { continue }
            contributions.append(
                FeatureContribution(
                    name: names[column], value: Double(input[column]), contribution: drop))
        }
        contributions.sort { $0.contribution > $1.contribution }
        return Array(contributions.prefix(limit))
    }

    /// The columns farthest from their training mean (largest |z|), at most
    /// ``candidateCount``, ties broken by column; columns the model does not use are left out.
    private func candidates(_ input: [Float]) -> [Int] {
        let normalisation = scorer.model.normalisation
        input.withUnsafeBufferPointer { source in
            standardised.withUnsafeMutableBufferPointer { target in
                normalisation.apply(source.baseAddress!, rows: 1, into: target.baseAddress!)
            }
        }
        let used = (0..<width).filter { normalisation.used[$0] && standardised[$0] != 0 }
        let ranked = used.sorted { left, right in
            let (a, b) = (abs(standardised[left]), abs(standardised[right]))
            return a != b ? a > b : left < right
        }
        return Array(ranked.prefix(Self.candidateCount))
    }
}

import OspreyModel

/// Explains alerts cheaply by occlusion: each candidate feature in turn is set to its training
/// mean and the fired head's probability is scored again; a feature's contribution is how far
/// the probability falls without it.
///
/// The candidates are the ``candidateCount`` features farthest from their training mean, in
/// standard deviations after the model's own normalisation: a feature at its mean cannot
/// change the score by being set to it, and one near it rarely explains much. So one alert
/// costs a forward pass over `1 + candidateCount` rows, a fifth of occluding every feature;
/// it is computed for alerts only, never for every event. It is exact for what it measures,
/// and, like gradient × input, a local explanation that ignores interactions between
/// features.
///
/// The alerts of one micro-batch are explained together: their occluded rows go through the
/// network in a few large passes rather than one small pass per alert, which the matrix
/// products run far better (the weights are packed once per pass, not once per alert). The
/// layers that read the input compute each occluded row from its event's row
/// (``InputOcclusion``), so an occluded row costs about a fifth of a scored one.
///
/// Thread: the pipeline thread only (it owns its scorer).
final class Attribution {
    /// How many features are occluded per alert at most.
    static let candidateCount = 24
    /// Rows scored in one pass at most: about twenty alerts.
    static let rowsPerPass = 512

    /// One alert to explain: its raw feature vector, its category (for models that take
    /// one) and the head whose probability the explanation is about.
    struct Request {
        let features: ArraySlice<Float>
        let category: String?
        let head: Int
    }

    private let scorer: Scorer
    private let width: Int
    private var rows: [Float]
    private var categories: [String?]
    private var standardised: [Float]

    init(model: Model) {
        width = model.schema.count
        scorer = Scorer(model: model, capacity: Self.rowsPerPass)
        rows = []
        categories = []
        standardised = [Float](repeating: 0, count: width)
    }

    /// For every request, in the order of `requests`: the `limit` features that raise its
    /// head's probability most, largest contribution first; features that lower it are left
    /// out.
    func explain(_ requests: [Request], limit: Int) -> [[FeatureContribution]] {
        guard limit > 0 else { return requests.map { _ in [] } }
        var results: [[FeatureContribution]] = []
        results.reserveCapacity(requests.count)
        var pass: [(request: Request, candidates: [Int], firstRow: Int)] = []
        var passRows = 0
        for request in requests {
            let candidates = candidates(request.features)
            if passRows > 0, passRows + candidates.count + 1 > Self.rowsPerPass {
                results += score(pass, rows: passRows, limit: limit)
                pass.removeAll(keepingCapacity: true)
                passRows = 0
            }
            pass.append((request, candidates, passRows))
            passRows += candidates.count + 1
        }
        if passRows > 0 { results += score(pass, rows: passRows, limit: limit) }
        return results
    }

    /// Scores one pass: for each alert, row `firstRow` is the event as it is and row
    /// `firstRow + 1 + i` is the event with candidate i at its training mean (0 after
    /// standardisation); the scorer builds those rows from the event's own.
    private func score(
        _ pass: [(request: Request, candidates: [Int], firstRow: Int)], rows count: Int,
        limit: Int
    ) -> [[FeatureContribution]] {
        if rows.count < count * width {
            rows += [Float](repeating: 0, count: count * width - rows.count)
        }
        categories.removeAll(keepingCapacity: true)
        for (request, candidates, firstRow) in pass {
            rows.replaceSubrange(
                (firstRow * width)..<((firstRow + 1) * width), with: request.features)
            categories += repeatElement(request.category, count: candidates.count + 1)
        }
        let occlusion = InputOcclusion(
            groups: pass.map { InputOcclusion.Group(baseRow: $0.firstRow, columns: $0.candidates) })
        rows.withUnsafeBufferPointer {
            scorer.score($0.baseAddress!, categories: categories[...], occlusion: occlusion)
        }
        let names = scorer.model.schema.names
        return pass.map { request, candidates, firstRow in
            let probabilities = scorer.probabilities(head: request.head)
            let full = Double(probabilities[firstRow])
            var contributions: [FeatureContribution] = []
            for (position, column) in candidates.enumerated() {
                let drop = full - Double(probabilities[firstRow + 1 + position])
                guard drop > 0 else { continue }
                contributions.append(
                    FeatureContribution(
                        name: names[column],
                        value: Double(request.features[request.features.startIndex + column]),
                        contribution: drop))
            }
            contributions.sort { $0.contribution > $1.contribution }
            return Array(contributions.prefix(limit))
        }
    }

    /// The columns farthest from their training mean (largest |z|), at most
    /// ``candidateCount``, ties broken by column; columns the model does not use are left out.
    private func candidates(_ input: ArraySlice<Float>) -> [Int] {
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

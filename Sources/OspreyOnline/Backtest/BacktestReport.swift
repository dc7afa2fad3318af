import OspreyFeatures
import OspreyModel

/// Collects the target head's judged predictions during a backtest.
///
/// Thread: the backtest's thread only (a class so that the learner's observer can append).
final class Collector {
    let head: String
    var probabilities: [Double] = []
    var labels: [Int32] = []
    var times: [Int64] = []
    var users: [UInt64] = []

    init(head: String) { self.head = head }

    func add(_ observation: OnlineLearner.Observation) {
        guard observation.head == head else { return }
        probabilities.append(observation.probability)
        labels.append(observation.label)
        times.append(observation.eventTimeMs)
        users.append(observation.userKey)
    }
}

extension Backtest {
    /// Trains the first model on the warm-up rows with the offline recipe.
    static func firstModel(
        _ builder: DatasetBuilder, _ schema: FeatureSchema, _ options: BacktestOptions
    ) throws -> Model {
        let configuration = options.modelConfiguration
        let vocabulary = builder.vocabulary(interestClasses: configuration.interestClasses)
        var dataset = builder.finish(heads: KnownHead.allCases, vocabulary: vocabulary)
        if let heads = configuration.heads {
            // Rows that carry no label of the chosen heads teach nothing; leave them out.
            let labelled = (0..<dataset.count).filter { row in
                heads.contains { (dataset.labels[$0.rawValue]?[row] ?? -1) >= 0 }
            }
            dataset = dataset.subset(labelled)
        }
        let (model, _, _) = try TrainingRun.train(
            dataset, schema: schema, vocabulary: vocabulary, configuration: configuration,
            createdAt: "backtest")
        model.version = "1"
        return model
    }

    /// The target head's figures per week of event time, from the first judged event's day;
    /// card precision@100 (a mean over the week's days) for handbook files only.
    static func weeks(_ result: BacktestResult, handbook: Bool) -> [BacktestWeek] {
        guard let first = result.eventTimesMs.min() else { return [] }
        let firstDay = DatasetBuilder.day(ms: first)
        var byWeek: [Int64: [Int]] = [:]
        for (row, time) in result.eventTimesMs.enumerated() {
            byWeek[(DatasetBuilder.day(ms: time) - firstDay) / 7, default: []].append(row)
        }
        return byWeek.keys.sorted().map { week in
            let rows = byWeek[week]!
            let p = rows.map { result.probabilities[$0] }
            let y = rows.map { result.labels[$0] }
            let card =
                handbook
                ? DailyMetrics.cardPrecisionAtK(
                    scores: p, labels: y,
                    days: rows.map { DatasetBuilder.day(ms: result.eventTimesMs[$0]) },
                    customers: rows.map { String(result.users[$0]) }, k: Evaluation.topK)
                : nil
            return BacktestWeek(
                firstDay: firstDay + week * 7, labels: rows.count,
                positives: y.reduce(0) { $0 + Int($1) },
                aucROC: BinaryMetrics.rocAUC(scores: p, labels: y),
                averagePrecision: BinaryMetrics.averagePrecision(scores: p, labels: y),
                cardPrecision: card)
        }
    }
}

/// The Fraud Detection Handbook's per-day top-k metrics.
///
/// Both take, per row, the score, the label, the day (whole days since the epoch) and the
/// customer (card), and average a daily precision over the days present.
public enum DailyMetrics {
    /// Precision@k per day: of each day's `k` highest-scored transactions, the share that
    /// are frauds (divided by `k` even when the day has fewer rows), averaged over days.
    public static func precisionAtK(
        scores: [Double], labels: [Int32], days: [Int64], k: Int
    ) -> Double {
        var byDay: [Int64: [Int]] = [:]
        for index in scores.indices { byDay[days[index], default: []].append(index) }
        guard !byDay.isEmpty else { return 0 }
        var total = 0.0
        for rows in byDay.values {
            let top = rows.sorted {
                scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1)
            }
            .prefix(k)
            total += Double(top.reduce(0) { $0 + (labels[$1] == 1 ? 1 : 0) }) / Double(k)
        }
        return total / Double(byDay.count)
    }

    /// Card precision@k as the handbook defines it (`card_precision_top_k`): for each test
    /// day in order, drop the customers already detected on earlier days, give each
    /// remaining customer the highest score and the highest label among their transactions
    /// that day, take the `k` customers with the highest score, and count those with a
    /// fraud; the daily value is that count over `k`. Frauds found among the top `k` are
    /// added to the detected set. The result is the mean over days.
    ///
    /// Equal scores are ordered by customer for determinism (the handbook leaves their order
    /// to pandas' unstable sort).
    public static func cardPrecisionAtK(
        scores: [Double], labels: [Int32], days: [Int64], customers: [String], k: Int
    ) -> Double {
        var byDay: [Int64: [Int]] = [:]
        for index in scores.indices { byDay[days[index], default: []].append(index) }
        guard !byDay.isEmpty else { return 0 }
        var detected: Set<String> = []
        var total = 0.0
        for day in byDay.keys.sorted() {
            var best: [String: (score: Double, fraud: Bool)] = [:]
            for index in byDay[day]! where !detected.contains(customers[index]) {
                let previous = best[customers[index]]
                best[customers[index]] = (
                    max(previous?.score ?? -.infinity, scores[index]),
                    (previous?.fraud ?? false) || labels[index] == 1
                )
            }
            let ranked = best.sorted {
                $0.value.score > $1.value.score
                    || ($0.value.score == $1.value.score && $0.key < $1.key)
            }
            let found = ranked.prefix(k).filter(\.value.fraud).map(\.key)
            total += Double(found.count) / Double(k)
            detected.formUnion(found)
        }
        return total / Double(byDay.count)
    }

    /// The share of rows whose label is among the `k` most probable classes
    /// (`probabilities: [rows, width]`); rows with a negative label are skipped.
    public static func topKAccuracy(probabilities: [Double], width: Int, labels: [Int32], k: Int)
        -> Double
    {
        var hits = 0
        var rows = 0
        for (row, label) in labels.enumerated() where label >= 0 {
            rows += 1
            let values = probabilities[(row * width)..<((row + 1) * width)]
            let own = values[values.startIndex + Int(label)]
            // Rank = classes strictly more probable; ties count in the label's favour.
            let above = values.reduce(0) { $0 + ($1 > own ? 1 : 0) }
            if above < k { hits += 1 }
        }
        return rows == 0 ? 0 : Double(hits) / Double(rows)
    }
}

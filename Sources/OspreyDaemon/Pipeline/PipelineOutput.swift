import OspreyCore
import OspreyKafka
import OspreyModel

/// Scoring the micro-batch and writing what it produces: alerts, score records, metrics.
extension Pipeline {
    /// Scores the batch (if any), writes alerts and score records, and empties it.
    func scoreBatch() throws {
        let rows = batch.count
        guard rows > 0 else {
            applyQueuedLabels()
            return
        }
        defer { batch.reset() }
        let started = ContinuousClock.now
        let categories = model.categoryInputs.isEmpty ? [] : batch.categories
        batch.features.withUnsafeBufferPointer {
            scorer.score($0.baseAddress!, rows: rows, categories: categories[...])
        }
        metrics.scoringLatency.labels().observe((ContinuousClock.now - started).totalSeconds)
        metrics.batchSize.labels().observe(Double(rows))

        let heads = model.heads
        let scoreHistograms = heads.map { metrics.scores.labels($0.name) }
        let endToEnd = metrics.endToEndLatency.labels()
        let now = wallClockMilliseconds()
        var alerts: [PendingAlert] = []
        for (row, item) in batch.items.enumerated() where item.writesOutput {
            var scores: [(head: String, score: HeadScore)] = []
            var probabilities: [(head: String, probability: Double)] = []
            for (index, head) in heads.enumerated() {
                let values = scorer.probabilities(head: index)
                if head.kind.isSigmoid {
                    let probability = Double(values[row])
                    scores.append((head.name, .probability(probability)))
                    probabilities.append((head.name, probability))
                    scoreHistograms[index].observe(probability)
                } else {
                    let base = row * head.width
                    let classes = head.kind.classes.enumerated().map { position, label in
                        (label: label, probability: Double(values[base + position]))
                    }
                    scores.append((head.name, .distribution(classes)))
                }
            }
            if let topic = settings.scoresTopic {
                let record = ScoreRecord(
                    eventID: item.eventID, modelVersion: modelVersionNumber, scores: scores)
                send(topic: topic, key: item.userID, value: record.json())
            }
            let fired = policy.decide(
                probabilities: probabilities, eventType: item.type, eventTimeMs: item.eventTimeMs)
            if !fired.isEmpty {
                alerts.append(PendingAlert(item: item, row: row, scores: scores, fired: fired))
            } else if probabilities.contains(where: { head, probability in
                AlertPolicy.judges(head: head, eventType: item.type)
                    && (settings.thresholds[head].map { probability > $0 } ?? false)
            }) {
                metrics.alertsSuppressed.labels().increment()
            }
            if let sent = item.messageTimeMs {
                endToEnd.observe(Double(max(0, now - sent)) / 1000)
            }
        }
        writeAlerts(alerts, now: now)
        keepScoredRows()
        applyQueuedLabels()
    }

    /// An alert decided while the batch's scores were read, written once all of them are
    /// explained together.
    private struct PendingAlert {
        let item: ScoringBatch.Item
        let row: Int
        let scores: [(head: String, score: HeadScore)]
        let fired: [FiredHead]
    }

    /// Explains the batch's alerts in one go (each by the strongest head that fired) and
    /// writes them in the order of their events.
    private func writeAlerts(_ alerts: [PendingAlert], now: Int64) {
        guard !alerts.isEmpty else { return }
        let requests = alerts.map { alert in
            let strongest = alert.fired.max { $0.score < $1.score }!
            return Attribution.Request(
                features: batch.features(of: alert.row), category: alert.item.category,
                head: model.headIndex(strongest.head) ?? 0)
        }
        let explanations = attribution.explain(requests, limit: settings.alertTopFeatures)
        for (pending, top) in zip(alerts, explanations) {
            writeAlert(pending, topFeatures: top, now: now)
        }
    }

    private func writeAlert(
        _ pending: PendingAlert, topFeatures top: [FeatureContribution], now: Int64
    ) {
        let (item, scores, fired) = (pending.item, pending.scores, pending.fired)
        let alert = Alert(
            eventID: item.eventID, eventType: item.type, userID: item.userID,
            eventTimeMs: item.eventTimeMs,
            source: SourcePosition(
                topic: settings.eventsTopic, partition: item.partition, offset: item.offset),
            scores: scores, fired: fired, topFeatures: top, modelVersion: modelVersionNumber,
            instance: settings.instanceName, emittedAtMs: now)
        send(topic: settings.alertsTopic, key: item.userID, value: alert.json())
        for head in fired {
            metrics.alerts.labels(head.head).increment()
            summary.alerts[head.head, default: 0] += 1
        }
    }

    private func send(topic: String, key: String, value: [UInt8]) {
        do {
            try joinTransaction()
            try producer.send(topic: topic, key: Array(key.utf8), value: value)
        } catch {
            producerFailed(error)
        }
    }
}

import OspreyCore
import OspreyFeatures
import OspreyModel
import OspreyOnline

/// The label join in the pipeline: scored events keep the vector and scores of their
/// decision, labels join them by event id, and the trainer is handed its work.
///
/// Order: a label read from Kafka waits in ``DaemonLearning/pendingLabels`` until the batch
/// being filled is scored, because the event it judges may be in that batch; then, batch by
/// batch, every scored event is kept and shown to its partition's self-labeller (whose
/// purchase and interest labels apply at once), and the queued labels are joined.
///
/// Thread: the pipeline thread.
extension Pipeline {
    /// Queues a decoded label for the join after the current batch.
    func queueForJoin(label event: DecodedEvent, partition: Int32) {
        let verdict: Verdict
        if event.judgesBehaviour {
            verdict = event.labelFraud ? .bot : .human
        } else if event.labelFraud {
            verdict = .fraud(type: decoder.text(of: .fraudType))
        } else {
            verdict = .legit
        }
        learning.pendingLabels.append(
            (
                partition,
                DelayedLabel(eventKey: event.eventHash, timeMs: event.timestampMs, verdict: verdict)
            ))
    }

    /// Keeps every row of the batch just scored in its partition's join store (when a head
    /// learns from its kind of event) with every head's outputs, and lets the partition's
    /// self-labeller see it. Rows replayed after a restart are kept again (the newer entry
    /// replaces the older).
    func keepScoredRows() {
        guard learning.accepts(model) else { return }
        let heads = model.heads
        let outputs = heads.indices.map { scorer.probabilities(head: $0) }
        var newest: [Int32: Int64] = [:]
        for (row, item) in batch.items.enumerated() {
            guard let state = partitions[item.partition] else { continue }
            let isOrder = item.type == "order"
            let userKey = DelayedLabel.userKey(item.userID)
            if isOrder ? learning.targets.learnsFromOrders : learning.targets.learnsFromClicks {
                var values: [Float] = []
                values.reserveCapacity(learning.outputWidth)
                for (index, head) in heads.enumerated() {
                    let start = row * head.width
                    values.append(contentsOf: outputs[index][start..<(start + head.width)])
                }
                state.joinStore.keep(
                    LabelJoinStore.Entry(
                        eventKey: item.eventKey, userKey: userKey, timeMs: item.eventTimeMs,
                        category: item.category, vector: Array(batch.features(of: row)),
                        outputs: values))
            }
            let implied = state.selfLabeller.observe(
                eventKey: item.eventKey, userKey: userKey, timeMs: item.eventTimeMs,
                isOrder: isOrder, category: item.category)
            for label in implied { learning.apply(label, source: .stream, in: state) }
            newest[item.partition] = max(newest[item.partition] ?? .min, item.eventTimeMs)
        }
        for (partition, time) in newest { partitions[partition]?.joinStore.expire(now: time) }
    }

    /// Joins the labels read since the last batch, in the order they were read.
    func applyQueuedLabels() {
        guard !learning.pendingLabels.isEmpty else { return }
        for (partition, label) in learning.pendingLabels {
            guard let state = partitions[partition] else { continue }
            learning.apply(label, source: .topic, in: state)
        }
        learning.pendingLabels.removeAll(keepingCapacity: true)
    }

    /// Once a second: the quality gauges, and a training request when one is due, the trainer
    /// is idle and its last promotion serves.
    func serveLearning(now: ContinuousClock.Instant) {
        guard now - lastLearningCheck >= .seconds(1) else { return }
        lastLearningCheck = now
        learning.publishQuality()
        metrics.joinEntries.labels().set(partitions.values.reduce(0) { $0 + $1.joinStore.count })
        guard let trainer, trainer.isIdle, !awaitingPromotedSwap(trainer, now: now),
            learning.accepts(model)
        else { return }
        let intervalPassed = now - lastTrainingRequest >= settings.trainingInterval
        guard
            let request = learning.trainingRequest(
                model: model, version: modelVersionNumber, minLabels: settings.trainingMinLabels,
                intervalPassed: intervalPassed, run: trainingRequests + 1)
        else { return }
        if trainer.submit(request) {
            trainingRequests += 1
            lastTrainingRequest = now
            logger.info(
                "fine-tuning started",
                [
                    .version: .int(Int64(modelVersionNumber)), .trigger: .string(request.trigger),
                    .examples: .int(Int64(request.examples.count)),
                    .holdoutRows: .int(Int64(request.holdout.count)),
                ])
        }
    }

    /// Whether the trainer's last promotion is not serving yet: a run started now would
    /// fine-tune its parent and could not be promoted. The wait ends when the swap happens, or
    /// after 30 s (a refused swap, or an operator's rollback in between).
    private func awaitingPromotedSwap(_ trainer: BackgroundTrainer, now: ContinuousClock.Instant)
        -> Bool
    {
        let promoted = trainer.lastPromoted
        guard promoted > servedPromotion else { return false }
        let noticed = promotionNoticed ?? now
        if promoted == modelVersionNumber || now - noticed > .seconds(30) {
            servedPromotion = promoted
            promotionNoticed = nil
            return false
        }
        promotionNoticed = noticed
        return true
    }

    /// Restores the examples saved beside the checkpoints, if any; a file that cannot be
    /// used is logged and learning starts from nothing.
    func restoreTrainingState() {
        do {
            guard let restored = try trainingState.restore(into: learning) else { return }
            logger.info(
                "training examples restored",
                [
                    .examples: .int(Int64(restored.examples)),
                    .heldOut: .int(Int64(restored.heldOut)),
                    .format: .int(Int64(restored.format)),
                ])
            if restored.format < TrainingStateFile.format {
                logger.notice(
                    "training examples of an older format: their hold-out joins the replay buffer",
                    [.format: .int(Int64(restored.format))])
            }
        } catch {
            logger.error(
                "training examples refused; learning starts without them",
                [.error: .string("\(error)")])
        }
    }

    /// The fraud head's prequential AUC-ROC for the summary line, or `none`.
    var fraudAUCField: LogValue {
        guard let auc = learning.quality["fraud"]?["auc_roc"], auc.isFinite else {
            return .string("none")
        }
        return .double((auc * 1000).rounded() / 1000)
    }
}

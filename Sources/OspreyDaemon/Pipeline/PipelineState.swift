import OspreyCore
import OspreyFeatures
import OspreyKafka
import OspreyOnline

/// Partition state across rebalances and checkpoints, and the periodic chores.
extension Pipeline {
    /// Restores newly assigned partitions and checkpoints revoked ones.
    func handle(_ rebalance: KafkaRebalance) throws {
        let numbers = Set(
            rebalance.partitions.filter { $0.topic == settings.eventsTopic }.map(\.partition))
        switch rebalance.kind {
        case .assigned:
            try restore(numbers.sorted())
            if !control.isReady.exchange(true, ordering: .relaxed) {
                metrics.ready.labels().set(1)
                _ = lifecycle.handle(.ready)
                notifier.ready(status: "restored \(partitions.count) partitions")
                logger.notice("ready", [.partitions: .int(Int64(partitions.count))])
            }
        case .revoked:
            try scoreBatch()
            // Under exactly_once a checkpoint commits the one open transaction, which holds the
            // outputs of every partition: all their offsets go with it.
            let revoked =
                settings.guarantee == .exactlyOnce
                ? Array(partitions.values) : numbers.compactMap { partitions[$0] }
            if !revoked.isEmpty { try checkpoint(revoked, flushBudget: settings.shutdownTimeout) }
            for number in numbers { partitions[number] = nil }
        case .lost:
            // Another member may own them already: drop without writing anything.
            batch.reset()
            for number in numbers { partitions[number] = nil }
            logger.warning("partitions lost", [.partitions: .int(Int64(numbers.count))])
        }
    }

    /// Loads each partition's checkpoint (or starts it empty) and seeks both its topics to
    /// where the state left off.
    private func restore(_ numbers: [Int32]) throws {
        var seeks: [TopicPartitionOffset] = []
        let committed = try consumer.committed(
            numbers.map { TopicPartition(topic: settings.eventsTopic, partition: $0) },
            timeout: .seconds(10))
        for number in numbers where partitions[number] == nil {
            var outputFrom: Int64 = 0
            if let found = committed.first(where: { $0.partition == number }),
                case .exactly(let offset) = found.offset
            {
                outputFrom = offset
            }
            if let (checkpoint, refused) = try checkpoints.load(number) {
                if refused { metrics.checkpointsRefused.labels().increment() }
                let state = PartitionState(
                    partition: number, store: checkpoint.store,
                    joinStore: restoredJoinStore(checkpoint),
                    selfLabeller: learning.makeSelfLabeller(),
                    nextEventOffset: checkpoint.nextOffset,
                    nextLabelOffset: checkpoint.nextLabelOffset, outputFrom: outputFrom,
                    metrics: metrics)
                // The log goes on from the checkpoint when the store restored is the saved one;
                // otherwise the next checkpoint starts a new generation.
                state.joinLog = checkpoint.joinLog
                state.joinLog.continues =
                    checkpoint.joinLog.continues
                    && state.joinStore.endSequence == checkpoint.joinLog.endSequence
                    && checkpoint.joinStore.map(learning.fits) == true
                partitions[number] = state
                seeks.append(
                    TopicPartitionOffset(
                        topic: settings.eventsTopic, partition: number,
                        offset: .exactly(checkpoint.nextOffset)))
                if checkpoint.nextLabelOffset >= 0 {
                    seeks.append(
                        TopicPartitionOffset(
                            topic: settings.labelsTopic, partition: number,
                            offset: .exactly(checkpoint.nextLabelOffset)))
                }
                logger.info(
                    "partition restored",
                    [
                        .partition: .int(Int64(number)), .offset: .int(checkpoint.nextOffset),
                        .entities: .int(Int64(checkpoint.store.trackedEntities)),
                        .waiting: .int(Int64(partitions[number]?.joinStore.count ?? 0)),
                    ])
            } else {
                // No state: start empty from the group's position (or auto.offset.reset).
                partitions[number] = PartitionState(
                    partition: number, store: try FeatureStore(configuration: featureConfiguration),
                    joinStore: learning.makeJoinStore(), selfLabeller: learning.makeSelfLabeller(),
                    nextEventOffset: 0, nextLabelOffset: -1, outputFrom: outputFrom,
                    metrics: metrics)
                logger.info("partition starts without state", [.partition: .int(Int64(number))])
            }
        }
        if !seeks.isEmpty { try seek(seeks) }
    }

    /// Seeks the restored partitions; a seek that times out (librdkafka's fetcher threads
    /// starved on a loaded machine) is tried again twice before the daemon gives up. Seeking
    /// to the same offsets again changes nothing.
    private func seek(_ offsets: [TopicPartitionOffset]) throws {
        var attempt = 1
        while true {
            do {
                try consumer.seek(offsets, timeout: .seconds(10))
                return
            } catch {
                guard error.code == .timedOut, attempt < 3 else { throw error }
                logger.warning(
                    "seek timed out; trying again",
                    [.count: .int(Int64(offsets.count)), .error: .string("\(error)")])
                attempt += 1
            }
        }
    }

    /// The join store a checkpoint holds, when it fits the serving model; else an empty one.
    private func restoredJoinStore(_ checkpoint: PartitionCheckpoint) -> LabelJoinStore {
        guard let saved = checkpoint.joinStore else { return learning.makeJoinStore() }
        guard learning.fits(saved) else {
            logger.warning(
                "join store not restored: saved for another model layout",
                [.partition: .int(Int64(checkpoint.partition))])
            return learning.makeJoinStore()
        }
        return saved
    }

    /// Checkpoints every assigned partition and waits until the files are written.
    func checkpointAll(flushBudget: Duration) throws {
        try scoreBatch()
        try checkpoint(Array(partitions.values), flushBudget: flushBudget)
    }

    /// Makes the outputs durable, encodes the partitions' checkpoints (and the training
    /// state), and has the ``CheckpointWriter`` write them; the offsets are committed once they
    /// are written, in the order the processing guarantee needs (see `PipelineDelivery.swift`).
    ///
    /// With `wait`, returns once the files are written and the offsets committed; without, it
    /// returns after the encoding and a later ``finishCheckpoint(wait:)`` completes it. A
    /// checkpoint in flight is finished first either way. Without `wait` under at_least_once
    /// the pipeline does not stop for the producer's flush either: the encoded checkpoint is
    /// held (``heldCheckpoint``) until the outputs sent before it are settled, and only then
    /// written, so the pause is the encoding alone.
    ///
    /// - Throws: when the producer cannot deliver within `flushBudget` (nothing is written
    ///   then, so nothing is marked done that was not delivered), or, with `wait`, when a file
    ///   cannot be written.
    func checkpoint(
        _ states: [PartitionState], flushBudget: Duration, wait: Bool = true,
        trainingState saveTraining: Bool = true
    ) throws {
        try finishCheckpoint(wait: true)
        let started = ContinuousClock.now
        let ordered = states.sorted { $0.partition < $1.partition }
        var offsets: [TopicPartitionOffset] = []
        for state in ordered {
            offsets.append(
                TopicPartitionOffset(
                    topic: settings.eventsTopic, partition: state.partition,
                    offset: .exactly(state.nextEventOffset)))
            if state.nextLabelOffset >= 0 {
                offsets.append(
                    TopicPartitionOffset(
                        topic: settings.labelsTopic, partition: state.partition,
                        offset: .exactly(state.nextLabelOffset)))
            }
        }
        var job = CheckpointJob(started: started)
        let holds = !wait && settings.guarantee == .atLeastOnce
        job.offsetsAfterWrite =
            holds ? offsets : try makeOutputsDurable(offsets, budget: flushBudget)
        for state in ordered {
            job.partitions.append(try checkpoints.prepare(state, modelVersion: model.version))
        }
        if saveTraining, learning.unsaved {
            job.training = (trainingState.file, trainingState.snapshot(learning))
            learning.unsaved = false
        }
        metrics.checkpointPause.labels().observe((ContinuousClock.now - started).totalSeconds)
        if holds {
            heldCheckpoint = (job, producer.lastSentID, flushBudget)
            try releaseHeldCheckpoint(wait: false)
        } else {
            checkpointWriter.submit(job)
        }
        if wait { try finishCheckpoint(wait: true) }
    }

    /// Hands the held checkpoint to the writer once the outputs sent before it are settled;
    /// with `wait`, flushes the producer for them first.
    ///
    /// - Throws: ``KafkaError`` when, with `wait`, they are not settled within the
    ///   checkpoint's budget; the checkpoint is dropped then (the next one covers its events).
    private func releaseHeldCheckpoint(wait: Bool) throws {
        guard let (job, mark, budget) = heldCheckpoint,
            producer.settledThrough >= mark || wait
        else { return }
        heldCheckpoint = nil
        if producer.settledThrough < mark { try producer.flush(timeout: budget) }
        checkpointWriter.submit(job)
    }

    /// Completes the checkpoint in flight once its files are written (at once with `wait`):
    /// moves each written partition's join log position on, commits the offsets (those of
    /// partitions still assigned) and records the checkpoint. Does nothing when none is in
    /// flight or, without `wait`, while it is still being written.
    ///
    /// - Throws: the ``CheckpointError`` that stopped the write (nothing is committed then;
    ///   the next checkpoint writes the state again), or a commit's ``KafkaError``.
    func finishCheckpoint(wait: Bool) throws {
        try releaseHeldCheckpoint(wait: wait)
        guard let outcome = checkpointWriter.takeOutcome(wait: wait) else { return }
        let job = outcome.job
        for write in job.partitions.prefix(outcome.partitionsWritten) {
            metrics.checkpointsWritten.labels().increment()
            guard let state = partitions[write.partition] else { continue }
            state.checkpointedAt = outcome.finished
            state.joinLog = write.position
            state.outputFrom = max(state.outputFrom, write.nextEventOffset)
        }
        if let error = outcome.error {
            if job.training != nil { learning.unsaved = true }
            throw error
        }
        let owned = job.offsetsAfterWrite.filter { partitions[$0.partition] != nil }
        if !owned.isEmpty { try consumer.commit(owned) }
        let duration = outcome.finished - job.started
        metrics.checkpointDuration.labels().observe(duration.totalSeconds)
        logger.debug(
            "checkpoint written",
            [
                .partitions: .int(Int64(job.partitions.count)), .bytes: .int(Int64(job.bytes)),
                .durationMs: .int(duration.totalMilliseconds),
            ])
    }

    /// Checkpoints, the summary line, the watchdog and the state gauges, each when due.
    func servePeriodicWork() throws {
        let now = ContinuousClock.now
        _ = try producer.poll(timeout: .zero)
        let turns = checkpointTurns
        if now - lastCheckpointTurn >= settings.checkpointInterval / turns, !partitions.isEmpty,
            !checkpointWriter.isBusy, heldCheckpoint == nil
        {
            do {
                try scoreBatch()
                let numbers = partitions.keys.sorted()
                let turn = checkpointTurn % turns
                let chosen = numbers.indices.filter { $0 % turns == turn }.compactMap {
                    partitions[numbers[$0]]
                }
                try checkpoint(
                    chosen, flushBudget: settings.checkpointInterval, wait: false,
                    trainingState: turn == 0)
                checkpointTurn += 1
            } catch let error as DeliveryError {
                throw error
            } catch {
                logger.error("checkpoint failed; retrying later", [.error: .string("\(error)")])
            }
            lastCheckpointTurn = now
        }
        do {
            try finishCheckpoint(wait: false)
        } catch {
            logger.error("checkpoint failed; retrying later", [.error: .string("\(error)")])
        }
        metrics.checkpointAge.labels().set(checkpointAge.totalSeconds)
        serveLearning(now: now)
        if let interval = notifier.watchdogInterval, now - lastWatchdog >= interval / 2 {
            notifier.watchdog()
            lastWatchdog = now
        }
        if now - lastSummary >= settings.summaryInterval {
            writeSummary(seconds: (now - lastSummary).totalSeconds)
            lastSummary = now
        }
    }

    private func writeSummary(seconds: Double) {
        var entities = 0
        var bytes = 0
        for state in partitions.values {
            entities += state.store.trackedEntities
            bytes += state.store.stateBytes().totalBytes
        }
        metrics.entitiesTracked.labels().set(entities)
        metrics.stateBytes.labels().set(bytes)
        let rate = Double(summary.events) / max(seconds, 0.001)
        let lag = lagByPartition.values.reduce(0, +)
        let alerts = summary.alerts.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }
            .joined(separator: ",")
        logger.info(
            "summary",
            [
                .rate: .double((rate * 10).rounded() / 10), .lag: .int(lag),
                .alerts: .string(alerts.isEmpty ? "none" : alerts),
                .deadLetters: .int(Int64(summary.deadLetters)),
                .version: .string(model.version), .fraudAUC: fraudAUCField,
                .checkpointAgeS: .int(checkpointAge.components.seconds),
                .partitions: .int(Int64(partitions.count)),
            ])
        notifier.status("\(Int(rate)) events/s, lag \(lag), model v\(model.version)")
        summary.reset()
    }

    /// How many turns the periodic checkpoint takes to cover every partition once, each turn
    /// a share of them, one turn every `checkpoint.interval / turns`: the pause to flush and
    /// encode is then a share of the whole state's, and each partition is still checkpointed
    /// once an interval. Under exactly_once one turn covers every partition, since the one
    /// transaction commits the outputs of all.
    var checkpointTurns: Int {
        settings.guarantee == .exactlyOnce ? 1 : max(1, min(partitions.count, 32))
    }

    /// The age of the oldest partition checkpoint (since the partition was assigned, when it
    /// has none yet).
    var checkpointAge: Duration {
        guard let oldest = partitions.values.map(\.checkpointedAt).min() else { return .zero }
        return ContinuousClock.now - oldest
    }
}

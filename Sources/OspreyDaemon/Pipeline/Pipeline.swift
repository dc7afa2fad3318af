import OspreyCore
import OspreyFeatures
import OspreyKafka
import OspreyModel
import Synchronization

/// The daemon's pipeline: consume, decode, update features, score in micro-batches, alert,
/// dead-letter, checkpoint; one thread does all of it, in order, so per-partition state
/// needs no locks.
///
/// Each loop turn polls up to `batch.max.events` messages (waiting at most `batch.max.wait`
/// for the first), handles them in order, scores the batch, writes the alerts, and then
/// takes care of rebalances, signals, checkpoints, the log summary and the watchdog.
///
/// Delivery: alerts and dead letters are produced as the batch is handled; a checkpoint first
/// flushes the producer, then writes every partition's state with the offsets it covers, then
/// commits those offsets. After a crash the daemon restarts from the checkpoint: events after
/// it update the state again, and those not yet committed are scored and alerted again with
/// the same `alert_id` (at least once).
///
/// Online learning: scored events keep their vectors for the label join, joined labels are
/// judged and gathered as examples (``DaemonLearning``), and a ``BackgroundTrainer`` on its
/// own thread turns them into candidates; a promoted one reaches the loop through the serving
/// choice and the ``ModelSwap``, like an operator's promotion.
///
/// Thread: ``run()`` on the pipeline thread (the daemon's main thread); ``requestStop()`` and
/// ``requestReload()`` from the signal thread.
final class Pipeline {
    let settings: DaemonSettings
    let logger: Logger
    let metrics: DaemonMetrics
    let consumer: KafkaConsumer
    let producer: KafkaProducer
    let notifier: SystemdNotifier
    let featureConfiguration: FeatureConfiguration
    let checkpoints: CheckpointDirectory
    /// Writes the checkpoints' files while the loop goes on.
    let checkpointWriter = CheckpointWriter()
    /// An at_least_once checkpoint encoded but not yet handed to the writer: its files may
    /// be written only once every output sent before it (ids up to `mark`) is settled, or a
    /// crash could leave a checkpoint past events whose alerts were never delivered.
    var heldCheckpoint: (job: CheckpointJob, mark: UInt64, budget: Duration)?
    let decoder: EventDecoder
    var model: Model
    var scorer: Scorer
    var attribution: Attribution
    var policy: AlertPolicy
    let batch: ScoringBatch

    var partitions: [Int32: PartitionState] = [:]
    /// What the signal and metrics threads share with the loop.
    let control = PipelineControl()
    var lifecycle: Lifecycle
    /// When the last periodic checkpoint turn began, and how many turns there were (see
    /// ``checkpointTurns``).
    var lastCheckpointTurn = ContinuousClock.now
    var checkpointTurn = 0
    var lastSummary = ContinuousClock.now
    var lastWatchdog = ContinuousClock.now
    var drainStarted: ContinuousClock.Instant?
    var summary = SummaryCounters()
    var lagByPartition: [Int32: Int64] = [:]
    var producerFailures = 0
    /// Whether an exactly_once transaction is open (begun by the first output after a
    /// checkpoint).
    var transactionOpen = false
    /// The version that scores the next batch; alerts and score records carry it.
    var modelVersionNumber: Int
    /// Follows `osprey model promote` and `rollback` (see ``ModelSwap``).
    let modelSwap: ModelSwap
    /// The label join's examples and quality (see `PipelineLearning.swift`).
    let learning: DaemonLearning
    /// Nil when `training.enabled` is false.
    let trainer: BackgroundTrainer?
    let trainingState: TrainingStateFile
    var lastLearningCheck = ContinuousClock.now
    var lastTrainingRequest = ContinuousClock.now
    var trainingRequests = 0
    /// The trainer's last promotion once the pipeline served it, and when the pipeline first
    /// saw one it did not serve yet (see `PipelineLearning.swift`).
    var servedPromotion = 0
    var promotionNoticed: ContinuousClock.Instant?

    init(
        settings: DaemonSettings, logger: Logger, metrics: DaemonMetrics,
        consumer: KafkaConsumer, producer: KafkaProducer, notifier: SystemdNotifier,
        model: Model, featureConfiguration: FeatureConfiguration
    ) {
        self.settings = settings
        self.logger = logger
        self.metrics = metrics
        self.consumer = consumer
        self.producer = producer
        self.notifier = notifier
        self.model = model
        self.featureConfiguration = featureConfiguration
        scorer = Scorer(model: model, capacity: settings.batchMaxEvents)
        attribution = Attribution(model: model)
        policy = AlertPolicy(
            thresholds: settings.thresholds, budgetPerHour: settings.alertBudgetPerHour)
        batch = ScoringBatch(width: model.schema.count, capacity: settings.batchMaxEvents)
        decoder = EventDecoder(maxBytes: settings.maxEventBytes)
        checkpoints = CheckpointDirectory(
            stateDirectory: settings.stateDirectory, topic: settings.eventsTopic,
            configuration: featureConfiguration, logger: logger)
        lifecycle = Lifecycle(shutdownBudget: settings.shutdownTimeout)
        modelVersionNumber = Int(model.version) ?? 0
        modelSwap = ModelSwap(
            stateDirectory: settings.stateDirectory, registry: metrics.registry, logger: logger)
        metrics.modelVersion.labels().set(modelVersionNumber)
        learning = DaemonLearning(model: model, settings: settings.online, metrics: metrics)
        trainer =
            settings.trainingEnabled
            ? BackgroundTrainer(
                stateDirectory: settings.stateDirectory,
                keepVersions: settings.keepModelVersions, settings: settings.online,
                metrics: metrics, logger: logger)
            : nil
        trainingState = TrainingStateFile(
            checkpointDirectory: checkpoints.directory, topic: settings.eventsTopic)
    }

    /// Runs until the lifecycle says to exit; returns the exit code.
    func run() throws -> Int32 {
        try checkpoints.prepare()
        restoreTrainingState()
        trainer?.start()
        defer { trainer?.stop() }
        checkpointWriter.start()
        defer { checkpointWriter.stop() }
        try prepareDelivery()
        try consumer.subscribe(topics: [settings.eventsTopic, settings.labelsTopic])
        logger.info(
            "pipeline started",
            [.topic: .string(settings.eventsTopic), .version: .string(model.version)])
        while true {
            control.lastBeatMs.store(monotonicMilliseconds(), ordering: .relaxed)
            if let code = try handleLifecycleEvents() { return code }
            if lifecycle.state == .draining {
                if let code = try drain() { return code }
                continue
            }
            let events = try consumer.poll(
                maxMessages: settings.batchMaxEvents, timeout: settings.batchMaxWait
            ) { message in
                handle(message)
            }
            try scoreBatch()
            for event in events { try handle(event) }
            try servePeriodicWork()
            swapModelIfChosen()
        }
    }

    /// Applies queued signals to the lifecycle; returns an exit code when it says to exit.
    private func handleLifecycleEvents() throws -> Int32? {
        let pending = control.signals.withLock { queued in
            defer { queued.removeAll() }
            return queued
        }
        for event in pending {
            switch lifecycle.handle(event) {
            case .none, .announceReady: break
            case .beginDraining(let budget):
                drainStarted = .now
                notifier.stopping()
                logger.notice(
                    "stopping: finishing the batch, flushing, checkpointing",
                    [.durationMs: .int(budget.totalMilliseconds)])
            case .reload: reload()
            case .exit(let code):
                return code
            }
        }
        return nil
    }

    /// The clean stop: the batch in flight is already scored; flush, checkpoint, commit.
    private func drain() throws -> Int32? {
        let started = drainStarted ?? .now
        let budget = settings.shutdownTimeout - (ContinuousClock.now - started)
        let code: Int32
        do {
            try checkpointAll(flushBudget: max(.milliseconds(100), budget))
            _ = try consumer.close()
            code = exitCode(lifecycle.handle(.drained))
            logger.notice(
                "stopped cleanly",
                [.durationMs: .int((ContinuousClock.now - started).totalMilliseconds)])
        } catch {
            logger.error("clean stop failed", [.error: .string("\(error)")])
            code = exitCode(lifecycle.handle(.budgetSpent))
        }
        return code
    }

    private func exitCode(_ action: Lifecycle.Action) -> Int32 {
        if case .exit(let code) = action { return code }
        return ExitCode.failure
    }

    /// SIGHUP: thresholds and the log level from the configuration file again.
    private func reload() {
        notifier.reloading()
        if let path = settings.configurationPath {
            do {
                var file = try ConfigurationFile.load(path: path)
                file.applyEnvironment(
                    ConfigurationFile.processEnvironment, knownKeys: DaemonSettings.keys.map(\.key))
                let fresh = try DaemonSettings(file, hostName: settings.instanceName)
                policy.reload(thresholds: fresh.thresholds)
                LogSink.shared.minimumLevel = fresh.logLevel
                logger.notice(
                    "configuration reloaded", [.count: .int(Int64(fresh.thresholds.count))])
            } catch {
                logger.error(
                    "reload refused; keeping the running settings",
                    [
                        .error: .string("\(error)")
                    ])
            }
        }
        notifier.ready()
    }
}

/// What the loop shares with the signal thread and the metrics server.
///
/// Thread: any; a mutex and atomics.
final class PipelineControl: Sendable {
    /// Lifecycle events queued by the signal thread for the loop.
    let signals = Mutex<[Lifecycle.Event]>([])
    /// Set once the first assignment has been restored, for READY=1 and /readyz.
    let isReady = Atomic<Bool>(false)
    /// The monotonic time of the loop's last turn, in milliseconds; /healthz checks it moves.
    let lastBeatMs = Atomic<Int64>(monotonicMilliseconds())
    /// SIGTERM and SIGINT seen so far, counted by the signal thread.
    let stopRequests = Atomic<Int>(0)

    /// Asks the loop to stop cleanly.
    func requestStop() { signals.withLock { $0.append(.stopRequested) } }

    /// Asks the loop to re-read thresholds and the log level.
    func requestReload() { signals.withLock { $0.append(.reloadRequested) } }

    /// Whether the loop turned within the last 30 seconds (longer than any flush or
    /// checkpoint it waits for).
    func isHealthy() -> Bool {
        monotonicMilliseconds() - lastBeatMs.load(ordering: .relaxed) < 30_000
    }
}

/// Counts since the last summary line.
struct SummaryCounters {
    var events = 0
    var alerts: [String: Int] = [:]
    var deadLetters = 0

    mutating func reset() { self = SummaryCounters() }
}

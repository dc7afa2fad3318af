import OspreyCore
import OspreyModel
import OspreyOnline
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The trainer thread: fine-tunes a candidate from the serving model on the replay buffer,
/// judges it against the serving model on the hold-out with the ``PromotionGuard``, and on
/// promotion installs it as the next version and makes it the serving choice, which the
/// pipeline's ``ModelSwap`` then loads and swaps in between two batches.
///
/// Hand-over: the pipeline thread calls ``submit(_:)`` with a ``Request`` (copies of the
/// examples and the serving model's bytes) only when the trainer is idle; ``submit(_:)``
/// takes the mutex for as long as a pointer assignment and never waits for a run. A new
/// request never interrupts a run in progress, it waits until the run is over; only
/// ``stop()`` ends a run early, between two steps.
///
/// A promoted version's metadata records its parent (`parent_version`), the guard's verdict
/// per head (`metrics`) and notes with the reason, the trigger and the example counts; the
/// history (`osprey model list`) records the reason. A rejection is logged with the guard's
/// reason and counted in `osprey_model_rejections_total{reason}`.
///
/// CPU: the daemon runs OpenBLAS on one thread, and this thread runs at a lower priority
/// (nice 10) than the pipeline, so on a busy machine scoring goes first. A run's work is
/// bounded by `training.steps`.
///
/// Thread: ``start()``, ``submit(_:)``, ``isIdle`` and ``stop()`` on the pipeline thread; the
/// run itself on the trainer's own thread, which touches only its request, the model files
/// and the (thread-safe) metrics and log.
final class BackgroundTrainer: Sendable {
    /// What one run needs, copied from the pipeline thread.
    struct Request: Sendable {
        /// The serving model's file bytes: the trainer decodes its own copy.
        let modelBytes: [UInt8]
        let servingVersion: Int
        let examples: [TrainingExample]
        /// The buffer without its extra positives, for calibration.
        let calibration: [TrainingExample]
        /// Each head's held-out examples, never trained on.
        let holdout: Holdout
        /// `labels` or `interval`: what made the run due.
        let trigger: String
        /// The run's number since start; seeds its shuffling.
        let run: Int
    }

    private let pending = Mutex<Request?>(nil)
    private let busy = Atomic<Bool>(false)
    private let promoted = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let wake = WakeSignal()
    private let thread = Mutex<JoinableThread?>(nil)
    private let versions: ModelVersions
    private let keepVersions: Int
    private let settings: OnlineSettings
    private let metrics: DaemonMetrics
    private let logger: Logger

    init(
        stateDirectory: String, keepVersions: Int, settings: OnlineSettings,
        metrics: DaemonMetrics, logger: Logger
    ) {
        versions = ModelVersions(stateDirectory: stateDirectory)
        self.keepVersions = keepVersions
        self.settings = settings
        self.metrics = metrics
        self.logger = logger
    }

    /// Starts the thread; it waits for requests.
    func start() {
        thread.withLock { running in
            guard running == nil else { return }
            running = JoinableThread(name: "osprey-trainer") { [self] in loop() }
        }
    }

    /// Whether no run is queued or in progress.
    var isIdle: Bool { !busy.load(ordering: .acquiring) }

    /// The version this trainer promoted last (0 before any): until the pipeline serves it,
    /// a new run would start from a parent that no longer is the serving choice.
    var lastPromoted: Int { promoted.load(ordering: .acquiring) }

    /// Queues `request` when the trainer is idle; returns whether it was taken.
    func submit(_ request: Request) -> Bool {
        guard
            busy.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing)
                .exchanged
        else { return false }
        pending.withLock { $0 = request }
        wake.signal()
        return true
    }

    /// Asks the thread to end and waits for it: at once when idle; a run in progress ends at
    /// its next optimisation step and is abandoned (neither promoted nor counted as rejected),
    /// so a stop waits for one step and, at most, for the judging of a finished run.
    func stop() {
        stopping.store(true, ordering: .releasing)
        wake.signal()
        let running = thread.withLock { $0.take() }
        running?.join()
    }

    private func loop() {
        // On Linux the nice value is per thread, and `who` 0 names the calling thread alone.
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
        while true {
            wake.wait()
            if stopping.load(ordering: .acquiring) { return }
            guard let request = pending.withLock({ $0.take() }) else { continue }
            train(request)
            busy.store(false, ordering: .releasing)
        }
    }

    /// One run: fine-tune, judge, then promote or reject.
    private func train(_ request: Request) {
        let started = ContinuousClock.now
        defer {
            metrics.trainingDuration.labels().observe((ContinuousClock.now - started).totalSeconds)
        }
        let serving: Model
        let run: FineTuner.Run
        do {
            serving = try Model.decode(
                request.modelBytes, path: "serving version \(request.servingVersion)",
                expecting: nil)
            serving.version = String(request.servingVersion)
            var fineTune = settings.fineTune
            fineTune.seed = UInt64(request.run)
            run = try FineTuner.fineTune(
                serving, examples: request.examples, calibration: request.calibration,
                settings: fineTune, stop: { self.stopping.load(ordering: .acquiring) })
        } catch {
            return reject("failed", detail: "\(error)", request: request, started: started)
        }
        guard !run.wasStopped else {
            logger.info(
                "fine-tuning abandoned; the daemon is stopping",
                [
                    .parentVersion: .int(Int64(request.servingVersion)),
                    .steps: .int(Int64(run.steps)),
                    .durationMs: .int((ContinuousClock.now - started).totalMilliseconds),
                ])
            return
        }
        metrics.trainingRuns.labels().increment()
        metrics.trainingLoss.labels().set(run.meanLoss)
        let slice = request.holdout.dataset(heads: serving.heads, width: serving.schema.count)
        let decision = settings.promotion.judge(
            candidate: run.candidate, serving: serving, on: slice)
        guard decision.promoted else {
            return reject(
                rejectionReason(decision), detail: decision.reason, request: request,
                started: started, loss: run.meanLoss)
        }
        promote(
            run.candidate, decision: decision, loss: run.meanLoss, request: request,
            started: started)
    }

    /// Installs `candidate` as the next version and makes it the serving choice.
    private func promote(
        _ candidate: Model, decision: PromotionGuard.Decision, loss: Double, request: Request,
        started: ContinuousClock.Instant
    ) {
        do {
            // An operator's promote or rollback during the run wins: a candidate of another
            // parent is not put over their choice.
            let chosen = try versions.servingVersion()
            guard chosen == request.servingVersion else {
                return reject(
                    "serving_changed",
                    detail: "version \(chosen.map(String.init) ?? "none") serves now, not the"
                        + " parent \(request.servingVersion)", request: request, started: started,
                    loss: loss)
            }
            let version = max(versions.catalog.versions().last ?? 0, request.servingVersion) + 1
            candidate.parentVersion = String(request.servingVersion)
            candidate.createdAt = TimestampText.rfc3339(milliseconds: wallClockMilliseconds())
            var judged: [String: [String: Double]] = [:]
            for comparison in decision.comparisons {
                judged[comparison.head] = ["holdout_" + comparison.metric: comparison.candidate]
            }
            candidate.metrics = judged
            candidate.notes["origin"] = "online fine-tuning"
            candidate.notes["reason"] = decision.reason
            candidate.notes["trigger"] = request.trigger
            candidate.notes["examples"] = String(request.examples.count)
            candidate.notes["holdout_rows"] = String(decision.rows)
            try versions.catalog.install(candidate, as: version)
            let change = try versions.promote(
                version, reason: "online fine-tuning: " + decision.reason, keep: keepVersions)
            promoted.store(change.to, ordering: .releasing)
            metrics.promotions.labels().increment()
            logger.notice(
                "candidate promoted",
                [
                    .version: .int(Int64(change.to)),
                    .parentVersion: .int(Int64(request.servingVersion)),
                    .trigger: .string(request.trigger), .loss: .double(rounded(loss)),
                    .examples: .int(Int64(request.examples.count)),
                    .holdoutRows: .int(Int64(decision.rows)), .reason: .string(decision.reason),
                    .durationMs: .int((ContinuousClock.now - started).totalMilliseconds),
                ])
        } catch {
            reject("failed", detail: "\(error)", request: request, started: started, loss: loss)
        }
    }

    private func reject(
        _ reason: String, detail: String, request: Request, started: ContinuousClock.Instant,
        loss: Double? = nil
    ) {
        metrics.rejections.labels(reason).increment()
        logger.warning(
            "candidate rejected; the serving model stays",
            [
                .reason: .string(reason), .error: .string(detail),
                .parentVersion: .int(Int64(request.servingVersion)),
                .trigger: .string(request.trigger),
                .loss: loss.map { .double(rounded($0)) } ?? .string("none"),
                .examples: .int(Int64(request.examples.count)),
                .durationMs: .int((ContinuousClock.now - started).totalMilliseconds),
            ])
    }

    /// `target_unjudged`, `target_worse` or `tolerance`: which rule of the guard refused.
    private func rejectionReason(_ decision: PromotionGuard.Decision) -> String {
        guard
            let target = decision.comparisons.first(where: {
                $0.head == settings.promotion.targetHead
            })
        else { return "target_unjudged" }
        return target.drop > 0 ? "target_worse" : "tolerance"
    }

    private func rounded(_ value: Double) -> Double { (value * 10_000).rounded() / 10_000 }
}

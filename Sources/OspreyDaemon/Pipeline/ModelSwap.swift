import OspreyCore
import OspreyFeatures
import OspreyModel
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Follows the serving choice (``ServingChoice``, `STATE/models/serving`) while the daemon
/// runs, so that `osprey model promote` and `rollback` take effect without a restart.
///
/// About once a second, between micro-batches, the pipeline thread stats the choice file (a
/// few microseconds). When the file changed and names another version than the one serving,
/// a loader thread reads that version's file, verifies it (checksum, tensors, metadata) and
/// that its feature schema is the serving one, and builds its scorer and attribution; the
/// pipeline goes on consuming and scoring with the old model meanwhile. At the pipeline's next
/// turn after the load, with the batch empty, ``Pipeline/swapModelIfChosen()`` replaces
/// model, scorer and attribution in three assignments on the pipeline thread, and every
/// alert and score record from then on carries the new version. The log line `model swapped`
/// gives the old and new versions and the loader's time (`duration_ms`), which the pipeline
/// did not wait for.
///
/// Why the scorer never sees a half-written model: the choice file and the model files are
/// only ever replaced by renaming a complete, fsynced file into place, so the loader reads a
/// whole file or none; the loader checks the file's checksum before the model is used; and
/// the swap happens on the one thread that scores, between batches, never during one.
///
/// A version that is missing, fails its checksum or parse, or was trained on another feature
/// schema is refused: the daemon logs `model swap refused` with the reason, counts it in
/// `osprey_model_swaps_refused_total{reason}`, keeps serving the old model, and does not try
/// that choice again until the file changes.
///
/// Thread: ``poll(servingVersion:schema:capacity:)`` on the pipeline thread only; the loader
/// thread touches nothing but the files and its ``Handoff``.
final class ModelSwap {
    /// A loaded, checked model with its scorer and attribution, ready to serve.
    ///
    /// Built on the loader thread, which lets go of it when it puts it in the handoff; from
    /// then on only the pipeline thread uses it (hence `@unchecked`).
    final class Replacement: @unchecked Sendable {
        let version: Int
        let model: Model
        let scorer: Scorer
        let attribution: Attribution
        /// How long the loader thread took to read, check and prepare it.
        let loadDuration: Duration

        init(version: Int, model: Model, capacity: Int, started: ContinuousClock.Instant) {
            self.version = version
            self.model = model
            scorer = Scorer(model: model, capacity: capacity)
            attribution = Attribution(model: model)
            loadDuration = ContinuousClock.now - started
        }
    }

    enum Outcome: Sendable {
        case ready(Replacement)
        case refused(version: Int, reason: String, detail: String)
    }

    /// Where the loader thread leaves its outcome for the pipeline thread.
    final class Handoff: Sendable {
        let slot = Mutex<Outcome?>(nil)
    }

    /// What identifies one version of the choice file: a rename gives a new inode.
    struct FileStamp: Equatable {
        let inode: UInt64
        let size: Int64
        let seconds: Int
        let nanoseconds: Int

        init?(path: String) {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            inode = UInt64(info.st_ino)
            size = Int64(info.st_size)
            seconds = Int(info.st_mtim.tv_sec)
            nanoseconds = Int(info.st_mtim.tv_nsec)
        }
    }

    private let versions: ModelVersions
    private let interval: Duration
    private let logger: Logger
    private let swaps: Family<Counter>
    private let refusals: Family<Counter>
    private let handoff = Handoff()
    private var loader: JoinableThread?
    private var nextCheck = ContinuousClock.now
    private var seen: FileStamp?

    /// - Parameter interval: how often the choice file is checked.
    init(
        stateDirectory: String, registry: MetricsRegistry, logger: Logger,
        interval: Duration = .seconds(1)
    ) {
        versions = ModelVersions(stateDirectory: stateDirectory)
        self.interval = interval
        self.logger = logger
        swaps = registry.counter(
            "osprey_model_swaps_total", help: "Serving model replaced while running.")
        refusals = registry.counter(
            "osprey_model_swaps_refused_total",
            help: "Serving choices the daemon did not swap to, by reason.", labels: ["reason"])
        // `seen` starts empty: the first check reads the choice and compares it with the
        // serving version, so a promotion made while the daemon started is not missed.
    }

    /// A replacement to install now, or nil; checks the choice file when it is due.
    ///
    /// Thread: the pipeline thread, between batches.
    func poll(servingVersion: Int, schema: FeatureSchema, capacity: Int) -> Replacement? {
        if let running = loader {
            guard let outcome = handoff.slot.withLock({ slot in slot.take() }) else { return nil }
            running.join()
            loader = nil
            switch outcome {
            case .ready(let replacement):
                swaps.labels().increment()
                return replacement
            case .refused(let version, let reason, let detail):
                refuse(version: version, reason: reason, detail: detail)
                return nil
            }
        }
        let now = ContinuousClock.now
        guard now >= nextCheck else { return nil }
        nextCheck = now + interval
        let stamp = FileStamp(path: versions.choicePath)
        guard let stamp, stamp != seen else { return nil }
        seen = stamp
        let chosen: Int
        do {
            guard let choice = try versions.choice() else { return nil }
            chosen = choice.version
        } catch {
            refuse(version: 0, reason: "damaged_choice", detail: "\(error)")
            return nil
        }
        guard chosen != servingVersion else { return nil }
        logger.info("loading the chosen model", [.version: .int(Int64(chosen))])
        let versions = self.versions
        let handoff = self.handoff
        loader = JoinableThread(name: "osprey-model-loader") {
            let outcome = ModelSwap.load(
                chosen, from: versions, schema: schema, capacity: capacity)
            handoff.slot.withLock { $0 = outcome }
        }
        return nil
    }

    /// Loads and checks `version`; runs on the loader thread.
    private static func load(
        _ version: Int, from versions: ModelVersions, schema: FeatureSchema, capacity: Int
    ) -> Outcome {
        let started = ContinuousClock.now
        let model: Model
        do {
            model = try versions.load(version)
        } catch {
            if case .noSuchVersion = error {
                return .refused(version: version, reason: "missing", detail: "\(error)")
            }
            return .refused(version: version, reason: "unusable", detail: "\(error)")
        }
        guard model.schema.hash == schema.hash else {
            return .refused(
                version: version, reason: "schema",
                detail: "feature schema \(model.schema.hash) (\(model.schema.count) features) "
                    + "differs from the serving \(schema.hash) (\(schema.count) features)")
        }
        return .ready(
            Replacement(version: version, model: model, capacity: capacity, started: started))
    }

    private func refuse(version: Int, reason: String, detail: String) {
        refusals.labels(reason).increment()
        logger.error(
            "model swap refused; serving the previous model",
            [.version: .int(Int64(version)), .reason: .string(reason), .error: .string(detail)])
    }
}

extension Pipeline {
    /// Installs the model the serving choice names once it is loaded and checked (see
    /// ``ModelSwap``); does nothing while a batch is pending.
    ///
    /// Thread: the pipeline thread, between batches.
    func swapModelIfChosen() {
        guard batch.count == 0,
            let replacement = modelSwap.poll(
                servingVersion: modelVersionNumber, schema: model.schema,
                capacity: settings.batchMaxEvents)
        else { return }
        let old = modelVersionNumber
        model = replacement.model
        scorer = replacement.scorer
        attribution = replacement.attribution
        modelVersionNumber = replacement.version
        metrics.modelVersion.labels().set(replacement.version)
        logger.notice(
            "model swapped",
            [
                .oldVersion: .int(Int64(old)), .version: .int(Int64(replacement.version)),
                .durationMs: .int(replacement.loadDuration.totalMilliseconds),
            ])
    }
}

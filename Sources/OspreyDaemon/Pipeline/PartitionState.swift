import OspreyCore
import OspreyFeatures
import OspreyOnline

#if canImport(Glibc)
    import Glibc
#endif

/// One assigned partition's state: its feature store, its label join store (the vectors of
/// scored events waiting for labels) and self-labeller, and how far they have read the events
/// and labels partitions of that number.
///
/// Thread: the pipeline thread only.
final class PartitionState {
    let partition: Int32
    let store: FeatureStore
    /// Checkpointed with ``store``: its index in the checkpoint, its entries in the join log.
    var joinStore: LabelJoinStore
    /// How much of the partition's join log the last checkpoint covers.
    var joinLog = JoinLogPosition()
    /// Clicks waiting for their purchase and interest self-labels.
    ///
    /// - Important: not checkpointed: after a restart, clicks scored before it get no
    ///   self-label (their entries wait in the join store until the TTL).
    var selfLabeller: SelfLabeller
    /// The next event offset to apply to ``store``.
    var nextEventOffset: Int64
    /// The next label offset to apply; -1 before the first label.
    var nextLabelOffset: Int64
    /// Events below this offset were already scored and their alerts delivered before a
    /// restart: they update the store again but write nothing.
    var outputFrom: Int64
    /// When the partition's last checkpoint was on disk (its assignment, before the first).
    var checkpointedAt = ContinuousClock.now
    /// `osprey_events_consumed_total` of this partition for clicks and for orders, looked up
    /// once rather than per event (a lookup takes the family's lock).
    let clicksConsumed: Counter
    let ordersConsumed: Counter

    init(
        partition: Int32, store: FeatureStore, joinStore: LabelJoinStore,
        selfLabeller: SelfLabeller, nextEventOffset: Int64, nextLabelOffset: Int64,
        outputFrom: Int64, metrics: DaemonMetrics
    ) {
        self.partition = partition
        self.store = store
        self.joinStore = joinStore
        self.selfLabeller = selfLabeller
        self.nextEventOffset = nextEventOffset
        self.nextLabelOffset = nextLabelOffset
        self.outputFrom = outputFrom
        clicksConsumed = metrics.eventsConsumed.labels("click", String(partition))
        ordersConsumed = metrics.eventsConsumed.labels("order", String(partition))
    }
}

/// Reads and writes partition checkpoints under `STATE/checkpoints/`, one file (and its
/// previous version) per events partition.
///
/// Thread: the pipeline thread only.
struct CheckpointDirectory {
    let directory: String
    let topic: String
    let configuration: FeatureConfiguration
    let logger: Logger

    init(stateDirectory: String, topic: String, configuration: FeatureConfiguration, logger: Logger)
    {
        directory = stateDirectory + "/checkpoints"
        self.topic = topic
        self.configuration = configuration
        self.logger = logger
    }

    /// Creates the directory (and the state directory) when missing.
    ///
    /// - Throws: ``CheckpointError/io(path:operation:errno:)`` when it cannot.
    func prepare() throws(CheckpointError) {
        let code = makeDirectories(directory)
        guard code == 0 else { throw .io(path: directory, operation: "mkdir", errno: code) }
    }

    func file(for partition: Int32) -> CheckpointFile {
        CheckpointFile(directory: directory, name: "\(topic)-\(partition)")
    }

    /// The newest checkpoint of `partition` that loads whole, or nil when there is none.
    ///
    /// A damaged newest file is refused with a log line and the previous one is used; when
    /// both are damaged, this throws rather than start the partition from nothing.
    ///
    /// - Returns: the checkpoint and whether a damaged newer file was refused.
    func load(_ partition: Int32) throws(CheckpointError) -> (PartitionCheckpoint, refused: Bool)? {
        let file = file(for: partition)
        let paths: [String] = [file.currentPath, file.previousPath]
        let candidates = paths.filter { access($0, F_OK) == 0 }
        guard !candidates.isEmpty else { return nil }
        var lastError: CheckpointError?
        for (index, path) in candidates.enumerated() {
            do throws(CheckpointError) {
                let payload = try file.load(path)
                let checkpoint = try PartitionCheckpoint.decode(
                    payload, path: path, configuration: configuration)
                return (try withJoinLog(checkpoint, path: path), index > 0)
            } catch {
                logger.error(
                    "checkpoint refused", [.path: .string(path), .error: .string("\(error)")])
                lastError = error
            }
        }
        throw lastError!
    }

    func joinLog(for partition: Int32) -> JoinLogFile {
        JoinLogFile(directory: directory, topic: topic, partition: partition)
    }

    /// A format 3 checkpoint with its join store read back from the join log.
    private func withJoinLog(_ checkpoint: PartitionCheckpoint, path: String)
        throws(CheckpointError) -> PartitionCheckpoint
    {
        guard let index = checkpoint.joinIndex else { return checkpoint }
        let position = checkpoint.joinLog
        let records = try joinLog(for: checkpoint.partition).records(
            generation: position.generation, length: position.length)
        let joinStore: LabelJoinStore
        do {
            joinStore = try LabelJoinStore(logIndex: index, records: records)
        } catch {
            throw .malformedPayload(path: path, reason: "join log: \(error)")
        }
        return PartitionCheckpoint(
            topic: checkpoint.topic, partition: checkpoint.partition,
            nextOffset: checkpoint.nextOffset, nextLabelOffset: checkpoint.nextLabelOffset,
            modelVersion: checkpoint.modelVersion, store: checkpoint.store, joinStore: joinStore,
            joinIndex: index, joinLog: position)
    }

    /// Writes `state` as the partition's newest checkpoint, keeping the one before: first the
    /// join store's new entries to its join log, then the checkpoint that covers them.
    ///
    /// - Returns: the number of bytes written.
    func save(_ state: PartitionState, modelVersion: String) throws -> Int {
        let write = try prepare(state, modelVersion: modelVersion)
        try write.perform()
        state.joinLog = write.position
        return write.bytes
    }

    /// Encodes `state`'s checkpoint and its join log append, for ``PartitionWrite/perform()``
    /// to write, here or on the ``CheckpointWriter``'s thread. `state.joinLog` is left as it
    /// is: the caller sets it to ``PartitionWrite/position`` once the write succeeded.
    func prepare(_ state: PartitionState, modelVersion: String) throws -> PartitionWrite {
        let log = joinLog(for: state.partition)
        let previous = state.joinLog
        let (append, position) = log.plan(state.joinStore, after: previous)
        let checkpoint = PartitionCheckpoint(
            topic: topic, partition: state.partition, nextOffset: state.nextEventOffset,
            nextLabelOffset: state.nextLabelOffset, modelVersion: modelVersion,
            store: state.store, joinStore: nil, joinIndex: state.joinStore.logIndex(),
            joinLog: position)
        return PartitionWrite(
            partition: state.partition, nextEventOffset: state.nextEventOffset, log: log,
            append: append, file: file(for: state.partition), payload: try checkpoint.encoded(),
            position: position, previousGeneration: previous.generation)
    }
}

/// One partition's checkpoint, encoded: the join log chunk to append first, then the
/// checkpoint file that covers it.
///
/// Thread: any (a value).
struct PartitionWrite: Sendable {
    let partition: Int32
    /// The events offset the checkpoint resumes from.
    let nextEventOffset: Int64
    let log: JoinLogFile
    let append: JoinLogAppend?
    let file: CheckpointFile
    let payload: [UInt8]
    /// Where the join log stands once this is written.
    let position: JoinLogPosition
    let previousGeneration: UInt64

    var bytes: Int { payload.count + (append?.chunk.count ?? 0) }

    /// Appends to the join log, writes the checkpoint file, and removes join log generations
    /// that neither this checkpoint nor the one before names.
    ///
    /// - Throws: ``CheckpointError`` when a file cannot be written; the checkpoint on disk is
    ///   then the one before (a chunk appended without its checkpoint is ignored on load).
    func perform() throws(CheckpointError) {
        try append?.write()
        try file.write(payload)
        guard position.generation != previousGeneration else { return }
        // The previous checkpoint, now the fallback, may still name the generation before.
        log.removeGenerations(keeping: [position.generation, previousGeneration])
    }
}

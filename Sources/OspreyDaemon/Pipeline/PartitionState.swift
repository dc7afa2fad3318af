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
    /// Checkpointed with ``store``.
    var joinStore: LabelJoinStore
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
                return (checkpoint, index > 0)
            } catch {
                logger.error(
                    "checkpoint refused", [.path: .string(path), .error: .string("\(error)")])
                lastError = error
            }
        }
        throw lastError!
    }

    /// Writes `state` as the partition's newest checkpoint, keeping the one before.
    ///
    /// - Returns: the number of bytes written.
    func save(_ state: PartitionState, modelVersion: String) throws -> Int {
        let checkpoint = PartitionCheckpoint(
            topic: topic, partition: state.partition, nextOffset: state.nextEventOffset,
            nextLabelOffset: state.nextLabelOffset, modelVersion: modelVersion,
            store: state.store, joinStore: state.joinStore)
        let payload = try checkpoint.encoded()
        try file(for: state.partition).write(payload)
        return payload.count
    }
}

import CRdKafka
import Foundation
import OspreyCore
import Synchronization

/// The embedded development broker: librdkafka's mock cluster, which speaks the Kafka protocol
/// over TCP on 127.0.0.1 (produce, fetch, consumer groups, offset commits, idempotence and
/// transactions), with fault controls for tests.
///
/// - Important: It keeps data in memory only, and at most 5 MiB per partition: older messages
///   are dropped. Spread large volumes over many partitions and keep consumers running. It
///   lives inside the process that created it and disappears with it. It is for development,
///   tests and demos, never production.
/// - Important: librdkafka 2.0.2's mock differs from a real cluster where it matters to
///   tests: it does not implement CreateTopics (use
///   ``createTopic(_:partitions:replicationFactor:)``); it refuses offset commits while a
///   group rebalances (`REBALANCE_IN_PROGRESS`), so a commit on revocation fails there; it
///   accepts transactional offset commits without storing them; and it keeps no
///   aborted-transaction index, so aborted messages that were already written are visible
///   even to `read_committed` consumers.
///
/// Thread: any. librdkafka's mock functions post their work to the cluster's own thread; a
/// thread of ours routes the cluster's log lines into the logger until the broker is released.
public final class EmbeddedBroker: @unchecked Sendable {
    // @unchecked: the handles are set once in init and only passed to thread-safe mock calls.
    private let client: RdKafkaClient
    private let cluster: OpaquePointer
    private let logPump: LogPump

    /// The bootstrap servers to give clients (`127.0.0.1:PORT,...`).
    public let bootstrapServers: String
    /// The brokers' ids, 1 to the number of brokers.
    public let brokerIDs: ClosedRange<Int32>

    /// Starts `brokers` brokers on ephemeral ports of 127.0.0.1.
    ///
    /// - Throws: ``KafkaError`` when the cluster cannot start.
    public init(brokers: Int = 1, logger: Logger = Logger(label: "broker")) throws(KafkaError) {
        precondition(brokers >= 1, "an embedded cluster needs at least one broker")
        // The mock cluster needs a client handle to live in; the handle sends nothing itself.
        // Its notices are about itself as a client ("no bootstrap.servers"), not the cluster.
        let level = max(LogSink.shared.minimumLevel, .warning)
        let settings = KafkaConfiguration(["log_level": RdKafkaLog.librdkafkaLevel(for: level)])
        client = try RdKafkaClient(
            kind: RD_KAFKA_PRODUCER, configuration: RdKafkaConfiguration(settings),
            events: RD_KAFKA_EVENT_ERROR, logger: logger)
        guard let cluster = rd_kafka_mock_cluster_new(client.handle, Int32(clamping: brokers))
        else {
            throw KafkaError(
                RD_KAFKA_RESP_ERR__FAIL, operation: "start embedded broker",
                detail: "rd_kafka_mock_cluster_new failed")
        }
        self.cluster = cluster
        bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
        brokerIDs = 1...Int32(clamping: brokers)
        logPump = LogPump(client: client)
    }

    deinit {
        logPump.stop()
        rd_kafka_mock_cluster_destroy(cluster)
    }

    /// Creates a topic with `partitions` partitions, led round-robin by the brokers.
    ///
    /// - Throws: ``KafkaError`` when the cluster refuses (for example a replication factor
    ///   larger than the number of brokers).
    public func createTopic(_ name: String, partitions: Int, replicationFactor: Int = 1)
        throws(KafkaError)
    {
        try KafkaError.check(
            rd_kafka_mock_topic_create(
                cluster, name, Int32(clamping: partitions), Int32(clamping: replicationFactor)),
            "create topic " + name)
    }

    /// Takes a broker down: it drops its connections and refuses new ones until
    /// ``setBrokerUp(_:)``. Partition leadership does not move.
    public func setBrokerDown(_ broker: Int32) throws(KafkaError) {
        try KafkaError.check(rd_kafka_mock_broker_set_down(cluster, broker), "set broker down")
    }

    /// Brings a broker back up.
    public func setBrokerUp(_ broker: Int32) throws(KafkaError) {
        try KafkaError.check(rd_kafka_mock_broker_set_up(cluster, broker), "set broker up")
    }

    /// Adds `delay` to every response of a broker.
    public func setRoundTripTime(broker: Int32, delay: Duration) throws(KafkaError) {
        try KafkaError.check(
            rd_kafka_mock_broker_set_rtt(
                cluster, broker, Int32(clamping: delay.totalMilliseconds)),
            "set broker round-trip time")
    }

    /// Makes the next `errors.count` requests of this kind fail, with these errors in order.
    /// ``KafkaError/Code/transport`` makes the broker drop the connection instead.
    public func failNextRequests(_ request: KafkaRequestKind, with errors: [KafkaError.Code]) {
        let codes = errors.map { rd_kafka_resp_err_t(rawValue: $0.rawValue) }
        rd_kafka_mock_push_request_errors_array(cluster, request.rawValue, codes.count, codes)
    }

    /// Forgets the errors still queued for this kind of request.
    public func clearRequestErrors(_ request: KafkaRequestKind) {
        rd_kafka_mock_clear_request_errors(cluster, request.rawValue)
    }
}

/// Kafka protocol requests, by their API key, for fault injection.
public enum KafkaRequestKind: Int16, Sendable {
    case produce = 0
    case fetch = 1
    case listOffsets = 2
    case metadata = 3
    case offsetCommit = 8
    case offsetFetch = 9
    case findCoordinator = 10
    case joinGroup = 11
    case heartbeat = 12
    case leaveGroup = 13
    case syncGroup = 14
    case initProducerID = 22
    case addPartitionsToTransaction = 24
    case addOffsetsToTransaction = 25
    case endTransaction = 26
    case transactionOffsetCommit = 28
}

/// A thread that serves a client's main queue so that its log lines reach the logger while
/// nobody else polls it.
private final class LogPump: @unchecked Sendable {
    // @unchecked: `client` is touched only by the pump thread once it started; `stopping` and
    // `finished` are synchronised.
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    init(client: RdKafkaClient) {
        nonisolated(unsafe) let client = client
        let thread = Thread { [self] in
            while !stopping.load(ordering: .acquiring) {
                _ = try? client.serve(timeout: .milliseconds(100)) { _ in }
            }
            finished.signal()
        }
        thread.name = "osprey-broker-log"
        thread.start()
    }

    /// Stops the thread and waits for it.
    func stop() {
        stopping.store(true, ordering: .releasing)
        finished.wait()
    }
}

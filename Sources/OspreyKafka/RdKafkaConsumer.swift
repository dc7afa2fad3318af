import CRdKafka
import OspreyCore

/// A consumer in a consumer group, over librdkafka's high-level consumer.
///
/// Offsets are stored explicitly: the consumer sets `enable.auto.offset.store=false`, and the
/// caller stores the next offset of what it has processed with ``store(_:)``; librdkafka's
/// auto-commit (on by default, `enable.auto.commit`) then commits what was stored, or the
/// caller commits with ``commit(_:synchronously:)``.
///
/// Rebalances reach the caller as ``KafkaConsumerEvent/rebalance(_:)`` from
/// ``poll(maxMessages:timeout:_:)``, for both eager and cooperative-sticky assignment. That
/// poll hands out borrowed views of each batch (`rd_kafka_consume_batch_queue`), with no Swift
/// allocation per message; the variant that returns ``KafkaMessage`` values copies them.
///
/// Thread: one thread at a time, and never Swift's cooperative pool: `poll` blocks. The
/// rebalance callback runs inside `poll` and `close` on the same thread.
public final class KafkaConsumer {
    private let client: RdKafkaClient
    private let consumerQueue: OpaquePointer
    private let rebalance: RdKafkaRebalanceState
    /// Messages taken by the current poll, before they are handed out (nil where one was
    /// dropped); allocated once and grown when a poll asks for more.
    private var batch: UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>
    private var batchCapacity = 1024
    private var closed = false

    /// Creates a consumer; `group.id` and `bootstrap.servers` are required in `configuration`.
    ///
    /// - Parameter commitOnRevoke: Commit the stored offsets synchronously when partitions are
    ///   revoked, before they go to another member (default true). Turn it off when offsets are
    ///   committed through a producer's transaction instead. A failed commit is reported in
    ///   ``KafkaRebalance/commitError``.
    /// - Important: The embedded broker refuses commits during a rebalance, so there the commit
    ///   on revocation fails; commit after each batch as well when running against it.
    /// - Throws: ``KafkaError`` naming the configuration key that librdkafka refused.
    public init(
        configuration: KafkaConfiguration, commitOnRevoke: Bool = true,
        logger: Logger = Logger(label: "kafka")
    ) throws(KafkaError) {
        let settings = configuration.withDefaults([
            "enable.auto.offset.store": "false",
            "log_level": RdKafkaLog.librdkafkaLevel(for: LogSink.shared.minimumLevel),
        ])
        let conf = try RdKafkaConfiguration(settings)
        let state = RdKafkaRebalanceState(commitOnRevoke: commitOnRevoke, logger: logger)
        state.install(on: conf)
        client = try RdKafkaClient(
            kind: RD_KAFKA_CONSUMER, configuration: conf,
            events: RD_KAFKA_EVENT_ERROR | RD_KAFKA_EVENT_STATS | RD_KAFKA_EVENT_OFFSET_COMMIT,
            logger: logger, keepAlive: state)
        rebalance = state
        guard let queue = rd_kafka_queue_get_consumer(client.handle) else {
            throw KafkaError(
                RD_KAFKA_RESP_ERR__INVALID_ARG, operation: "create consumer",
                detail: "a consumer needs group.id")
        }
        consumerQueue = queue
        batch = .allocate(capacity: batchCapacity)
    }

    deinit {
        if !closed { _ = try? close() }
        batch.deallocate()
        rd_kafka_queue_destroy(consumerQueue)
    }

    /// Joins the group with these topics; partitions arrive through rebalance events.
    ///
    /// - Throws: ``KafkaError`` when librdkafka refuses the subscription.
    public func subscribe(topics: [String]) throws(KafkaError) {
        let list = RdKafkaPartitionList(
            topics.map { TopicPartitionOffset(topic: $0, partition: -1, offset: .committed) })
        try KafkaError.check(rd_kafka_subscribe(client.handle, list.pointer), "subscribe")
    }

    /// Reads these partitions from these positions without group assignment.
    ///
    /// Blocks until the cluster has told where the partitions' leaders are (at most a few
    /// seconds): librdkafka looks up logical positions (`beginning`, `end`) only once it knows
    /// the leader, and otherwise retries after half a second.
    public func assign(_ partitions: [TopicPartitionOffset]) throws(KafkaError) {
        for topic in Set(partitions.map(\.topic)) {
            learnLeaders(of: topic, timeout: .seconds(5))
        }
        let list = RdKafkaPartitionList(partitions)
        try KafkaError.check(rd_kafka_assign(client.handle, list.pointer), "assign")
    }

    /// Requests the topic's metadata so that the client knows its leaders; a failure only
    /// means the assignment starts a little later, so it is not reported.
    private func learnLeaders(of topic: String, timeout: Duration) {
        guard let handle = rd_kafka_topic_new(client.handle, topic, nil) else { return }
        defer { rd_kafka_topic_destroy(handle) }
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let code = rd_kafka_metadata(
            client.handle, 0, handle, &metadata, Int32(clamping: timeout.totalMilliseconds))
        if code == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata { rd_kafka_metadata_destroy(metadata) }
    }

    /// The partitions currently assigned to this member.
    public func assignment() throws(KafkaError) -> [TopicPartition] {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        try KafkaError.check(rd_kafka_assignment(client.handle, &list), "read assignment")
        guard let list else { return [] }
        return RdKafkaPartitionList(taking: list).offsets.map(\.topicPartition)
    }

    /// Polls for up to `maxMessages` messages, waiting at most `timeout` for the first one,
    /// and hands each to `body` as a borrowed view; returns the events of the same interval.
    ///
    /// Messages of one partition come in offset order. When a rebalance happens during a poll,
    /// the messages of the partitions it moved are not handed out: those of revoked partitions
    /// go to their next owner from the committed offset, and assigned partitions are sought
    /// back so that their messages come in the next poll, after the caller has seen the event
    /// (see ``KafkaRebalance``).
    ///
    /// - Important: The views are valid only inside `body`.
    /// - Throws: ``KafkaError`` for a fatal error; the consumer cannot be used afterwards.
    public func poll(
        maxMessages: Int = 1000, timeout: Duration, _ body: (KafkaMessageView) -> Void
    ) throws(KafkaError) -> [KafkaConsumerEvent] {
        var events: [KafkaConsumerEvent] = []
        try serveMainQueue(into: &events)
        let count = collect(
            maxMessages: max(1, maxMessages), timeout: events.isEmpty ? timeout : .zero, &events)
        for index in 0..<count {
            guard let message = batch[index] else { continue }
            body(KafkaMessageView(message: message))
            rd_kafka_message_destroy(message)
        }
        for event in events {
            if case .error(let error) = event, error.isFatal { throw error }
        }
        return events
    }

    /// Polls like ``poll(maxMessages:timeout:_:)`` and returns owned copies of the messages.
    public func poll(maxMessages: Int = 1000, timeout: Duration) throws(KafkaError)
        -> (messages: [KafkaMessage], events: [KafkaConsumerEvent])
    {
        var messages: [KafkaMessage] = []
        let events = try poll(maxMessages: maxMessages, timeout: timeout) { view in
            messages.append(view.copy())
        }
        return (messages, events)
    }

    /// Fills ``batch`` with up to `maxMessages` messages: waits up to `timeout` for the first,
    /// then takes what is already queued, in one `rd_kafka_consume_batch_queue` call each (the
    /// batch call alone would wait for a full batch). Error messages become events, and
    /// messages that a rebalance made out of date are dropped.
    ///
    /// - Returns: the number of slots used in ``batch``.
    private func collect(
        maxMessages: Int, timeout: Duration, _ events: inout [KafkaConsumerEvent]
    ) -> Int {
        if maxMessages > batchCapacity {
            batch.deallocate()
            batchCapacity = maxMessages
            batch = .allocate(capacity: batchCapacity)
        }
        var count = 0
        if rd_kafka_queue_length(consumerQueue) == 0 {
            let wait = Int32(clamping: max(0, timeout.totalMilliseconds))
            count = max(0, rd_kafka_consume_batch_queue(consumerQueue, wait, batch, 1))
        }
        if count < maxMessages {
            count += max(
                0,
                rd_kafka_consume_batch_queue(consumerQueue, 0, batch + count, maxMessages - count))
        }
        var errors: [KafkaConsumerEvent] = []
        for index in 0..<count {
            guard let message = batch[index], message.pointee.err != RD_KAFKA_RESP_ERR_NO_ERROR
            else { continue }
            errors.append(event(for: message))
            rd_kafka_message_destroy(message)
            batch[index] = nil
        }
        if !rebalance.pending.isEmpty { settleRebalances(count: count, &events) }
        events += errors
        return count
    }

    /// The event for a message that carries an error instead of data.
    private func event(for message: UnsafeMutablePointer<rd_kafka_message_t>)
        -> KafkaConsumerEvent
    {
        let code = message.pointee.err
        if code == RD_KAFKA_RESP_ERR__PARTITION_EOF {
            let view = KafkaMessageView(message: message)
            return .partitionEnd(view.topicPartition, offset: view.offset)
        }
        if code == RD_KAFKA_RESP_ERR__FATAL {
            return .error(KafkaError.fatal(client: client.handle, operation: "consume"))
        }
        let text = String(cString: rd_kafka_message_errstr(message))
        return .error(KafkaError(code, operation: "consume", detail: text))
    }

    /// Moves the rebalance steps recorded during the last batch into `events`, and drops the
    /// batch's messages of the partitions they moved: messages from before a revocation belong
    /// to the next owner; messages from after an assignment must follow the event, so the
    /// partitions still assigned are sought back to the first dropped offset.
    private func settleRebalances(count: Int, _ events: inout [KafkaConsumerEvent]) {
        let moved = Set(rebalance.pending.flatMap(\.partitions))
        var firstDropped: [TopicPartition: Int64] = [:]
        for index in 0..<count {
            guard let message = batch[index] else { continue }
            let view = KafkaMessageView(message: message)
            let partition = view.topicPartition
            guard moved.contains(partition) else { continue }
            firstDropped[partition] = min(firstDropped[partition] ?? view.offset, view.offset)
            rd_kafka_message_destroy(message)
            batch[index] = nil
        }
        let owned = Set((try? assignment()) ?? [])
        let rewind = firstDropped.filter { owned.contains($0.key) }.map {
            TopicPartitionOffset($0.key, offset: .exactly($0.value))
        }
        if !rewind.isEmpty {
            do {
                try seek(rewind, timeout: .zero)
            } catch {
                events.append(.error(error))
            }
        }
        takeRebalances(&events)
    }

    /// Moves recorded rebalance steps into `events`.
    private func takeRebalances(_ events: inout [KafkaConsumerEvent]) {
        events += rebalance.pending.map { .rebalance($0) }
        rebalance.pending.removeAll()
    }

    /// Takes statistics, errors and commit results from the main queue.
    private func serveMainQueue(into events: inout [KafkaConsumerEvent]) throws(KafkaError) {
        try client.serve(timeout: .zero) { event throws(KafkaError) in
            switch rd_kafka_event_type(event) {
            case RD_KAFKA_EVENT_STATS:
                if let text = rd_kafka_event_stats(event),
                    let statistics = KafkaStatistics(json: String(cString: text))
                {
                    events.append(.statistics(statistics))
                }
            case RD_KAFKA_EVENT_ERROR:
                events.append(.error(client.error(of: event, operation: "consume")))
            case RD_KAFKA_EVENT_OFFSET_COMMIT:
                let code = rd_kafka_event_error(event)
                if code != RD_KAFKA_RESP_ERR_NO_ERROR && code != RD_KAFKA_RESP_ERR__NO_OFFSET {
                    events.append(.error(KafkaError(code, operation: "commit offsets")))
                }
            default:
                break
            }
        }
    }

    /// Stores positions to be committed: for each partition, the offset of the next message to
    /// read (one past the last processed; see ``KafkaMessage/nextOffset``).
    ///
    /// - Throws: ``KafkaError`` when a partition is not assigned to this member.
    public func store(_ offsets: [TopicPartitionOffset]) throws(KafkaError) {
        let list = RdKafkaPartitionList(offsets)
        try KafkaError.check(rd_kafka_offsets_store(client.handle, list.pointer), "store offsets")
        if let error = list.firstError(operation: "store offset") { throw error }
    }

    /// Commits `offsets`, or every stored offset when nil.
    ///
    /// An asynchronous commit's failure arrives later as a ``KafkaConsumerEvent/error(_:)``.
    /// - Throws: ``KafkaError`` for a synchronous commit that fails; having nothing to commit
    ///   is not an error.
    public func commit(_ offsets: [TopicPartitionOffset]? = nil, synchronously: Bool = true)
        throws(KafkaError)
    {
        let list = offsets.map { RdKafkaPartitionList($0) }
        let code = rd_kafka_commit(client.handle, list?.pointer, synchronously ? 0 : 1)
        guard code != RD_KAFKA_RESP_ERR__NO_OFFSET else { return }
        try KafkaError.check(code, "commit offsets")
    }

    /// The group's committed offsets for these partitions.
    public func committed(_ partitions: [TopicPartition], timeout: Duration) throws(KafkaError)
        -> [TopicPartitionOffset]
    {
        let list = RdKafkaPartitionList(partitions)
        try KafkaError.check(
            rd_kafka_committed(
                client.handle, list.pointer, Int32(clamping: timeout.totalMilliseconds)),
            "read committed offsets")
        return list.offsets
    }

    /// Moves the read positions of assigned partitions.
    public func seek(_ offsets: [TopicPartitionOffset], timeout: Duration) throws(KafkaError) {
        let list = RdKafkaPartitionList(offsets)
        try KafkaError.check(
            taking: rd_kafka_seek_partitions(
                client.handle, list.pointer, Int32(clamping: timeout.totalMilliseconds)),
            "seek")
        if let error = list.firstError(operation: "seek") { throw error }
    }

    /// Stops fetching these partitions until ``resume(_:)``; the assignment is kept.
    public func pause(_ partitions: [TopicPartition]) throws(KafkaError) {
        let list = RdKafkaPartitionList(partitions)
        try KafkaError.check(rd_kafka_pause_partitions(client.handle, list.pointer), "pause")
        if let error = list.firstError(operation: "pause") { throw error }
    }

    /// Fetches paused partitions again, from where they stopped.
    public func resume(_ partitions: [TopicPartition]) throws(KafkaError) {
        let list = RdKafkaPartitionList(partitions)
        try KafkaError.check(rd_kafka_resume_partitions(client.handle, list.pointer), "resume")
        if let error = list.firstError(operation: "resume") { throw error }
    }

    /// Leaves the group: revokes the assignment (committing stored offsets when
    /// `commitOnRevoke`), commits if auto-commit is on, and stops fetching.
    ///
    /// - Returns: the rebalance events of the final revocation, for a last checkpoint.
    @discardableResult
    public func close() throws(KafkaError) -> [KafkaConsumerEvent] {
        guard !closed else { return [] }
        closed = true
        let code = rd_kafka_consumer_close(client.handle)
        var events: [KafkaConsumerEvent] = []
        takeRebalances(&events)
        _ = try? client.serve(timeout: .zero) { _ in }
        try KafkaError.check(code, "close consumer")
        return events
    }

    /// Runs `body` with the group's metadata, for a transactional producer's offsets.
    func withGroupMetadata<T>(_ body: (OpaquePointer) throws(KafkaError) -> T) throws(KafkaError)
        -> T
    {
        guard let metadata = rd_kafka_consumer_group_metadata(client.handle) else {
            throw KafkaError(
                RD_KAFKA_RESP_ERR__STATE, operation: "read group metadata",
                detail: "the consumer is not in a group")
        }
        defer { rd_kafka_consumer_group_metadata_destroy(metadata) }
        return try body(metadata)
    }
}

import CRdKafka
import OspreyCore

#if canImport(Glibc)
    import Glibc
#endif

/// A producer over librdkafka: keys, headers, delivery reports from the event queue,
/// idempotence and transactions are librdkafka's; this class adds back-pressure, a flush with
/// a time budget, and Swift values.
///
/// Delivery reports are taken from the producer's event queue whenever the caller calls
/// ``poll(timeout:)``, ``send(topic:partition:key:value:headers:timestamp:)`` (when the queue
/// is full), ``flush(timeout:)`` or a transaction call, and handed to the `onDelivery` closure
/// on that same thread.
///
/// Set `enable.idempotence=true` for ordered, non-duplicated delivery per partition, and
/// `transactional.id` for transactions.
///
/// Thread: one thread at a time, never Swift's cooperative pool (sends may block on a full
/// queue; flush and transactions block).
public final class KafkaProducer {
    private let client: RdKafkaClient
    private let onDelivery: ((KafkaDeliveryReport) -> Void)?
    /// The last topic handle seen in a report and its name, so that a run of reports for one
    /// topic creates its name once.
    private var lastTopic: (handle: OpaquePointer?, name: String) = (nil, "")
    private let enqueueTimeout: Duration
    private var nextID: UInt64 = 1
    /// Topic handles by name, created on first use and destroyed with the producer, so that a
    /// send does not look the topic up by name inside librdkafka each time.
    private var topicHandles: [String: OpaquePointer] = [:]
    private var recentTopic: (name: String, handle: OpaquePointer)?
    /// A fatal error seen on the event queue; every later call throws it.
    private var fatalError: KafkaError?

    /// Messages reported delivered since the producer was created.
    public private(set) var deliveredCount = 0
    /// Messages reported failed since the producer was created.
    public private(set) var failedCount = 0
    /// Every message whose id is at most this one is settled: reported delivered or failed,
    /// or refused by ``send(topic:partition:key:value:headers:timestamp:)``. Ids are settled
    /// out of order (partitions report independently); this is the contiguous prefix.
    public private(set) var settledThrough: UInt64 = 0
    /// Ids settled beyond ``settledThrough``, waiting for the gap below them to close.
    private var settledAhead: Set<UInt64> = []
    /// The id of the newest message sent (0 before the first).
    public var lastSentID: UInt64 { nextID - 1 }

    /// Creates a producer.
    ///
    /// - Parameters:
    ///   - enqueueTimeout: How long ``send(topic:partition:key:value:headers:timestamp:)``
    ///     waits for room when librdkafka's local queue (`queue.buffering.max.messages`,
    ///     `queue.buffering.max.kbytes`) is full before it throws `queueFull`.
    ///   - onDelivery: Receives every delivery report, on the thread that polls; when nil,
    ///     reports are only counted (``deliveredCount``, ``failedCount``).
    /// - Throws: ``KafkaError`` naming the configuration key that librdkafka refused.
    public init(
        configuration: KafkaConfiguration, enqueueTimeout: Duration = .seconds(30),
        logger: Logger = Logger(label: "kafka"),
        onDelivery: ((KafkaDeliveryReport) -> Void)? = nil
    ) throws(KafkaError) {
        let settings = configuration.withDefaults([
            "log_level": RdKafkaLog.librdkafkaLevel(for: LogSink.shared.minimumLevel)
        ])
        client = try RdKafkaClient(
            kind: RD_KAFKA_PRODUCER, configuration: RdKafkaConfiguration(settings),
            events: RD_KAFKA_EVENT_DR | RD_KAFKA_EVENT_ERROR | RD_KAFKA_EVENT_STATS,
            logger: logger)
        self.onDelivery = onDelivery
        self.enqueueTimeout = enqueueTimeout
    }

    deinit {
        for handle in topicHandles.values { rd_kafka_topic_destroy(handle) }
    }

    /// The handle for `topic`, created on first use.
    private func topicHandle(_ topic: String) throws(KafkaError) -> OpaquePointer {
        // Runs of sends to one topic skip the dictionary: equal strings that share storage
        // compare without hashing.
        if let recent = recentTopic, recent.name == topic { return recent.handle }
        if let handle = topicHandles[topic] {
            recentTopic = (topic, handle)
            return handle
        }
        guard let handle = rd_kafka_topic_new(client.handle, topic, nil) else {
            throw KafkaError(rd_kafka_last_error(), operation: "produce to " + topic)
        }
        topicHandles[topic] = handle
        recentTopic = (topic, handle)
        return handle
    }

    /// Messages not yet reported: queued, in flight, or reported but not yet polled.
    public var inFlightCount: Int { Int(rd_kafka_outq_len(client.handle)) }

    /// Queues one message; librdkafka copies the bytes before this returns.
    ///
    /// - Parameters:
    ///   - partition: The partition, or nil to let the partitioner choose from the key.
    ///   - value: The payload, or nil for a tombstone.
    /// - Returns: The id that the message's ``KafkaDeliveryReport`` will carry.
    /// - Throws: ``KafkaError`` with code `queueFull` when there was no room within the
    ///   enqueue timeout, or librdkafka's reason for refusing the message.
    @discardableResult
    public func send(
        topic: String, partition: Int32? = nil, key: UnsafeRawBufferPointer?,
        value: UnsafeRawBufferPointer?, headers: [KafkaHeader] = [],
        timestamp: KafkaTimestamp? = nil
    ) throws(KafkaError) -> UInt64 {
        if let fatalError { throw fatalError }
        let id = nextID
        nextID += 1
        var deadline: ContinuousClock.Instant?
        let handle = try topicHandle(topic)
        while true {
            guard
                let error = produce(
                    id: id, topic: handle, partition: partition, key: key, value: value,
                    headers: headers, timestamp: timestamp, topicName: topic)
            else { return id }
            // A refused message gets no report: settle its id here, or the watermark would
            // stop below it for good.
            guard error.code == .queueFull else {
                settle(id)
                throw error
            }
            // Back-pressure: serve delivery reports until there is room or time runs out.
            let now = ContinuousClock.now
            let limit = deadline ?? now + enqueueTimeout
            deadline = limit
            guard now < limit else {
                settle(id)
                throw error
            }
            do {
                try poll(timeout: min(.milliseconds(10), limit - now))
            } catch {
                settle(id)
                throw error
            }
        }
    }

    /// Moves ``settledThrough`` over `id` and over the ids settled ahead of it.
    private func settle(_ id: UInt64) {
        guard id == settledThrough + 1 else {
            settledAhead.insert(id)
            return
        }
        settledThrough = id
        while settledAhead.remove(settledThrough + 1) != nil { settledThrough += 1 }
    }

    /// Queues one message with byte-array key and value; see the raw-buffer variant.
    @discardableResult
    public func send(
        topic: String, partition: Int32? = nil, key: [UInt8]?, value: [UInt8]?,
        headers: [KafkaHeader] = [], timestamp: KafkaTimestamp? = nil
    ) throws(KafkaError) -> UInt64 {
        return try withOptionalBytes(key) { keyBytes throws(KafkaError) in
            try withOptionalBytes(value) { valueBytes throws(KafkaError) in
                try send(
                    topic: topic, partition: partition, key: keyBytes, value: valueBytes,
                    headers: headers, timestamp: timestamp)
            }
        }
    }

    /// One `rd_kafka_produce` call for a message without headers or timestamp (the common
    /// case, and the cheaper call), else one `rd_kafka_produceva`; `RD_KAFKA_MSG_F_COPY` makes
    /// librdkafka copy the bytes.
    ///
    /// - Returns: nil when the message was queued, else librdkafka's reason.
    private func produce(
        id: UInt64, topic: OpaquePointer, partition: Int32?, key: UnsafeRawBufferPointer?,
        value: UnsafeRawBufferPointer?, headers: [KafkaHeader], timestamp: KafkaTimestamp?,
        topicName: String
    ) -> KafkaError? {
        if headers.isEmpty && timestamp == nil {
            let status = rd_kafka_produce(
                topic, partition ?? -1 /* RD_KAFKA_PARTITION_UA */, RD_KAFKA_MSG_F_COPY,
                UnsafeMutableRawPointer(mutating: value?.baseAddress), value?.count ?? 0,
                key?.baseAddress, key?.count ?? 0, UnsafeMutableRawPointer(bitPattern: UInt(id)))
            guard status != 0 else { return nil }
            return KafkaError(rd_kafka_last_error(), operation: "produce to " + topicName)
        }
        guard
            let failure = produceWithFields(
                id: id, topic: topic, partition: partition, key: key, value: value,
                headers: headers, timestamp: timestamp)
        else { return nil }
        return KafkaError(taking: failure, operation: "produce to " + topicName)
    }

    /// One `rd_kafka_produceva` call, for messages with headers or a timestamp.
    ///
    /// - Returns: nil when the message was queued, else librdkafka's error, which the caller
    ///   owns.
    private func produceWithFields(
        id: UInt64, topic: OpaquePointer, partition: Int32?, key: UnsafeRawBufferPointer?,
        value: UnsafeRawBufferPointer?, headers: [KafkaHeader], timestamp: KafkaTimestamp?
    ) -> OpaquePointer? {
        withHeaderNames(headers) { names in
            withHeaderValues(headers) { values in
                // On the stack for the usual few headers: no allocation per message.
                withUnsafeTemporaryAllocation(
                    of: rd_kafka_vu_t.self, capacity: 7 + headers.count
                ) { fields in
                    var count = 0
                    func add(_ type: rd_kafka_vtype_t, _ fill: (inout rd_kafka_vu_t) -> Void) {
                        var field = rd_kafka_vu_t()
                        field.vtype = type
                        fill(&field)
                        (fields.baseAddress! + count).initialize(to: field)
                        count += 1
                    }
                    add(RD_KAFKA_VTYPE_RKT) { $0.u.rkt = topic }
                    add(RD_KAFKA_VTYPE_PARTITION) {
                        $0.u.i32 = partition ?? -1 /* RD_KAFKA_PARTITION_UA */
                    }
                    add(RD_KAFKA_VTYPE_MSGFLAGS) { $0.u.i = RD_KAFKA_MSG_F_COPY }
                    add(RD_KAFKA_VTYPE_OPAQUE) {
                        $0.u.ptr = UnsafeMutableRawPointer(bitPattern: UInt(id))
                    }
                    if let key {
                        add(RD_KAFKA_VTYPE_KEY) {
                            $0.u.mem.ptr = UnsafeMutableRawPointer(mutating: key.baseAddress)
                            $0.u.mem.size = key.count
                        }
                    }
                    if let value {
                        add(RD_KAFKA_VTYPE_VALUE) {
                            $0.u.mem.ptr = UnsafeMutableRawPointer(mutating: value.baseAddress)
                            $0.u.mem.size = value.count
                        }
                    }
                    if let timestamp {
                        add(RD_KAFKA_VTYPE_TIMESTAMP) { $0.u.i64 = timestamp.milliseconds }
                    }
                    for (index, header) in headers.enumerated() {
                        add(RD_KAFKA_VTYPE_HEADER) {
                            $0.u.header.name = names[index]
                            // A NULL value with size 0 is a null header; -1 would mean
                            // "NUL-terminated".
                            $0.u.header.val =
                                header.value == nil ? nil : values[index].baseAddress
                            $0.u.header.size = values[index].count
                        }
                    }
                    defer { fields.baseAddress!.deinitialize(count: count) }
                    return rd_kafka_produceva(client.handle, fields.baseAddress, count)
                }
            }
        }
    }

    /// Serves the event queue: waits up to `timeout` for the first event, then takes what is
    /// queued, handing delivery reports to `onDelivery`.
    ///
    /// - Returns: the number of events served.
    /// - Throws: ``KafkaError`` when the producer raised a fatal error (for example an
    ///   idempotence or transaction failure); it cannot be used afterwards.
    @discardableResult
    public func poll(timeout: Duration) throws(KafkaError) -> Int {
        if let fatalError { throw fatalError }
        let served = try client.serve(timeout: timeout) { event throws(KafkaError) in
            switch rd_kafka_event_type(event) {
            case RD_KAFKA_EVENT_DR:
                report(deliveries: event)
            case RD_KAFKA_EVENT_ERROR:
                let error = client.error(of: event, operation: "produce")
                if error.isFatal {
                    fatalError = error
                } else {
                    // librdkafka has logged it already; kept at debug to say it reached us.
                    client.logger.debug(
                        "producer error",
                        [.error: .string(error.description), .errorName: .string(error.name)])
                }
            default:
                break
            }
        }
        if let fatalError { throw fatalError }
        return served
    }

    private func report(deliveries event: OpaquePointer) {
        while let message = rd_kafka_event_message_next(event) {
            let code = message.pointee.err
            let failed = code != RD_KAFKA_RESP_ERR_NO_ERROR
            if failed { failedCount += 1 } else { deliveredCount += 1 }
            settle(UInt64(UInt(bitPattern: message.pointee._private)))
            guard let onDelivery else { continue }
            if lastTopic.handle != message.pointee.rkt {
                lastTopic = (
                    message.pointee.rkt, String(cString: rd_kafka_topic_name(message.pointee.rkt))
                )
            }
            onDelivery(
                KafkaDeliveryReport(
                    id: UInt64(UInt(bitPattern: message.pointee._private)), topic: lastTopic.name,
                    partition: message.pointee.partition,
                    offset: failed || message.pointee.offset < 0 ? nil : message.pointee.offset,
                    error: failed
                        ? KafkaError(
                            code, operation: "deliver message",
                            detail: String(cString: rd_kafka_message_errstr(message))) : nil))
        }
    }

    /// Waits until every queued message is reported, serving reports meanwhile.
    ///
    /// - Throws: ``KafkaError`` with code `timedOut` when messages are still outstanding after
    ///   `timeout`; they stay queued and may still be delivered.
    public func flush(timeout: Duration) throws(KafkaError) {
        let deadline = ContinuousClock.now + timeout
        while inFlightCount > 0 {
            let left = deadline - ContinuousClock.now
            guard left > .zero else {
                throw KafkaError(
                    RD_KAFKA_RESP_ERR__TIMED_OUT, operation: "flush",
                    detail: "\(inFlightCount) messages still outstanding")
            }
            // With reports as events, rd_kafka_flush only waits (it cannot serve our queue), but
            // while it waits the brokers send at once instead of after linger.ms. So: wait a
            // little in it, then serve the reports it waited for.
            _ = rd_kafka_flush(client.handle, milliseconds(min(left, .milliseconds(10))))
            try poll(timeout: .zero)
        }
    }

    // MARK: Transactions (need `transactional.id`)

    /// Registers the transactional id with the cluster and fences older producers using it.
    public func initTransactions(timeout: Duration) throws(KafkaError) {
        try KafkaError.check(
            taking: rd_kafka_init_transactions(client.handle, milliseconds(timeout)),
            "init transactions")
    }

    /// Starts a transaction; every message sent until commit or abort belongs to it.
    public func beginTransaction() throws(KafkaError) {
        try KafkaError.check(taking: rd_kafka_begin_transaction(client.handle), "begin transaction")
    }

    /// Adds the consumer's positions to the transaction, so that they are committed with it
    /// (consume-process-produce exactly once). The offsets are the next ones to read.
    ///
    /// - Important: The embedded broker accepts these offsets without storing them; only a
    ///   real cluster makes them the group's committed offsets.
    public func sendOffsetsToTransaction(
        _ offsets: [TopicPartitionOffset], consumer: KafkaConsumer, timeout: Duration
    ) throws(KafkaError) {
        let list = RdKafkaPartitionList(offsets)
        try consumer.withGroupMetadata { metadata throws(KafkaError) in
            try KafkaError.check(
                taking: rd_kafka_send_offsets_to_transaction(
                    client.handle, list.pointer, metadata, milliseconds(timeout)),
                "send offsets to transaction")
        }
    }

    /// Delivers the transaction's messages and commits it.
    ///
    /// - Throws: ``KafkaError``; when ``KafkaError/requiresTransactionAbort`` is set, call
    ///   ``abortTransaction(timeout:)``; when retriable, commit again.
    public func commitTransaction(timeout: Duration) throws(KafkaError) {
        let deadline = ContinuousClock.now + timeout
        // librdkafka's own flush inside the commit waits for reports that only we can serve.
        try flush(timeout: timeout)
        let left = max(.zero, deadline - ContinuousClock.now)
        try KafkaError.check(
            taking: rd_kafka_commit_transaction(client.handle, milliseconds(left)),
            "commit transaction")
        try poll(timeout: .zero)
    }

    /// Aborts the transaction: messages not yet sent are purged, and those already written are
    /// marked aborted, so `read_committed` consumers never see them.
    ///
    /// librdkafka's abort waits for the reports of the messages it purges, which only this
    /// thread can serve; so the abort is called in short steps, serving reports between them
    /// (librdkafka resumes an abort that timed out).
    public func abortTransaction(timeout: Duration) throws(KafkaError) {
        let deadline = ContinuousClock.now + timeout
        while true {
            let left = deadline - ContinuousClock.now
            guard
                let failure = rd_kafka_abort_transaction(
                    client.handle, milliseconds(min(max(left, .zero), .milliseconds(100))))
            else { break }
            let error = KafkaError(taking: failure, operation: "abort transaction")
            guard error.isRetriable, ContinuousClock.now < deadline else { throw error }
            try poll(timeout: .zero)
        }
        try poll(timeout: .zero)
    }

    private func milliseconds(_ duration: Duration) -> Int32 {
        Int32(clamping: max(0, duration.totalMilliseconds))
    }
}

/// Runs `body` with the bytes of `array`, or with nil when it is nil.
private func withOptionalBytes<T>(
    _ array: [UInt8]?, _ body: (UnsafeRawBufferPointer?) throws(KafkaError) -> T
) throws(KafkaError) -> T {
    guard let array else { return try body(nil) }
    let result = array.withUnsafeBytes { buffer in
        Result { () throws(KafkaError) -> T in try body(buffer) }
    }
    return try result.get()
}

/// Runs `body` with C strings of the headers' names, valid during the call.
private func withHeaderNames<T>(
    _ headers: [KafkaHeader], _ body: ([UnsafePointer<CChar>]) -> T
) -> T {
    if headers.isEmpty { return body([]) }
    let copies = headers.map { strdup($0.name)! }
    defer { copies.forEach { free($0) } }
    return body(copies.map { UnsafePointer($0) })
}

/// Runs `body` with the headers' values as buffers (empty for a null value), valid during
/// the call.
private func withHeaderValues<T>(
    _ headers: [KafkaHeader], _ body: ([UnsafeRawBufferPointer]) -> T
) -> T {
    if headers.isEmpty { return body([]) }
    let total = headers.reduce(0) { $0 + ($1.value?.count ?? 0) }
    let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, total), alignment: 1)
    defer { storage.deallocate() }
    var buffers: [UnsafeRawBufferPointer] = []
    var offset = 0
    for header in headers {
        let bytes = header.value ?? []
        let slice = UnsafeMutableRawBufferPointer(rebasing: storage[offset..<offset + bytes.count])
        slice.copyBytes(from: bytes)
        buffers.append(UnsafeRawBufferPointer(slice))
        offset += bytes.count
    }
    return body(buffers)
}

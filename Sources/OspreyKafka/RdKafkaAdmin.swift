import CRdKafka
import OspreyCore

/// Topic administration: create and describe topics.
///
/// Thread: one thread at a time, never Swift's cooperative pool (every call blocks up to its
/// timeout).
public final class KafkaAdmin {
    private let client: RdKafkaClient

    /// Creates an admin client; only `bootstrap.servers` is required.
    ///
    /// - Throws: ``KafkaError`` naming the configuration key that librdkafka refused.
    public init(configuration: KafkaConfiguration, logger: Logger = Logger(label: "kafka"))
        throws(KafkaError)
    {
        let settings = configuration.withDefaults([
            "log_level": RdKafkaLog.librdkafkaLevel(for: LogSink.shared.minimumLevel)
        ])
        client = try RdKafkaClient(
            kind: RD_KAFKA_PRODUCER, configuration: RdKafkaConfiguration(settings),
            events: RD_KAFKA_EVENT_ERROR, logger: logger)
    }

    /// Creates a topic with the CreateTopics request.
    ///
    /// - Important: The embedded broker (librdkafka 2.0.2's mock cluster) does not implement
    ///   CreateTopics: against it this fails with `timedOut` after `timeout`. Create topics
    ///   there with ``EmbeddedBroker/createTopic(_:partitions:replicationFactor:)``.
    /// - Parameter settings: Topic configuration (`retention.ms`, `cleanup.policy`, ...).
    /// - Throws: ``KafkaError`` with the broker's reason, for example `topicAlreadyExists`.
    public func createTopic(
        _ name: String, partitions: Int, replicationFactor: Int = 1,
        settings: [String: String] = [:], timeout: Duration = .seconds(10)
    ) throws(KafkaError) {
        var reason = [CChar](repeating: 0, count: 512)
        guard
            let topic = rd_kafka_NewTopic_new(
                name, Int32(clamping: partitions), Int32(clamping: replicationFactor), &reason,
                reason.count)
        else {
            throw KafkaError(
                RD_KAFKA_RESP_ERR__INVALID_ARG, operation: "create topic " + name,
                detail: reason.nulTerminatedText)
        }
        defer { rd_kafka_NewTopic_destroy(topic) }
        for (key, value) in settings {
            try KafkaError.check(
                rd_kafka_NewTopic_set_config(topic, key, value), "set topic config " + key)
        }
        let queue = rd_kafka_queue_new(client.handle)
        defer { rd_kafka_queue_destroy(queue) }
        let options = rd_kafka_AdminOptions_new(client.handle, RD_KAFKA_ADMIN_OP_CREATETOPICS)
        defer { rd_kafka_AdminOptions_destroy(options) }
        _ = rd_kafka_AdminOptions_set_request_timeout(
            options, Int32(clamping: timeout.totalMilliseconds), &reason, reason.count)
        var topics: [OpaquePointer?] = [topic]
        rd_kafka_CreateTopics(client.handle, &topics, 1, options, queue)
        defer { _ = try? client.serve(timeout: .zero) { _ in } }
        guard
            let event = rd_kafka_queue_poll(
                queue, Int32(clamping: timeout.totalMilliseconds + 1000))
        else {
            throw KafkaError(RD_KAFKA_RESP_ERR__TIMED_OUT, operation: "create topic " + name)
        }
        defer { rd_kafka_event_destroy(event) }
        let code = rd_kafka_event_error(event)
        if code != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(
                code, operation: "create topic " + name,
                detail: String(cString: rd_kafka_event_error_string(event)))
        }
        var count = 0
        guard let result = rd_kafka_event_CreateTopics_result(event),
            let results = rd_kafka_CreateTopics_result_topics(result, &count)
        else { return }
        for index in 0..<count {
            let outcome = results[index]
            let topicCode = rd_kafka_topic_result_error(outcome)
            if topicCode != RD_KAFKA_RESP_ERR_NO_ERROR {
                let text = rd_kafka_topic_result_error_string(outcome).map { String(cString: $0) }
                throw KafkaError(topicCode, operation: "create topic " + name, detail: text)
            }
        }
    }

    /// Describes a topic from the cluster's metadata.
    ///
    /// - Throws: ``KafkaError`` with code `unknownTopic` when the cluster does not know it.
    public func describeTopic(_ name: String, timeout: Duration = .seconds(10))
        throws(KafkaError) -> KafkaTopicDescription
    {
        var metadata: UnsafePointer<rd_kafka_metadata>?
        try KafkaError.check(
            rd_kafka_metadata(
                client.handle, 1, nil, &metadata, Int32(clamping: timeout.totalMilliseconds)),
            "describe topic " + name)
        defer {
            if let metadata { rd_kafka_metadata_destroy(metadata) }
            _ = try? client.serve(timeout: .zero) { _ in }
        }
        guard let metadata else {
            throw KafkaError(RD_KAFKA_RESP_ERR__FAIL, operation: "describe topic " + name)
        }
        for index in 0..<Int(metadata.pointee.topic_cnt) {
            let topic = metadata.pointee.topics[index]
            guard String(cString: topic.topic) == name else { continue }
            if topic.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                throw KafkaError(topic.err, operation: "describe topic " + name)
            }
            let partitions = (0..<Int(topic.partition_cnt)).map { number in
                let partition = topic.partitions[number]
                return KafkaTopicDescription.Partition(
                    id: partition.id, leader: partition.leader,
                    replicas: Array(
                        UnsafeBufferPointer(
                            start: partition.replicas, count: Int(partition.replica_cnt))),
                    inSyncReplicas: Array(
                        UnsafeBufferPointer(start: partition.isrs, count: Int(partition.isr_cnt))))
            }
            return KafkaTopicDescription(
                name: name, partitions: partitions.sorted { $0.id < $1.id })
        }
        throw KafkaError(RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, operation: "describe topic " + name)
    }
}

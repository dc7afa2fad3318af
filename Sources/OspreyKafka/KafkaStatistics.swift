import Foundation

/// The parts of librdkafka's statistics (JSON every `statistics.interval.ms`) that an operator
/// watches: per-partition consumer lag and positions, and messages waiting locally.
public struct KafkaStatistics: Sendable {
    /// One partition's figures; offsets are nil where librdkafka reports -1 (not known yet).
    public struct Partition: Sendable, Hashable {
        public let topicPartition: TopicPartition
        /// Messages between the consumer's position and the high watermark.
        public let consumerLag: Int64?
        public let highWatermark: Int64?
        public let committedOffset: Int64?
        public let storedOffset: Int64?
    }

    /// librdkafka's name for the client.
    public let clientName: String
    /// `consumer` or `producer`.
    public let clientType: String
    /// Messages waiting in the client's local queues.
    public let queuedMessages: Int64
    /// Every real partition the client knows (librdkafka's internal partition -1 left out).
    public let partitions: [Partition]

    /// The sum of the known consumer lags.
    public var totalConsumerLag: Int64 { partitions.compactMap(\.consumerLag).reduce(0, +) }

    /// Parses librdkafka's statistics JSON; nil when it is not the expected shape.
    public init?(json: String) {
        guard let data = json.data(using: .utf8),
            let raw = try? JSONDecoder().decode(Raw.self, from: data)
        else { return nil }
        clientName = raw.name
        clientType = raw.type
        queuedMessages = raw.msg_cnt ?? 0
        var partitions: [Partition] = []
        for (topic, entry) in raw.topics ?? [:] {
            for (key, figures) in entry.partitions ?? [:] {
                guard let number = Int32(key), number >= 0 else { continue }
                func known(_ value: Int64?) -> Int64? { value.flatMap { $0 < 0 ? nil : $0 } }
                partitions.append(
                    Partition(
                        topicPartition: TopicPartition(topic: topic, partition: number),
                        consumerLag: known(figures.consumer_lag),
                        highWatermark: known(figures.hi_offset),
                        committedOffset: known(figures.committed_offset),
                        storedOffset: known(figures.stored_offset)))
            }
        }
        self.partitions = partitions.sorted {
            ($0.topicPartition.topic, $0.topicPartition.partition)
                < ($1.topicPartition.topic, $1.topicPartition.partition)
        }
    }

    // The JSON's own field names, as librdkafka's STATISTICS.md documents them.
    private struct Raw: Decodable {
        let name: String
        let type: String
        let msg_cnt: Int64?
        let topics: [String: Topic]?
    }
    private struct Topic: Decodable {
        let partitions: [String: PartitionFigures]?
    }
    private struct PartitionFigures: Decodable {
        let consumer_lag: Int64?
        let hi_offset: Int64?
        let committed_offset: Int64?
        let stored_offset: Int64?
    }
}

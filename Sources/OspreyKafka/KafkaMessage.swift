/// A topic and one of its partitions.
public struct TopicPartition: Hashable, Sendable, CustomStringConvertible {
    public let topic: String
    public let partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public var description: String { topic + "[" + String(partition) + "]" }
}

/// A position in a partition: an absolute offset or one of Kafka's logical positions.
public enum KafkaOffset: Hashable, Sendable {
    /// The first message still kept.
    case beginning
    /// After the last message: only new messages.
    case end
    /// The group's committed offset (consumers only).
    case committed
    /// An absolute offset: the next message to read.
    case exactly(Int64)

    /// librdkafka's number for this position (logical positions are negative).
    var rawValue: Int64 {
        switch self {
        case .beginning: -2
        case .end: -1
        case .committed: -1000
        case .exactly(let offset): offset
        }
    }

    init(rawValue: Int64) {
        switch rawValue {
        case -2: self = .beginning
        case -1: self = .end
        case -1000, -1001: self = .committed
        default: self = .exactly(rawValue)
        }
    }
}

/// A partition with a position in it: where to start, what to store or commit (the offset of
/// the next message to read, one past the last processed), or what a group has committed.
public struct TopicPartitionOffset: Hashable, Sendable, CustomStringConvertible {
    public let topicPartition: TopicPartition
    public let offset: KafkaOffset

    public init(topic: String, partition: Int32, offset: KafkaOffset) {
        self.topicPartition = TopicPartition(topic: topic, partition: partition)
        self.offset = offset
    }

    public init(_ topicPartition: TopicPartition, offset: KafkaOffset) {
        self.topicPartition = topicPartition
        self.offset = offset
    }

    public var topic: String { topicPartition.topic }
    public var partition: Int32 { topicPartition.partition }

    public var description: String { topicPartition.description + "@" + "\(offset)" }
}

/// A message header: a name and a value, which may be absent (null).
public struct KafkaHeader: Hashable, Sendable {
    public let name: String
    public let value: [UInt8]?

    public init(name: String, value: [UInt8]?) {
        self.name = name
        self.value = value
    }

    /// A header whose value is the UTF-8 bytes of `text`.
    public init(name: String, text: String) {
        self.init(name: name, value: Array(text.utf8))
    }
}

/// When a message was created or appended, as Kafka records it.
public struct KafkaTimestamp: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        /// Set by the producer.
        case createTime
        /// Set by the broker when it appended the message.
        case logAppendTime
    }

    public let kind: Kind
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public let milliseconds: Int64

    public init(kind: Kind, milliseconds: Int64) {
        self.kind = kind
        self.milliseconds = milliseconds
    }
}

/// A consumed message as a Swift value, owning copies of its bytes.
///
/// A nil ``value`` is a tombstone (a delete marker on a compacted topic), a normal message.
public struct KafkaMessage: Hashable, Sendable {
    public let topic: String
    public let partition: Int32
    public let offset: Int64
    public let key: [UInt8]?
    public let value: [UInt8]?
    public let headers: [KafkaHeader]
    public let timestamp: KafkaTimestamp?

    public init(
        topic: String, partition: Int32, offset: Int64, key: [UInt8]?, value: [UInt8]?,
        headers: [KafkaHeader] = [], timestamp: KafkaTimestamp? = nil
    ) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }

    public var topicPartition: TopicPartition {
        TopicPartition(topic: topic, partition: partition)
    }

    /// The position to store or commit once this message is processed: the next offset.
    public var nextOffset: TopicPartitionOffset {
        TopicPartitionOffset(topicPartition, offset: .exactly(offset + 1))
    }
}

import CRdKafka

/// A consumed message, borrowed from librdkafka for the duration of a poll callback.
///
/// The hot path reads keys and values in place through ``key`` and ``value`` without copying;
/// ``copy()`` makes an owned ``KafkaMessage``.
///
/// - Important: A view and the buffers it returns are valid only inside the closure that
///   received it. Do not store them or let them escape.
public struct KafkaMessageView {
    let message: UnsafeMutablePointer<rd_kafka_message_t>

    public var partition: Int32 { message.pointee.partition }
    public var offset: Int64 { message.pointee.offset }
    public var topicPartition: TopicPartition {
        TopicPartition(topic: topic, partition: partition)
    }

    /// The topic's name (a small string for names of up to 15 bytes: no allocation).
    public var topic: String { String(cString: rd_kafka_topic_name(message.pointee.rkt)) }

    /// The key's bytes in place, or nil when the message has no key.
    public var key: UnsafeRawBufferPointer? {
        guard let key = message.pointee.key else { return nil }
        return UnsafeRawBufferPointer(start: key, count: message.pointee.key_len)
    }

    /// The value's bytes in place, or nil for a tombstone.
    public var value: UnsafeRawBufferPointer? {
        guard let payload = message.pointee.payload else { return nil }
        return UnsafeRawBufferPointer(start: payload, count: message.pointee.len)
    }

    /// The message's timestamp, when it has one.
    public var timestamp: KafkaTimestamp? {
        var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let milliseconds = rd_kafka_message_timestamp(message, &type)
        switch type {
        case RD_KAFKA_TIMESTAMP_CREATE_TIME:
            return KafkaTimestamp(kind: .createTime, milliseconds: milliseconds)
        case RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME:
            return KafkaTimestamp(kind: .logAppendTime, milliseconds: milliseconds)
        default:
            return nil
        }
    }

    /// The headers, copied, in the order they were written.
    public var headers: [KafkaHeader] {
        var list: OpaquePointer?
        guard rd_kafka_message_headers(message, &list) == RD_KAFKA_RESP_ERR_NO_ERROR,
            let list
        else { return [] }
        var headers: [KafkaHeader] = []
        var index = 0
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while rd_kafka_header_get_all(list, index, &name, &value, &size)
            == RD_KAFKA_RESP_ERR_NO_ERROR
        {
            let bytes = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) }
            headers.append(KafkaHeader(name: name.map { String(cString: $0) } ?? "", value: bytes))
            index += 1
        }
        return headers
    }

    /// The position to store or commit once this message is processed: the next offset.
    public var nextOffset: TopicPartitionOffset {
        TopicPartitionOffset(topicPartition, offset: .exactly(offset + 1))
    }

    /// An owned copy of the message.
    public func copy() -> KafkaMessage {
        KafkaMessage(
            topic: topic, partition: partition, offset: offset, key: key.map { Array($0) },
            value: value.map { Array($0) }, headers: headers, timestamp: timestamp)
    }
}

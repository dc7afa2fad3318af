import CRdKafka

/// Owns an `rd_kafka_topic_partition_list_t`.
///
/// Thread: the creating thread only.
final class RdKafkaPartitionList {
    let pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>

    /// Takes ownership of a list that librdkafka allocated.
    init(taking pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        self.pointer = pointer
    }

    /// A new list of partitions with positions.
    convenience init(_ offsets: [TopicPartitionOffset]) {
        self.init(taking: rd_kafka_topic_partition_list_new(Int32(clamping: offsets.count)))
        for entry in offsets {
            let element = rd_kafka_topic_partition_list_add(pointer, entry.topic, entry.partition)
            element?.pointee.offset = entry.offset.rawValue
        }
    }

    /// A new list of partitions without positions.
    convenience init(_ partitions: [TopicPartition]) {
        self.init(partitions.map { TopicPartitionOffset($0, offset: .committed) })
    }

    deinit { rd_kafka_topic_partition_list_destroy(pointer) }

    /// The entries as Swift values.
    var offsets: [TopicPartitionOffset] { RdKafkaPartitionList.offsets(of: pointer) }

    /// The entries of a list owned elsewhere.
    static func offsets(of list: UnsafePointer<rd_kafka_topic_partition_list_t>)
        -> [TopicPartitionOffset]
    {
        (0..<Int(list.pointee.cnt)).map { index in
            let element = list.pointee.elems[index]
            return TopicPartitionOffset(
                topic: String(cString: element.topic), partition: element.partition,
                offset: KafkaOffset(rawValue: element.offset))
        }
    }

    /// The first per-partition error in the list, if any.
    func firstError(operation: String) -> KafkaError? {
        for index in 0..<Int(pointer.pointee.cnt) {
            let element = pointer.pointee.elems[index]
            if element.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                let partition = TopicPartition(
                    topic: String(cString: element.topic), partition: element.partition)
                return KafkaError(element.err, operation: operation + " " + partition.description)
            }
        }
        return nil
    }
}

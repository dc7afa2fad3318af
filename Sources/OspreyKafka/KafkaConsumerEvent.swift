/// Something other than a message that a consumer's poll reports, in the order it happened.
public enum KafkaConsumerEvent: Sendable {
    /// The group moved partitions to or from this member.
    case rebalance(KafkaRebalance)
    /// The consumer has read everything in a partition up to `offset` (the high watermark);
    /// reported only with `enable.partition.eof=true`.
    case partitionEnd(TopicPartition, offset: Int64)
    /// librdkafka's periodic statistics (with `statistics.interval.ms` set).
    case statistics(KafkaStatistics)
    /// A problem the client reports and recovers from by itself (a broker went away, an
    /// asynchronous commit failed); fatal errors are thrown instead.
    case error(KafkaError)
}

/// How a group assigns partitions (librdkafka's `partition.assignment.strategy` decides).
public enum KafkaRebalanceProtocol: Sendable, Hashable {
    /// Every rebalance revokes every partition, then assigns the new set (`range`,
    /// `roundrobin`).
    case eager
    /// Only the partitions that move are revoked or assigned (`cooperative-sticky`).
    case cooperative
}

/// One rebalance step as it reached this member.
///
/// By the time the caller sees it, the consumer has already done what librdkafka requires
/// (assign, incremental assign or unassign) and, on revocation, committed the stored offsets
/// when the consumer was created with `commitOnRevoke`. Messages of revoked partitions that
/// were fetched but not yet handed out are dropped, so that the next owner reads them from the
/// committed offset: every message before a revocation was given to the caller before this
/// event, and none after.
public struct KafkaRebalance: Sendable {
    public enum Kind: Sendable, Hashable {
        /// These partitions are now this member's.
        case assigned
        /// These partitions were taken away in an orderly way.
        case revoked
        /// These partitions were taken away without a chance to commit (the member was
        /// thought dead); another member may already be processing them.
        case lost
    }

    public let kind: Kind
    public let partitions: [TopicPartition]
    public let rebalanceProtocol: KafkaRebalanceProtocol
    /// Why the commit on revocation failed, when it did.
    public let commitError: KafkaError?
}

/// A topic as the cluster describes it.
public struct KafkaTopicDescription: Sendable, Hashable {
    /// One partition: its leader and replicas by broker id.
    public struct Partition: Sendable, Hashable {
        public let id: Int32
        public let leader: Int32
        public let replicas: [Int32]
        public let inSyncReplicas: [Int32]
    }

    public let name: String
    /// The partitions in id order.
    public let partitions: [Partition]
}

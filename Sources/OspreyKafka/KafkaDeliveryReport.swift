/// The outcome of one produced message, read from the producer's event queue.
public struct KafkaDeliveryReport: Sendable {
    /// The number ``KafkaProducer/send(topic:partition:key:value:headers:timestamp:)`` returned.
    public let id: UInt64
    public let topic: String
    /// The partition the message went to (or was meant for).
    public let partition: Int32
    /// The offset the broker gave the message; nil when it failed or is unknown.
    public let offset: Int64?
    /// Why the message was not delivered; nil when it was.
    public let error: KafkaError?

    public var isDelivered: Bool { error == nil }
}

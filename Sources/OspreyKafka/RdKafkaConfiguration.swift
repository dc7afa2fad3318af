import CRdKafka

/// Owns an `rd_kafka_conf_t` until a client takes it.
///
/// Thread: the creating thread only.
final class RdKafkaConfiguration {
    /// The handle; nil once ``release()`` handed it to `rd_kafka_new`.
    private var handle: OpaquePointer?

    /// Builds a librdkafka configuration from every pair, in order.
    ///
    /// - Throws: ``KafkaError`` naming the first key that librdkafka refuses, with its reason.
    init(_ configuration: KafkaConfiguration) throws(KafkaError) {
        handle = rd_kafka_conf_new()
        for pair in configuration.pairs {
            try set(pair.key, pair.value)
        }
    }

    deinit {
        if let handle { rd_kafka_conf_destroy(handle) }
    }

    /// The handle, still owned by this object.
    var pointer: OpaquePointer { handle! }

    /// Sets one property.
    ///
    /// - Throws: ``KafkaError`` naming `key`, with librdkafka's reason.
    func set(_ key: String, _ value: String) throws(KafkaError) {
        var reason = [CChar](repeating: 0, count: 512)
        let result = rd_kafka_conf_set(handle, key, value, &reason, reason.count)
        guard result == RD_KAFKA_CONF_OK else {
            throw KafkaError.configuration(key: key, reason: reason.nulTerminatedText)
        }
    }

    /// Gives the handle up: `rd_kafka_new` takes ownership of the conf on success only, so call
    /// this after it succeeded and not before.
    func release() { handle = nil }
}

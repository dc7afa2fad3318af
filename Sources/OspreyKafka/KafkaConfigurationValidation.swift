extension KafkaConfiguration {
    /// Checks every pair with librdkafka without creating a client, as `osprey check-config`
    /// and the daemon's start-up do.
    ///
    /// - Throws: ``KafkaError`` naming the first key that librdkafka refuses, with its reason.
    public func validate() throws(KafkaError) {
        _ = try RdKafkaConfiguration(self)
    }
}

import OspreyCore

/// librdkafka configuration as ordered key/value pairs, passed to librdkafka verbatim.
///
/// Keys are librdkafka's (`bootstrap.servers`, `linger.ms`); the Kafka layer adds its own
/// defaults first, so that a pair given here always wins. librdkafka checks every key and value
/// when a client is created; a refusal is a ``KafkaError`` naming the key and the reason.
///
/// - Important: Values such as `sasl.password` are secrets; ``description`` masks every key
///   that ends in `password` or `secret`, and nothing in this module logs values.
public struct KafkaConfiguration: Sendable, CustomStringConvertible {
    /// The pairs in the order they are applied; a later pair for the same key wins.
    public private(set) var pairs: [(key: String, value: String)]

    public init() { self.pairs = [] }

    public init(_ pairs: KeyValuePairs<String, String>) {
        self.pairs = pairs.map { (key: $0.key, value: $0.value) }
    }

    public init(pairs: [(key: String, value: String)]) { self.pairs = pairs }

    /// The value last set for `key`, or nil; setting appends a pair, so it overrides.
    public subscript(key: String) -> String? {
        get { pairs.last { $0.key == key }?.value }
        set {
            pairs.removeAll { $0.key == key }
            if let newValue { pairs.append((key: key, value: newValue)) }
        }
    }

    /// A copy with `other`'s pairs applied after this one's.
    public func merging(_ other: KafkaConfiguration) -> KafkaConfiguration {
        var merged = self
        for pair in other.pairs { merged[pair.key] = pair.value }
        return merged
    }

    /// A copy with `defaults` applied first, so that this configuration's own pairs win.
    func withDefaults(_ defaults: KeyValuePairs<String, String>) -> KafkaConfiguration {
        KafkaConfiguration(pairs: defaults.map { (key: $0.key, value: $0.value) })
            .merging(self)
    }

    /// `key=value` pairs separated by spaces, with secret values masked.
    public var description: String {
        pairs.map { pair in
            let secret = pair.key.hasSuffix("password") || pair.key.hasSuffix("secret")
            return pair.key + "=" + (secret ? "*****" : pair.value)
        }.joined(separator: " ")
    }
}

extension KafkaConfiguration {
    /// The `bootstrap.servers` value that asks for the embedded development broker.
    public static let embeddedBootstrapServers = "embedded"

    /// Whether `bootstrap.servers` is ``embeddedBootstrapServers``.
    public var usesEmbeddedBroker: Bool {
        self["bootstrap.servers"]?.trimmingWhitespace()
            == KafkaConfiguration.embeddedBootstrapServers
    }

    /// A copy whose `bootstrap.servers` are the embedded broker's.
    public func pointing(at broker: EmbeddedBroker) -> KafkaConfiguration {
        var copy = self
        copy["bootstrap.servers"] = broker.bootstrapServers
        return copy
    }
}

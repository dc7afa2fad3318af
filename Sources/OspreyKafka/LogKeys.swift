import OspreyCore

extension LogKey {
    /// librdkafka's facility for a log line it wrote (`REQTMOUT`, `CGRPOP`).
    public static let facility: LogKey = "facility"
    /// librdkafka's name for a client instance (`rdkafka#consumer-1`).
    public static let client: LogKey = "client"
    /// Bootstrap servers of a cluster.
    public static let bootstrapServers: LogKey = "bootstrap_servers"
    /// A number of brokers.
    public static let brokers: LogKey = "brokers"
    /// A broker's id.
    public static let broker: LogKey = "broker"
    /// A number of partitions.
    public static let partitions: LogKey = "partitions"
    /// A consumer group's name.
    public static let group: LogKey = "group"
    /// A rebalance protocol, `EAGER` or `COOPERATIVE`.
    public static let rebalanceProtocol: LogKey = "protocol"
    /// librdkafka's error name (`_MSG_TIMED_OUT`).
    public static let errorName: LogKey = "error_name"
    /// A number of messages.
    public static let messages: LogKey = "messages"
    /// A benchmark's role (`producer`, `consumer`).
    public static let role: LogKey = "role"
    /// A benchmark round, from 1.
    public static let round: LogKey = "round"
    /// A signal's name (`SIGTERM`).
    public static let signal: LogKey = "signal"
}

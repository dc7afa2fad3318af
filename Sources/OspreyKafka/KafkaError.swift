/// A failure in the Kafka layer: librdkafka's error code, name and text, what kind of failure it
/// is, and which operation reported it.
///
/// Every librdkafka error code and `rd_kafka_error_t` is turned into this type in one place,
/// `RdKafkaError.swift`. Errors from configuration also carry the key that was refused.
public struct KafkaError: Error, Sendable, CustomStringConvertible {
    /// librdkafka's numeric error code (`rd_kafka_resp_err_t`): negative for errors that the
    /// client raised itself, positive for errors that a broker returned.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        public static let noError = Code(rawValue: 0)
        /// A local problem inside the client (`_FAIL`).
        public static let failure = Code(rawValue: -196)
        /// A connection failed (`_TRANSPORT`).
        public static let transport = Code(rawValue: -195)
        /// A message was not delivered within `message.timeout.ms` (`_MSG_TIMED_OUT`).
        public static let messageTimedOut = Code(rawValue: -192)
        /// A consumer reached the end of a partition (`_PARTITION_EOF`).
        public static let partitionEnd = Code(rawValue: -191)
        /// The topic is not known to the cluster (`_UNKNOWN_TOPIC`).
        public static let unknownTopic = Code(rawValue: -188)
        /// Every broker is down (`_ALL_BROKERS_DOWN`).
        public static let allBrokersDown = Code(rawValue: -187)
        /// An argument was invalid, including a refused configuration value (`_INVALID_ARG`).
        public static let invalidArgument = Code(rawValue: -186)
        /// An operation did not finish in its time budget (`_TIMED_OUT`).
        public static let timedOut = Code(rawValue: -185)
        /// The producer's local queue is full (`_QUEUE_FULL`).
        public static let queueFull = Code(rawValue: -184)
        /// A state that does not allow the operation (`_STATE`).
        public static let state = Code(rawValue: -172)
        /// A fatal error was raised; the client must be recreated (`_FATAL`).
        public static let fatal = Code(rawValue: -150)
        /// No offset to commit (`_NO_OFFSET`).
        public static let noOffset = Code(rawValue: -168)
        /// The operation was not supported by the broker (`_UNSUPPORTED_FEATURE`).
        public static let unsupportedFeature = Code(rawValue: -165)
        /// The broker refused the topic (`TOPIC_AUTHORIZATION_FAILED`), a non-retriable error.
        public static let topicAuthorizationFailed = Code(rawValue: 29)
        /// The broker refused a message as too large (`MSG_SIZE_TOO_LARGE`), non-retriable.
        public static let messageSizeTooLarge = Code(rawValue: 10)
        /// The broker has no leader for the partition (`NOT_LEADER_FOR_PARTITION`), retriable.
        public static let notLeaderForPartition = Code(rawValue: 6)
        /// The topic already exists (`TOPIC_ALREADY_EXISTS`).
        public static let topicAlreadyExists = Code(rawValue: 36)

        public var description: String { String(rawValue) }
    }

    /// librdkafka's code.
    public let code: Code
    /// librdkafka's symbolic name for the code (`_MSG_TIMED_OUT`, `NOT_LEADER_FOR_PARTITION`).
    public let name: String
    /// librdkafka's text for this occurrence, or the generic text for the code.
    public let message: String
    /// The client cannot continue; it must be closed and created anew.
    public let isFatal: Bool
    /// Repeating the operation may succeed.
    public let isRetriable: Bool
    /// The current transaction must be aborted before the producer can go on.
    public let requiresTransactionAbort: Bool
    /// What we were doing, in a few words (`produce`, `commit offsets`, `set configuration`).
    public let operation: String
    /// The configuration key that was refused, for configuration errors.
    public let configurationKey: String?

    public init(
        code: Code, name: String, message: String, operation: String,
        isFatal: Bool = false, isRetriable: Bool = false,
        requiresTransactionAbort: Bool = false, configurationKey: String? = nil
    ) {
        self.code = code
        self.name = name
        self.message = message
        self.operation = operation
        self.isFatal = isFatal
        self.isRetriable = isRetriable
        self.requiresTransactionAbort = requiresTransactionAbort
        self.configurationKey = configurationKey
    }

    /// One line for an operator: `kafka: produce failed: Local: Queue full (_QUEUE_FULL)`, with
    /// the configuration key and the flags when they apply.
    public var description: String {
        var text = "kafka: " + operation
        if let configurationKey { text += " '" + configurationKey + "'" }
        text += " failed: " + message + " (" + name + ")"
        var flags: [String] = []
        if isFatal { flags.append("fatal") }
        if isRetriable { flags.append("retriable") }
        if requiresTransactionAbort { flags.append("transaction must be aborted") }
        if !flags.isEmpty { text += " [" + flags.joined(separator: ", ") + "]" }
        return text
    }
}

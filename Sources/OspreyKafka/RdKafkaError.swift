import CRdKafka

// The one place where librdkafka's error codes and error objects become `KafkaError`.

extension KafkaError {
    /// The error for a librdkafka response code, with librdkafka's name and generic text unless
    /// `detail` gives the text of this occurrence.
    init(_ code: rd_kafka_resp_err_t, operation: String, detail: String? = nil) {
        let name = String(cString: rd_kafka_err2name(code))
        let text = detail ?? String(cString: rd_kafka_err2str(code))
        self.init(
            code: Code(rawValue: code.rawValue), name: name, message: text,
            operation: operation, isFatal: code == RD_KAFKA_RESP_ERR__FATAL,
            isRetriable: KafkaError.retriableCodes.contains(code.rawValue))
    }

    /// The error held by an `rd_kafka_error_t`, which this call destroys (ownership passes here).
    init(taking error: OpaquePointer, operation: String) {
        defer { rd_kafka_error_destroy(error) }
        self.init(
            code: Code(rawValue: rd_kafka_error_code(error).rawValue),
            name: String(cString: rd_kafka_error_name(error)),
            message: String(cString: rd_kafka_error_string(error)), operation: operation,
            isFatal: rd_kafka_error_is_fatal(error) != 0,
            isRetriable: rd_kafka_error_is_retriable(error) != 0,
            requiresTransactionAbort: rd_kafka_error_txn_requires_abort(error) != 0)
    }

    /// The error that a client raised as fatal, read back with `rd_kafka_fatal_error`.
    static func fatal(client: OpaquePointer, operation: String) -> KafkaError {
        var text = [CChar](repeating: 0, count: 512)
        var code = rd_kafka_fatal_error(client, &text, text.count)
        if code == RD_KAFKA_RESP_ERR_NO_ERROR { code = RD_KAFKA_RESP_ERR__FATAL }
        return KafkaError(
            code: Code(rawValue: code.rawValue), name: String(cString: rd_kafka_err2name(code)),
            message: text.nulTerminatedText, operation: operation, isFatal: true)
    }

    /// Throws unless `code` is `RD_KAFKA_RESP_ERR_NO_ERROR`.
    static func check(_ code: rd_kafka_resp_err_t, _ operation: String) throws(KafkaError) {
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(code, operation: operation)
        }
    }

    /// Throws the error an `rd_kafka_error_t` holds, when there is one.
    static func check(taking error: OpaquePointer?, _ operation: String) throws(KafkaError) {
        if let error { throw KafkaError(taking: error, operation: operation) }
    }

    /// A refused configuration key, with librdkafka's reason.
    static func configuration(key: String, reason: String) -> KafkaError {
        KafkaError(
            code: .invalidArgument,
            name: String(cString: rd_kafka_err2name(RD_KAFKA_RESP_ERR__INVALID_ARG)),
            message: reason, operation: "set configuration", configurationKey: key)
    }

    /// Codes that librdkafka's own retry logic treats as transient: a later attempt may succeed.
    private static let retriableCodes: Set<Int32> = [
        RD_KAFKA_RESP_ERR__TRANSPORT.rawValue, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT.rawValue,
        RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN.rawValue, RD_KAFKA_RESP_ERR__TIMED_OUT.rawValue,
        RD_KAFKA_RESP_ERR__QUEUE_FULL.rawValue, RD_KAFKA_RESP_ERR__RESOLVE.rawValue,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT.rawValue,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION.rawValue,
        RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE.rawValue,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS.rawValue,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND.rawValue,
        RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION.rawValue,
        RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS.rawValue,
        RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE.rawValue,
        RD_KAFKA_RESP_ERR_NOT_COORDINATOR.rawValue,
        RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS.rawValue,
        RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART.rawValue,
    ]
}

extension Array where Element == CChar {
    /// The text up to the first NUL of a buffer that librdkafka wrote an error into.
    var nulTerminatedText: String {
        let end = firstIndex(of: 0) ?? endIndex
        return String(decoding: self[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

import CRdKafka
import OspreyCore

/// Owns one `rd_kafka_t` and its main event queue, and routes librdkafka's log lines into our
/// logger.
///
/// Every client is created with `log.queue=true` and its log queue forwarded to the main
/// queue, so librdkafka never calls us from its own threads: logs, errors, statistics,
/// delivery reports and commit results all wait on the main queue until ``serve(timeout:_:)``
/// takes them.
///
/// Thread: one thread at a time, the thread that polls (the owner serialises calls).
final class RdKafkaClient {
    let handle: OpaquePointer
    let mainQueue: OpaquePointer
    let logger: Logger
    /// Objects that C holds unretained pointers to (the rebalance state); released only after
    /// `rd_kafka_destroy` returned.
    private let keptAlive: AnyObject?

    /// Creates the client. `events` is the `RD_KAFKA_EVENT_*` mask for the main queue.
    ///
    /// - Throws: ``KafkaError`` when librdkafka refuses a configuration key or cannot start.
    init(
        kind: rd_kafka_type_t, configuration: RdKafkaConfiguration, events: Int32,
        logger: Logger, keepAlive: AnyObject? = nil
    ) throws(KafkaError) {
        try configuration.set("log.queue", "true")
        rd_kafka_conf_set_events(configuration.pointer, events | RD_KAFKA_EVENT_LOG)
        var reason = [CChar](repeating: 0, count: 512)
        guard let handle = rd_kafka_new(kind, configuration.pointer, &reason, reason.count)
        else {
            throw KafkaError(
                RD_KAFKA_RESP_ERR__INVALID_ARG, operation: "create client",
                detail: reason.nulTerminatedText)
        }
        configuration.release()  // rd_kafka_new took the conf on success.
        self.handle = handle
        self.mainQueue = rd_kafka_queue_get_main(handle)
        self.keptAlive = keepAlive
        let name = String(cString: rd_kafka_name(handle))
        self.logger = logger.with(.client, .string(name))
        rd_kafka_set_log_queue(handle, nil)  // nil: the main queue.
    }

    deinit {
        rd_kafka_queue_destroy(mainQueue)
        rd_kafka_destroy(handle)
        // `keptAlive` is released after this body, once C no longer points at it.
    }

    /// Serves the main queue: waits up to `timeout` for the first event, then takes what is
    /// already queued. Log events go to the logger; every other event goes to `body`, and is
    /// destroyed when `body` returns.
    ///
    /// - Returns: the number of events other than log lines.
    @discardableResult
    func serve(timeout: Duration, _ body: (OpaquePointer) throws(KafkaError) -> Void)
        throws(KafkaError) -> Int
    {
        var wait = Int32(clamping: max(0, timeout.totalMilliseconds))
        var served = 0
        while let event = rd_kafka_queue_poll(mainQueue, wait) {
            wait = 0
            defer { rd_kafka_event_destroy(event) }
            if rd_kafka_event_type(event) == RD_KAFKA_EVENT_LOG {
                writeLog(event)
            } else {
                served += 1
                try body(event)
            }
        }
        return served
    }

    /// The error that an `RD_KAFKA_EVENT_ERROR` event carries; fatal errors are read back with
    /// `rd_kafka_fatal_error` so that the real cause is reported.
    func error(of event: OpaquePointer, operation: String) -> KafkaError {
        if rd_kafka_event_error_is_fatal(event) != 0 {
            return KafkaError.fatal(client: handle, operation: operation)
        }
        return KafkaError(
            rd_kafka_event_error(event), operation: operation,
            detail: String(cString: rd_kafka_event_error_string(event)))
    }

    /// Writes one librdkafka log line through our logger, at the level mapped from its syslog
    /// severity.
    private func writeLog(_ event: OpaquePointer) {
        var facility: UnsafePointer<CChar>?
        var text: UnsafePointer<CChar>?
        var severity: Int32 = 7
        guard rd_kafka_event_log(event, &facility, &text, &severity) == 0, let text else {
            return
        }
        let level = RdKafkaLog.level(syslogSeverity: severity)
        guard logger.isEnabled(level) else { return }
        logger.log(
            level, dynamicMessage: String(cString: text),
            [(.facility, .string(facility.map { String(cString: $0) } ?? ""))])
    }
}

/// librdkafka's log severities (syslog's numbers) mapped onto our levels.
enum RdKafkaLog {
    /// The level for a syslog severity, spelled out so that the mapping is visible: emergency,
    /// alert and critical are critical; error, warning, notice, info and debug map one to one.
    static func level(syslogSeverity: Int32) -> LogLevel {
        switch syslogSeverity {
        case 0: .critical  // LOG_EMERG
        case 1: .critical  // LOG_ALERT
        case 2: .critical  // LOG_CRIT
        case 3: .error  // LOG_ERR
        case 4: .warning  // LOG_WARNING
        case 5: .notice  // LOG_NOTICE
        case 6: .info  // LOG_INFO
        default: .debug  // LOG_DEBUG and anything unknown
        }
    }

    /// The `log_level` setting for librdkafka that matches our minimum level, so that lines
    /// below it are not even formatted.
    static func librdkafkaLevel(for level: LogLevel) -> String {
        switch level {
        case .trace, .debug: "7"
        case .info: "6"
        case .notice: "5"
        case .warning: "4"
        case .error: "3"
        case .critical: "2"
        }
    }
}

import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes logfmt lines: `ts=… level=info logger=kafka msg="checkpoint written" partitions=6`.
///
/// A logger is a cheap value: a label naming the subsystem plus fields attached to every line
/// it writes. Lines go to the process-wide ``LogSink`` (stderr unless replaced), which also
/// holds the minimum level, so that a SIGHUP can change the level of every logger at once.
///
/// Messages are constants; data goes in fields, under keys declared as ``LogKey`` constants.
///
/// Thread: any; the sink serialises writes.
public struct Logger: Sendable {
    /// The subsystem, written as the `logger` field.
    public let label: String
    /// Fields written on every line of this logger, after the message.
    public private(set) var metadata: [(LogKey, LogValue)]
    private let sink: LogSink

    public init(label: String, sink: LogSink = .shared) {
        self.label = label
        self.metadata = []
        self.sink = sink
    }

    /// A copy of this logger that adds `value` under `key` to every line.
    public func with(_ key: LogKey, _ value: LogValue) -> Logger {
        var copy = self
        copy.metadata.append((key, value))
        return copy
    }

    /// Whether a line at `level` would be written; use it to skip building costly fields.
    public func isEnabled(_ level: LogLevel) -> Bool { level >= sink.minimumLevel }

    public func log(
        _ level: LogLevel, _ message: StaticString, _ fields: KeyValuePairs<LogKey, LogValue> = [:]
    ) {
        guard isEnabled(level) else { return }
        write(level, "\(message)", Array(fields))
    }

    /// Logs a message that is not a compile-time constant, such as a line that librdkafka wrote.
    ///
    /// - Important: Use it only for text that comes from a library; our own messages are
    ///   constants so that they can be searched for.
    public func log(
        _ level: LogLevel, dynamicMessage message: String,
        _ fields: [(LogKey, LogValue)] = []
    ) {
        guard isEnabled(level) else { return }
        write(level, message, fields)
    }

    public func trace(_ message: StaticString, _ fields: KeyValuePairs<LogKey, LogValue> = [:]) {
        log(.trace, message, fields)
    }
    public func debug(_ message: StaticString, _ fields: KeyValuePairs<LogKey, LogValue> = [:]) {
        log(.debug, message, fields)
    }
    public func info(_ message: StaticString, _ fields: KeyValuePairs<LogKey, LogValue> = [:]) {
        log(.info, message, fields)
    }
    public func notice(_ message: StaticString, _ fields: KeyValuePairs<LogKey, LogValue> = [:]) {
        log(.notice, message, fields)
    }
    public func warning(_ message: StaticString, _ fields: KeyValuePairs<LogKey, LogValue> = [:]) {
        log(.warning, message, fields)
    }
    public func error(_ message: StaticString, _ fields: KeyValuePairs<LogKey, LogValue> = [:]) {
        log(.error, message, fields)
    }
    public func critical(
        _ message: StaticString, _ fields: KeyValuePairs<LogKey, LogValue> = [:]
    ) {
        log(.critical, message, fields)
    }

    private func write(_ level: LogLevel, _ message: String, _ fields: [(LogKey, LogValue)]) {
        var line = "ts=" + Logger.timestamp() + " level=" + level.description
        line += " logger=" + LogValue.quotedIfNeeded(label)
        line += " msg=" + LogValue.quotedIfNeeded(message)
        for (key, value) in metadata + fields {
            line += " " + key.name + "=" + value.description
        }
        line += "\n"
        sink.write(line)
    }

    /// The current UTC time as RFC 3339 with milliseconds.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let millis = Int32(now.tv_nsec / 1_000_000)
        return pad(parts.tm_year + 1900, 4) + "-" + pad(parts.tm_mon + 1, 2) + "-"
            + pad(parts.tm_mday, 2) + "T" + pad(parts.tm_hour, 2) + ":" + pad(parts.tm_min, 2)
            + ":" + pad(parts.tm_sec, 2) + "." + pad(millis, 3) + "Z"
    }
}

/// Where log lines go, and the minimum level that is written.
///
/// Thread: any. A mutex serialises writes so lines from different threads never interleave;
/// the level is an atomic so that reading it costs no lock.
public final class LogSink: Sendable {
    /// The process-wide sink, writing to standard error at `info` and above.
    public static let shared = LogSink(minimumLevel: .info)

    private let level: Atomic<Int>
    private let output: Mutex<(@Sendable (String) -> Void)?>

    /// Creates a sink; `output` receives whole lines, or stderr gets them when it is nil.
    public init(minimumLevel: LogLevel, output: (@Sendable (String) -> Void)? = nil) {
        self.level = Atomic(minimumLevel.rawValue)
        self.output = Mutex(output)
    }

    public var minimumLevel: LogLevel {
        get { LogLevel(rawValue: level.load(ordering: .relaxed)) ?? .info }
        set { level.store(newValue.rawValue, ordering: .relaxed) }
    }

    /// Sends lines to `output` from now on, or back to stderr when nil (tests capture logs so).
    public func redirect(to output: (@Sendable (String) -> Void)?) {
        self.output.withLock { $0 = output }
    }

    func write(_ line: String) {
        output.withLock { output in
            if let output {
                output(line)
            } else {
                var bytes = Array(line.utf8)
                bytes.withUnsafeMutableBytes { buffer in
                    var offset = 0
                    while offset < buffer.count {
                        let written = Glibc.write(
                            2, buffer.baseAddress! + offset, buffer.count - offset)
                        if written <= 0 {
                            if written < 0 && errno == EINTR { continue }
                            return
                        }
                        offset += written
                    }
                }
            }
        }
    }
}

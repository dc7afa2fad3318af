import OspreyCore
import OspreyKafka
import OspreySimulator

#if canImport(Glibc)
    import Glibc
#endif

/// Where `osprey simulate` and `osprey replay` put their records: a JSON-lines file or Kafka.
///
/// Thread: the command's main thread only.
protocol RecordSink {
    func write(_ record: SimulatedRecord) throws
    /// Waits until `deadline`, doing any background work (serving delivery reports) meanwhile.
    func idle(until deadline: ContinuousClock.Instant) throws
    /// Flushes and closes; throws when anything written was lost.
    func finish() throws
}

/// A failure of `osprey simulate` or `osprey replay` that names what was lost.
struct SinkError: Error, CustomStringConvertible {
    let description: String
}

/// JSON lines to a file, or to standard output for `-`.
final class FileRecordSink: RecordSink {
    private let path: String
    private let stream: UnsafeMutablePointer<FILE>

    init(path: String) throws(SinkError) {
        self.path = path
        guard let stream = path == "-" ? fdopen(1, "w") : fopen(path, "w") else {
            throw SinkError(
                description: "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        self.stream = stream
    }

    func write(_ record: SimulatedRecord) throws {
        var line = record.json
        line.append(10)
        guard fwrite(line, 1, line.count, stream) == line.count else { throw failure() }
    }

    func idle(until deadline: ContinuousClock.Instant) throws {
        fflush(stream)
        let wait = deadline - .now
        guard wait > .zero else { return }
        var pause = timespec(
            tv_sec: Int(wait.components.seconds),
            tv_nsec: Int(wait.components.attoseconds / 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&pause, &remaining) != 0 && errno == EINTR { pause = remaining }
    }

    func finish() throws {
        guard fflush(stream) == 0 else { throw failure() }
        if path != "-", fclose(stream) != 0 { throw failure() }
    }

    private func failure() -> SinkError {
        SinkError(description: "cannot write \(path): \(String(cString: strerror(errno)))")
    }
}

/// Events and labels to two Kafka topics, keyed by user id, with the event time as the
/// message timestamp. Idempotent, so a retried send never duplicates.
final class KafkaRecordSink: RecordSink {
    private let producer: KafkaProducer
    private let eventsTopic: String
    private let labelsTopic: String
    private let failures = FailureTally()

    init(bootstrap: String, eventsTopic: String, labelsTopic: String) throws(KafkaError) {
        let tally = failures
        producer = try KafkaProducer(
            configuration: KafkaConfiguration([
                "bootstrap.servers": bootstrap, "enable.idempotence": "true", "linger.ms": "5",
            ])
        ) { report in
            if let error = report.error { tally.record(error) }
        }
        self.eventsTopic = eventsTopic
        self.labelsTopic = labelsTopic
    }

    func write(_ record: SimulatedRecord) throws {
        let topic = record.kind == .event ? eventsTopic : labelsTopic
        try producer.send(
            topic: topic, key: Array(record.key.utf8), value: record.json,
            timestamp: KafkaTimestamp(kind: .createTime, milliseconds: record.timeMs))
        if let error = failures.first { throw error }
    }

    func idle(until deadline: ContinuousClock.Instant) throws {
        while case let now = ContinuousClock.now, now < deadline {
            try producer.poll(timeout: min(.milliseconds(50), deadline - now))
        }
    }

    func finish() throws {
        try producer.flush(timeout: .seconds(30))
        if let error = failures.first {
            throw SinkError(
                description: "\(failures.count) records were not delivered; the first: \(error)")
        }
    }
}

/// Delivery failures seen so far; the delivery closure and the command share it.
private final class FailureTally {
    private(set) var count = 0
    private(set) var first: KafkaError?

    func record(_ error: KafkaError) {
        count += 1
        if first == nil { first = error }
    }
}

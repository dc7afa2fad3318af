import Foundation
import OspreyCore
import OspreyKafka
import Synchronization

/// `osprey demo` (interim): the embedded broker with sample traffic flowing through it, and a
/// live line of rates and counts.
///
/// - Important: A stand-in until the daemon exists; it shows the Kafka layer only (no
///   features, no model, no alerts).
struct DemoCommand: Command {
    static let spec = CommandSpec(
        name: "demo",
        abstract: "Streams sample events through the embedded broker and shows the rates live.",
        discussion: """
            Starts the embedded development broker (in memory only, at most 5 MiB per
            partition), produces sample click and order events to the topic 'events' and
            consumes them back in a consumer group, printing a line each second with what
            was produced and consumed, the rates and the lag. It stops after the duration,
            or on SIGINT or SIGTERM, and prints a summary.
            """,
        options: [
            OptionSpec(
                "duration", value: "DURATION",
                help: "Runs for this long, for example 20s or 2m. The default is 20s."),
            OptionSpec(
                "rate", value: "N", help: "Produces N events per second. The default is 20000."),
        ])

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        SignalPipe.install([SIGINT, SIGTERM])
        let duration = try arguments.duration("duration", default: .seconds(20))
        let rate = try arguments.int("rate", default: 20_000)
        guard rate >= 1 else { throw UsageError("option '--rate' must be at least 1") }

        let logger = Logger(label: "demo")
        let broker = try EmbeddedBroker(logger: logger)
        try broker.createTopic("events", partitions: 12)
        logger.notice(
            "in-memory development broker started; at most 5 MiB per partition",
            [.bootstrapServers: .string(broker.bootstrapServers)])
        let counters = DemoCounters()
        let producer = DemoThread(name: "demo-producer") { stop in
            try produceSample(broker: broker, rate: rate, counters: counters, stop: stop)
        }
        let consumer = DemoThread(name: "demo-consumer") { stop in
            try consumeSample(broker: broker, counters: counters, stop: stop)
        }

        let start = ContinuousClock.now
        var previous = (produced: 0, consumed: 0)
        let live = isatty(1) != 0
        while ContinuousClock.now - start < duration {
            if let signal = SignalPipe.wait(timeout: .seconds(1)) {
                logger.info("stopping early", [.signal: .string(SignalSet.name(of: signal))])
                break
            }
            let now = (
                produced: counters.produced.load(ordering: .relaxed),
                consumed: counters.consumed.load(ordering: .relaxed)
            )
            let elapsed = Int((ContinuousClock.now - start).totalSeconds.rounded())
            let line =
                "\(elapsed)s  produced \(now.produced) (\(now.produced - previous.produced)/s)"
                + "  consumed \(now.consumed) (\(now.consumed - previous.consumed)/s)"
                + "  lag \(now.produced - now.consumed)"
                + "  orders \(counters.orders.load(ordering: .relaxed))"
            print(live ? "\r" + line + "    " : line, terminator: live ? "" : "\n")
            fflush(nil)
            previous = now
        }
        if live { print("") }
        try producer.stop()
        // Let the consumer take what is still in flight, for an exact summary.
        let drainDeadline = ContinuousClock.now + .seconds(10)
        while counters.consumed.load(ordering: .relaxed)
            < counters.produced.load(ordering: .relaxed),
            ContinuousClock.now < drainDeadline, SignalPipe.wait(timeout: .milliseconds(50)) == nil
        {}
        try consumer.stop()

        let seconds = (ContinuousClock.now - start).totalSeconds
        let produced = counters.produced.load(ordering: .relaxed)
        let consumed = counters.consumed.load(ordering: .relaxed)
        print(
            "summary: produced \(produced), consumed \(consumed) "
                + "(\(counters.orders.load(ordering: .relaxed)) orders) in "
                + String(format: "%.1f", seconds) + "s, "
                + String(format: "%.0f", Double(consumed) / max(seconds, 0.001))
                + " events/s; the broker kept them in memory only")
        return ExitCode.success
    }

    /// Sample events: clicks with an order every tenth event, keyed by user.
    static func produceSample(
        broker: EmbeddedBroker, rate: Int, counters: DemoCounters, stop: () -> Bool
    ) throws {
        let producer = try KafkaProducer(
            configuration: KafkaConfiguration([
                "bootstrap.servers": broker.bootstrapServers, "linger.ms": "5",
            ]))
        let start = ContinuousClock.now
        var sent = 0
        while !stop() {
            // Pace by the clock: send what the rate allows so far, then serve reports.
            let due = Int((ContinuousClock.now - start).totalSeconds * Double(rate))
            while sent < due {
                let user = "user-\(sent % 5000)"
                let isOrder = sent % 10 == 9
                let event =
                    isOrder
                    ? "{\"type\":\"order\",\"event_id\":\"e\(sent)\",\"user_id\":\"\(user)\","
                        + "\"ts\":\(1_780_000_000_000 + sent),\"amount\":\(sent % 500).5}"
                    : "{\"type\":\"click\",\"event_id\":\"e\(sent)\",\"user_id\":\"\(user)\","
                        + "\"ts\":\(1_780_000_000_000 + sent),\"item_id\":\"i\(sent % 977)\"}"
                try producer.send(topic: "events", key: Array(user.utf8), value: Array(event.utf8))
                sent += 1
            }
            try producer.poll(timeout: .milliseconds(5))
            counters.produced.store(producer.deliveredCount, ordering: .relaxed)
        }
        try producer.flush(timeout: .seconds(10))
        counters.produced.store(producer.deliveredCount, ordering: .relaxed)
    }

    static func consumeSample(broker: EmbeddedBroker, counters: DemoCounters, stop: () -> Bool)
        throws
    {
        let consumer = try KafkaConsumer(
            configuration: KafkaConfiguration([
                "bootstrap.servers": broker.bootstrapServers, "group.id": "osprey-demo",
                "auto.offset.reset": "earliest",
            ]))
        try consumer.subscribe(topics: ["events"])
        let orderMarker = Array("\"type\":\"order\"".utf8)
        while !stop() {
            var next: [TopicPartition: TopicPartitionOffset] = [:]
            var consumed = 0
            var orders = 0
            _ = try consumer.poll(maxMessages: 5000, timeout: .milliseconds(100)) { message in
                consumed += 1
                if let value = message.value, value.starts(with: [UInt8(ascii: "{")] + orderMarker)
                {
                    orders += 1
                }
                next[message.topicPartition] = message.nextOffset
            }
            try consumer.store(Array(next.values))
            counters.consumed.add(consumed, ordering: .relaxed)
            counters.orders.add(orders, ordering: .relaxed)
        }
        try consumer.close()
    }
}

/// Counts shared by the demo's threads and its live line.
final class DemoCounters: Sendable {
    let produced = Atomic<Int>(0)
    let consumed = Atomic<Int>(0)
    let orders = Atomic<Int>(0)
}

/// A worker thread of the demo with a stop flag; ``stop()`` waits for it and rethrows its
/// error.
final class DemoThread: Sendable {
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let failure = Mutex<(any Error)?>(nil)

    init(
        name: String,
        _ body: @escaping @Sendable (_ stopping: () -> Bool) throws -> Void
    ) {
        let thread = Thread { [self] in
            do {
                try body { self.stopping.load(ordering: .relaxed) }
            } catch {
                failure.withLock { $0 = error }
            }
            finished.signal()
        }
        thread.name = name
        thread.start()
    }

    func stop() throws {
        stopping.store(true, ordering: .relaxed)
        finished.wait()
        if let error = failure.withLock({ $0 }) { throw error }
    }
}

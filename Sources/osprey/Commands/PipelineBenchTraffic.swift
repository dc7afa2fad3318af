import Foundation
import OspreyCore
import OspreyKafka
import OspreySimulator

#if canImport(Glibc)
    import Glibc
#endif

/// The benchmark's traffic: one simulated stream, continuing after the model's history, of
/// which the first part fills the topic before the daemon starts and the rest is sent at
/// measured rates.
struct PipelineBenchTraffic {
    private var simulator: TrafficSimulator
    /// Events sent so far (labels not counted).
    private(set) var eventsSent = 0

    init(startMs: Int64) {
        var settings = SimulationSettings()
        settings.seed = 2
        settings.users = 20_000
        settings.rate = 1000
        // Long enough never to run out; the simulator makes records lazily.
        settings.duration = .seconds(30 * 86_400)
        settings.labelDelay = .seconds(60)
        settings.startMs = startMs
        simulator = TrafficSimulator(settings: settings)
    }

    /// Sends the next `events` events (and the labels among them) as fast as the producer
    /// goes, and waits for their delivery; returns their bytes.
    mutating func preload(events: Int, servers: String) throws -> (events: Int, bytes: Int) {
        // A long linger makes large batches: the embedded broker serves a partition made of few
        // large batches much faster than one made of many small ones.
        let producer = try Self.producer(servers: servers, lingerMs: 200)
        var bytes = 0
        let target = eventsSent + events
        while eventsSent < target {
            let record = try send(producer: producer)
            if record.kind == .event { bytes += record.json.count + record.key.utf8.count }
            if eventsSent % 4096 == 0 { _ = try producer.poll(timeout: .zero) }
        }
        try producer.flush(timeout: .seconds(300))
        guard producer.failedCount == 0 else {
            throw BenchFailure(message: "\(producer.failedCount) records were not delivered")
        }
        return (events, bytes)
    }

    /// Sends events at `rate` per second for `duration` while reading the alerts topic, then
    /// waits for the daemon to catch up; each alert's latency is its write time (the alert
    /// record's timestamp) less the time its event was handed to the producer.
    ///
    /// The phase's records are simulated before its clock starts, so that making them takes
    /// no CPU from the daemon and the broker, which share this machine's cores with the
    /// benchmark; the CPU each of the three used during the phase is recorded beside it.
    mutating func measureLatency(
        share: Double, rate: Double, duration: Duration, servers: String,
        daemon: PipelineBenchDaemon, broker: BrokerProcess
    ) throws -> PipelineBenchLatency {
        let planned = Int((rate * duration.totalSeconds).rounded(.up))
        var records: [SimulatedRecord] = []
        var eventIDs: [String] = []
        while eventIDs.count < planned {
            guard let record = simulator.next() else {
                throw BenchFailure(message: "the simulated traffic ran out")
            }
            records.append(record)
            if record.kind == .event {
                eventIDs.append(
                    PipelineBenchAlerts.eventID(in: record.json, after: "\"event_id\":\""))
            }
        }
        // librdkafka's default linger: with none, every event became a request of its own,
        // and the broker's work for them came out of the daemon's share of the cores.
        let producer = try Self.producer(servers: servers, lingerMs: 5)
        let alerts = try PipelineBenchAlerts(servers: servers)
        var sentAt: [String: Int64] = [:]
        sentAt.reserveCapacity(planned)
        var latencies: [Int64] = []
        let cpuBefore = (daemon.cpuSeconds(), broker.cpuSeconds(), ownCPUSeconds())
        let start = ContinuousClock.now
        var next = 0
        var sent = 0
        while next < records.count {
            let due = Int(rate * (ContinuousClock.now - start).totalSeconds)
            while sent < due, next < records.count {
                let record = records[next]
                next += 1
                try send(record, producer: producer)
                guard record.kind == .event else { continue }
                sentAt[eventIDs[sent]] = wallClockMilliseconds()
                sent += 1
            }
            _ = try producer.poll(timeout: .zero)
            try alerts.collect(sentAt: sentAt, into: &latencies)
            usleep(200)
        }
        try producer.flush(timeout: .seconds(30))
        daemon.waitForConsumed(eventsSent)
        let wall = (ContinuousClock.now - start).totalSeconds
        let cpu = PipelineBenchLatency.CPUShares(
            daemon: (daemon.cpuSeconds() - cpuBefore.0) / wall,
            broker: (broker.cpuSeconds() - cpuBefore.1) / wall,
            bench: (ownCPUSeconds() - cpuBefore.2) / wall)
        // The last alerts are written within the daemon's linger after their events.
        let settle = ContinuousClock.now + .milliseconds(500)
        while ContinuousClock.now < settle {
            try alerts.collect(sentAt: sentAt, into: &latencies)
            usleep(1000)
        }
        return PipelineBenchLatency(
            share: share, rate: rate, events: sent, latenciesMs: latencies.sorted(), cpu: cpu)
    }

    /// Sends the next record: an event to `events`, a label to `labels`, keyed by user.
    private mutating func send(producer: KafkaProducer) throws -> SimulatedRecord {
        guard let record = simulator.next() else {
            throw BenchFailure(message: "the simulated traffic ran out")
        }
        try send(record, producer: producer)
        return record
    }

    private mutating func send(_ record: SimulatedRecord, producer: KafkaProducer) throws {
        let topic = record.kind == .event ? "events" : "labels"
        try producer.send(topic: topic, key: Array(record.key.utf8), value: record.json)
        if record.kind == .event { eventsSent += 1 }
    }

    private static func producer(servers: String, lingerMs: Int) throws -> KafkaProducer {
        try KafkaProducer(
            configuration: KafkaConfiguration([
                "bootstrap.servers": servers, "linger.ms": String(lingerMs),
                "queue.buffering.max.messages": "500000", "batch.num.messages": "10000",
            ]))
    }
}

/// A consumer of the alerts topic from its current end, matching alerts to sent events.
struct PipelineBenchAlerts {
    private let consumer: KafkaConsumer

    init(servers: String) throws {
        // The latency is read from the alert records' timestamps, not from when they arrive
        // here, so a fetch may wait: fewer empty fetches leave the broker's CPU to the daemon.
        consumer = try KafkaConsumer(
            configuration: KafkaConfiguration([
                "bootstrap.servers": servers, "group.id": "osprey-bench-alerts",
                "enable.auto.commit": "false", "fetch.wait.max.ms": "100",
            ]))
        let partitions = try KafkaAdmin(
            configuration: KafkaConfiguration(["bootstrap.servers": servers])
        ).describeTopic("alerts").partitions.count
        try consumer.assign(
            (0..<partitions).map {
                TopicPartitionOffset(topic: "alerts", partition: Int32($0), offset: .end)
            })
    }

    /// Adds the latency of every alert now readable whose event is in `sentAt`.
    func collect(sentAt: [String: Int64], into latencies: inout [Int64]) throws {
        _ = try consumer.poll(maxMessages: 10_000, timeout: .zero) { message in
            guard let value = message.value, let written = message.timestamp?.milliseconds
            else { return }
            let id = Self.eventID(in: Array(value), after: "\"event\":{\"id\":\"")
            if let sent = sentAt[id] { latencies.append(written - sent) }
        }
    }

    /// The string value that follows `marker` in a JSON text, or "" when it is absent.
    static func eventID(in json: [UInt8], after marker: String) -> String {
        let pattern = Array(marker.utf8)
        guard json.count > pattern.count,
            let start = (0...(json.count - pattern.count)).first(where: {
                json[$0..<($0 + pattern.count)].elementsEqual(pattern)
            })
        else { return "" }
        let from = start + pattern.count
        let end = json[from...].firstIndex(of: UInt8(ascii: "\"")) ?? json.count
        return String(decoding: json[from..<end], as: UTF8.self)
    }
}

/// What one load step measured.
struct PipelineBenchLatency {
    let share: Double
    let rate: Double
    let events: Int
    /// Event-to-alert latencies in milliseconds, ascending.
    let latenciesMs: [Int64]
    let cpu: CPUShares

    /// The cores each process kept busy during the step, in CPU seconds per wall second.
    struct CPUShares {
        let daemon: Double
        let broker: Double
        let bench: Double
    }

    func percentile(_ p: Double) -> Int64? {
        guard !latenciesMs.isEmpty else { return nil }
        let rank = Int((p * Double(latenciesMs.count)).rounded(.up)) - 1
        return latenciesMs[min(max(rank, 0), latenciesMs.count - 1)]
    }
}

/// The printed result.
struct PipelineBenchReport {
    let events: Int
    let partitions: Int
    let baseline: BenchFigures?
    let sustained: BenchFigures
    let latencies: [PipelineBenchLatency]
    let training: PipelineBenchDaemon.Training
    /// Checkpoints written over the whole run and the seconds they took in all.
    let checkpoints: (count: Double, seconds: Double, pauseSeconds: Double)

    func render() -> String {
        func column(_ text: String, _ width: Int) -> String {
            String(repeating: " ", count: max(0, width - text.count)) + text
        }
        func row(_ name: String, _ figures: BenchFigures) -> String {
            name.padding(toLength: 26, withPad: " ", startingAt: 0)
                + column(String(Int(figures.eventsPerSecond)), 10)
                + column(figures.eventsPerCPUSecond.map { String(Int($0)) } ?? "n/a", 16)
                + column(figures.cpuSeconds.map { String(format: "%.1f", $0) } ?? "n/a", 9)
        }
        var lines = [
            "osprey bench pipeline: \(events) simulated events over \(partitions) partitions "
                + "(embedded broker in its own process, in memory)",
            training.enabled
                ? "training on: \(Int(training.runs)) fine-tuning runs "
                    + "(\(Int(training.promotions)) promoted, \(Int(training.rejections)) rejected)"
                    + " beside the scoring"
                : "training off",
            "",
            "client                      events/s  events/CPU-s    CPU s",
        ]
        if let baseline { lines.append(row("kcat, plain consume", baseline)) }
        lines.append(row("osprey serve, end to end", sustained))
        if let baseline {
            var ratio =
                "ratio osprey/kcat: "
                + String(format: "%.2f", sustained.eventsPerSecond / baseline.eventsPerSecond)
                + "x per wall second"
            if let ours = sustained.eventsPerCPUSecond, let theirs = baseline.eventsPerCPUSecond {
                ratio += ", " + String(format: "%.2f", ours / theirs) + "x per CPU second"
            }
            lines.append(ratio)
        }
        lines += [
            "",
            "load   events/s    events   alerts   p50 ms   p99 ms   CPU: osprey  broker   bench",
        ]
        for step in latencies {
            let p50 = step.percentile(0.5).map(String.init) ?? "n/a"
            let p99 = step.percentile(0.99).map(String.init) ?? "n/a"
            lines.append(
                column("\(Int((step.share * 100).rounded()))%", 4)
                    + column(String(Int(step.rate)), 11) + column(String(step.events), 10)
                    + column(String(step.latenciesMs.count), 9) + column(p50, 9)
                    + column(p99, 9) + column(String(format: "%.2f", step.cpu.daemon), 13)
                    + column(String(format: "%.2f", step.cpu.broker), 8)
                    + column(String(format: "%.2f", step.cpu.bench), 8))
        }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        lines.append(
            "(latency: from an event's hand-over to the producer to its alert's write; CPU: "
                + "seconds per second of each process during the step, on \(cores) cores)")
        if checkpoints.count > 0 {
            lines += [
                "",
                "checkpoints: \(Int(checkpoints.count)) written over the run, "
                    + String(format: "%.0f", checkpoints.seconds / checkpoints.count * 1000)
                    + " ms each until on disk, of which the pipeline paused "
                    + String(format: "%.0f", checkpoints.pauseSeconds / checkpoints.count * 1000)
                    + " ms (encoding; the files are written beside it once the alerts before"
                    + " it are delivered)",
            ]
        }
        return lines.joined(separator: "\n")
    }
}

import Foundation
import OspreyCore
import OspreyKafka

/// `osprey bench kafka`: producer and consumer throughput through the embedded broker, beside
/// `kcat` doing the same work against the same broker in the same run.
struct BenchKafkaCommand: Command {
    static let spec = CommandSpec(
        name: "bench kafka",
        abstract: "Measures Kafka producer and consumer throughput beside kcat.",
        discussion: """
            Starts the embedded broker as a process of its own (osprey broker), produces the
            events with Osprey's producer and reads them back with Osprey's consumer, and has
            kcat (at /usr/bin/kcat, or the path in OSPREY_KCAT) produce and consume as many
            events of the same size with the same librdkafka settings, each run of kcat next
            to the matching run of Osprey. It prints events per second and megabytes per
            second for each, best of the rounds, with the ratios. The embedded broker keeps at
            most 5 MiB per partition in memory, so the events are spread over many partitions,
            and every round writes new topics.
            """,
        options: [
            OptionSpec(
                "events", value: "N",
                help: "Produces and consumes N events. The default is 2000000."),
            OptionSpec(
                "size", value: "BYTES",
                help: "Gives each event a value of BYTES bytes. The default is 200."),
            OptionSpec(
                "partitions", value: "N",
                help: "Spreads the events over N partitions. The default is 100."),
            OptionSpec(
                "rounds", value: "N",
                help: "Repeats the measurements N times and reports the best of each. The "
                    + "default is 3; each round writes new topics, kept in memory."),
            OptionSpec("skip-kcat", help: "Measures Osprey only, without the kcat baseline."),
        ])

    /// The librdkafka settings that both clients get.
    static let producerSettings: KeyValuePairs<String, String> = [
        "linger.ms": "5", "batch.num.messages": "10000", "queue.buffering.max.messages": "500000",
        "partitioner": "random", "compression.codec": "none",
    ]
    static let consumerSettings: KeyValuePairs<String, String> = [
        "fetch.message.max.bytes": "1048576", "queued.min.messages": "100000",
        "fetch.wait.max.ms": "100",
    ]

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let events = try arguments.int("events", default: 2_000_000)
        let size = try arguments.int("size", default: 200)
        let partitions = try arguments.int("partitions", default: 100)
        let roundCount = try arguments.int("rounds", default: 3)
        guard events >= 1, size >= 1, partitions >= 1, roundCount >= 1 else {
            throw UsageError(
                "'--events', '--size', '--partitions' and '--rounds' must be at least 1")
        }
        // A record costs its key (10 bytes here), its value and about 16 bytes of framing.
        let perPartition = Double(events) * Double(size + 26) / Double(partitions)
        if perPartition > 5 * 1024 * 1024 {
            throw UsageError(
                "about \(Int(perPartition / 1_048_576)) MiB per partition is more than the "
                    + "embedded broker keeps (5 MiB); use more '--partitions'")
        }
        let logger = Logger(label: "bench")
        let workload = BenchWorkload(events: events, size: size, partitions: partitions)
        // The broker runs as a process of its own (`osprey broker`), so that our clients, like
        // kcat, do not share their process (memory, page faults) with it.
        let topics = (1...roundCount).flatMap { round in
            ["bench-osprey-\(round)", "bench-kcat-\(round)"]
        }
        let broker = try BrokerProcess(topics: topics, partitions: partitions)
        defer { broker.stop() }
        print(
            "osprey bench kafka: \(events) events of \(size) bytes over \(partitions) partitions, "
                + "best of \(roundCount) rounds (embedded broker in its own process, in memory)")
        fflush(nil)

        let kcat =
            arguments.flag("skip-kcat")
            ? nil
            : Kcat(
                path: ProcessInfo.processInfo.environment["OSPREY_KCAT"] ?? "/usr/bin/kcat",
                servers: broker.bootstrapServers)
        var rounds: [[(String, String, BenchFigures)]] = []
        for round in 1...roundCount {
            // Ours and kcat's runs of each step follow each other, so that both see the same
            // load; who goes first alternates between rounds.
            let ours = "bench-osprey-\(round)"
            let theirs = "bench-kcat-\(round)"
            var steps: [(String, String, () throws -> BenchFigures)] = [
                ("producer", "osprey", { try workload.produce(to: ours, broker: broker) }),
                ("consumer", "osprey", { try workload.consume(from: ours, broker: broker) }),
            ]
            if let kcat {
                let kcatSteps: [(String, String, () throws -> BenchFigures)] = [
                    ("producer", "kcat", { try kcat.produce(workload, topic: theirs) }),
                    ("consumer", "kcat", { try kcat.consume(workload, topic: theirs) }),
                ]
                steps =
                    round % 2 == 1
                    ? [steps[0], kcatSteps[0], steps[1], kcatSteps[1]]
                    : [kcatSteps[0], steps[0], kcatSteps[1], steps[1]]
            }
            var rows: [(String, String, BenchFigures)] = []
            for (role, client, step) in steps {
                logger.info(
                    "measuring",
                    [.role: .string(role), .client: .string(client), .round: .of(round)])
                rows.append((role, client, try step()))
            }
            rounds.append(rows)
        }
        print(BenchTable.render(rounds))
        return ExitCode.success
    }
}

/// The figures of one run: how many events and bytes in how long.
struct BenchFigures {
    let events: Int
    let bytes: Int
    let seconds: Double
    /// CPU time used meanwhile (all threads of the measured process), when it was taken.
    var cpuSeconds: Double? = nil

    var eventsPerCPUSecond: Double? { cpuSeconds.map { Double(events) / max($0, 0.001) } }

    var eventsPerSecond: Double { Double(events) / seconds }
    var megabytesPerSecond: Double { Double(bytes) / seconds / 1_000_000 }
}

/// The events the benchmark sends: keys `user-00000` to `user-09999`, values of printable
/// bytes (kcat reads them as lines, so no newline and no key separator).
struct BenchWorkload {
    let events: Int
    let size: Int
    let partitions: Int
    let keys: [[UInt8]]
    let value: [UInt8]

    init(events: Int, size: Int, partitions: Int) {
        self.events = events
        self.size = size
        self.partitions = partitions
        keys = (0..<10_000).map { index in
            let digits = String(index)
            return Array(("user-" + String(repeating: "0", count: 5 - digits.count) + digits).utf8)
        }
        value = (0..<size).map { UInt8(ascii: "a") + UInt8($0 % 26) }
    }

    /// Bytes of keys and values of every event.
    var totalBytes: Int { events * (size + keys[0].count) }

    func produce(to topic: String, broker: BrokerProcess) throws -> BenchFigures {
        let configuration = KafkaConfiguration(["bootstrap.servers": broker.bootstrapServers])
            .merging(KafkaConfiguration(BenchKafkaCommand.producerSettings))
        let start = ContinuousClock.now
        let producer = try KafkaProducer(configuration: configuration)
        try value.withUnsafeBytes { value in
            for index in 0..<events {
                try keys[index % keys.count].withUnsafeBytes { key in
                    _ = try producer.send(topic: topic, key: key, value: value)
                }
                // Delivery reports are served as they come, as kcat does.
                if index % 1024 == 0 { try producer.poll(timeout: .zero) }
            }
        }
        try producer.flush(timeout: .seconds(300))
        let seconds = (ContinuousClock.now - start).totalSeconds
        if producer.failedCount > 0 {
            throw BenchFailure(
                message: "\(producer.failedCount) of \(events) events were not delivered")
        }
        return BenchFigures(events: events, bytes: totalBytes, seconds: seconds)
    }

    func consume(from topic: String, broker: BrokerProcess) throws -> BenchFigures {
        let configuration = KafkaConfiguration([
            "bootstrap.servers": broker.bootstrapServers, "group.id": "osprey-bench",
            "enable.auto.commit": "false",
        ]).merging(KafkaConfiguration(BenchKafkaCommand.consumerSettings))
        let start = ContinuousClock.now
        let consumer = try KafkaConsumer(configuration: configuration)
        try consumer.assign(
            (0..<partitions).map {
                TopicPartitionOffset(topic: topic, partition: Int32($0), offset: .beginning)
            })
        var count = 0
        var bytes = 0
        var lastProgress = ContinuousClock.now
        while count < events {
            let before = count
            _ = try consumer.poll(maxMessages: 10_000, timeout: .milliseconds(100)) { message in
                count += 1
                bytes += (message.key?.count ?? 0) + (message.value?.count ?? 0)
            }
            if count > before {
                lastProgress = ContinuousClock.now
            } else if ContinuousClock.now - lastProgress > .seconds(10) {
                throw BenchFailure(
                    message: "the consumer read \(count) of \(events) events and then nothing "
                        + "for 10s; the embedded broker may have dropped data beyond 5 MiB per "
                        + "partition")
            }
        }
        let seconds = (ContinuousClock.now - start).totalSeconds
        try consumer.close()
        return BenchFigures(events: count, bytes: bytes, seconds: seconds)
    }
}

/// `osprey broker` run as a child process for the benchmark.
final class BrokerProcess {
    private let process = Process()
    let bootstrapServers: String

    /// Starts the broker with these topics and waits for its bootstrap servers.
    init(topics: [String], partitions: Int) throws {
        guard let executable = Bundle.main.executablePath else {
            throw BenchFailure(message: "cannot find the osprey executable to start the broker")
        }
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["broker"] + topics.flatMap { ["--topic", "\($0):\(partitions)"] }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        try process.run()
        var line: [UInt8] = []
        while true {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            guard let value = byte.first else {
                throw BenchFailure(message: "the broker process exited before it was ready")
            }
            if value == UInt8(ascii: "\n") { break }
            line.append(value)
        }
        bootstrapServers = String(decoding: line, as: UTF8.self)
    }

    /// CPU seconds the broker's threads have used so far.
    func cpuSeconds() -> Double { processCPUSeconds(process.processIdentifier) }

    /// Stops the broker with SIGTERM and waits for it.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }
}

/// kcat doing the benchmark's work as a separate process.
struct Kcat {
    let path: String
    let servers: String

    func settings(_ pairs: KeyValuePairs<String, String>) -> [String] {
        pairs.flatMap { ["-X", $0.key + "=" + $0.value] }
    }

    /// Writes the events as `key:value` lines to a file, then times `kcat -P` reading it.
    func produce(_ workload: BenchWorkload, topic: String) throws -> BenchFigures {
        let file = FileManager.default.temporaryDirectory
            .appendingPathComponent("osprey-bench-\(getpid()).txt")
        defer { try? FileManager.default.removeItem(at: file) }
        var text: [UInt8] = []
        text.reserveCapacity(workload.events * (workload.size + 12))
        for index in 0..<workload.events {
            text += workload.keys[index % workload.keys.count]
            text.append(UInt8(ascii: ":"))
            text += workload.value
            text.append(UInt8(ascii: "\n"))
        }
        try Data(text).write(to: file)
        let input = try FileHandle(forReadingFrom: file)
        defer { try? input.close() }
        let seconds = try run(
            ["-P", "-b", servers, "-t", topic, "-K", ":"]
                + settings(BenchKafkaCommand.producerSettings), input: input)
        return BenchFigures(events: workload.events, bytes: workload.totalBytes, seconds: seconds)
    }

    /// Times `kcat -C` reading every partition from the beginning to its end, output discarded.
    func consume(_ workload: BenchWorkload, topic: String) throws -> BenchFigures {
        let seconds = try run(
            ["-C", "-b", servers, "-t", topic, "-o", "beginning", "-e", "-q"]
                + settings(BenchKafkaCommand.consumerSettings), input: nil)
        return BenchFigures(events: workload.events, bytes: workload.totalBytes, seconds: seconds)
    }

    /// Runs kcat to its end and returns how long it took.
    private func run(_ arguments: [String], input: FileHandle?) throws -> Double {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardInput = input ?? FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        let start = ContinuousClock.now
        do {
            try process.run()
        } catch {
            throw BenchFailure(message: "cannot run kcat at \(path): \(error)")
        }
        process.waitUntilExit()
        let seconds = (ContinuousClock.now - start).totalSeconds
        guard process.terminationStatus == 0 else {
            throw BenchFailure(message: "kcat exited with status \(process.terminationStatus)")
        }
        return seconds
    }
}

/// The printed table: the best run of each role and client, and the ratios.
enum BenchTable {
    static func render(_ rounds: [[(String, String, BenchFigures)]]) -> String {
        func column(_ text: String, _ width: Int) -> String {
            String(repeating: " ", count: max(0, width - text.count)) + text
        }
        func fixed(_ value: Double, _ decimals: Int) -> String {
            String(format: "%.\(decimals)f", value)
        }
        func best(_ role: String, _ client: String) -> BenchFigures? {
            rounds.flatMap { $0 }.filter { $0.0 == role && $0.1 == client }.map(\.2)
                .max { $0.eventsPerSecond < $1.eventsPerSecond }
        }
        var lines = [
            "role      client    " + column("events/s", 12) + column("MB/s", 10)
                + column("seconds", 10)
        ]
        for role in ["producer", "consumer"] {
            for client in ["osprey", "kcat"] {
                guard let figures = best(role, client) else { continue }
                lines.append(
                    role.padding(toLength: 10, withPad: " ", startingAt: 0)
                        + client.padding(toLength: 8, withPad: " ", startingAt: 0)
                        + column(fixed(figures.eventsPerSecond, 0), 14)
                        + column(fixed(figures.megabytesPerSecond, 1), 10)
                        + column(fixed(figures.seconds, 2), 10))
            }
        }
        for role in ["producer", "consumer"] {
            guard let ours = best(role, "osprey"), let theirs = best(role, "kcat") else { continue }
            // Each round's runs were next to each other, so their ratio shares the load.
            let perRound = rounds.compactMap { rows -> Double? in
                guard let ours = rows.first(where: { $0.0 == role && $0.1 == "osprey" })?.2,
                    let theirs = rows.first(where: { $0.0 == role && $0.1 == "kcat" })?.2
                else { return nil }
                return ours.eventsPerSecond / theirs.eventsPerSecond
            }
            let median = perRound.sorted()[perRound.count / 2]
            lines.append(
                role + " ratio osprey/kcat: best of each "
                    + fixed(ours.eventsPerSecond / theirs.eventsPerSecond, 2) + "x, median round "
                    + fixed(median, 2) + "x (rounds: "
                    + perRound.map { fixed($0, 2) + "x" }.joined(separator: " ") + ")")
        }
        return lines.joined(separator: "\n")
    }
}

/// The benchmark could not measure what it set out to.
struct BenchFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { "bench: " + message }
}

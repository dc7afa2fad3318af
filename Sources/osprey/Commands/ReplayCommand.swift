import Foundation
import OspreyCore
import OspreyFeatures
import OspreySimulator

/// `osprey replay`: a real data file into Kafka, in time order, labels after their delay.
enum ReplayCommand: Command {
    static let spec = CommandSpec(
        name: "replay",
        abstract: "Replays an events file or the handbook transactions into Kafka.",
        discussion: """
            With --format handbook, each transaction becomes an order event (event_id =
            tx_id, user_id = customer_id, merchant_id = terminal_id) and its label (fraud with
            the scenario as fraud_type, or legit) is published on --labels-topic once
            --label-delay of event time has passed in the replayed stream. With --format
            events, lines are sent as they are: events to --topic, labels to --labels-topic,
            keyed by user_id. Lines that are not JSON objects with a user_id are counted and
            skipped. Plain and gzip-compressed files are read alike.
            """,
        options: [
            OptionSpec("input", value: "FILE", help: "The file to replay."),
            OptionSpec("format", value: "FORMAT", help: "events or handbook. Default events."),
            OptionSpec("bootstrap", value: "SERVERS", help: "The Kafka brokers."),
            OptionSpec("out", value: "FILE", help: "Writes the stream to FILE instead of Kafka."),
            OptionSpec("topic", value: "NAME", help: "The events topic. Default events."),
            OptionSpec("labels-topic", value: "NAME", help: "The labels topic. Default labels."),
            OptionSpec(
                "label-delay", value: "DURATION",
                help: "For handbook: how long after a transaction its label is known. Default 7d."),
            OptionSpec(
                "speed", value: "FACTOR",
                help: "Event time per wall time, or 'max' for as fast as possible. Default max."),
            OptionSpec("quiet", help: "Prints no progress."),
        ])

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let input = try arguments.required("input")
        let format = arguments.value("format") ?? "events"
        guard format == "events" || format == "handbook" else {
            throw UsageError("option '--format' expects events or handbook, not '\(format)'")
        }
        let delay = try arguments.duration("label-delay", default: .seconds(7 * 86_400))
        let speed = try SimulateCommand.parseSpeed(arguments.value("speed") ?? "max")
        let sink: any RecordSink
        if let bootstrap = arguments.value("bootstrap") {
            guard arguments.value("out") == nil else {
                throw UsageError("give either '--out' or '--bootstrap', not both")
            }
            sink = try KafkaRecordSink(
                bootstrap: bootstrap, eventsTopic: arguments.value("topic") ?? "events",
                labelsTopic: arguments.value("labels-topic") ?? "labels")
        } else if let out = arguments.value("out") {
            sink = try FileRecordSink(path: out)
        } else {
            throw UsageError("give '--bootstrap SERVERS' or '--out FILE'")
        }
        let reader = try LineReader(path: input)
        var replay = Replay(handbook: format == "handbook", labelDelayMs: delay.totalMilliseconds)
        var firstTime: Int64?
        let started = ContinuousClock.now
        var lastProgress = started
        func emit(_ record: SimulatedRecord) throws {
            if let speed {
                let origin = firstTime ?? record.timeMs
                firstTime = origin
                let due = started + .milliseconds(Double(record.timeMs - origin) / speed)
                if due > .now { try sink.idle(until: due) }
            }
            try sink.write(record)
        }
        while let records = try reader.next({ line in replay.convert(line) }) {
            for record in records { try emit(record) }
            if !arguments.flag("quiet"), ContinuousClock.now - lastProgress >= .seconds(1) {
                lastProgress = .now
                let share = Double(reader.bytesRead) / Double(max(1, reader.fileBytes))
                let percent = Int(share * 100)
                printError("replay: \(replay.events) events, \(replay.labels) labels (\(percent)%)")
            }
        }
        for record in replay.remainingLabels() { try emit(record) }
        try sink.finish()
        printError(
            "replay: \(replay.events) events, \(replay.labels) labels, "
                + "\(replay.skipped) lines skipped")
        return ExitCode.success
    }
}

/// Turns input lines into records, holding handbook labels until their time comes.
struct Replay {
    let handbook: Bool
    let labelDelayMs: Int64
    private var pending: [(timeMs: Int64, record: SimulatedRecord)] = []
    private var pendingHead = 0
    private(set) var events = 0
    private(set) var labels = 0
    private(set) var skipped = 0

    init(handbook: Bool, labelDelayMs: Int64) {
        self.handbook = handbook
        self.labelDelayMs = labelDelayMs
    }

    /// The records for one line: labels now due, then the event.
    mutating func convert(_ line: UnsafeRawBufferPointer) -> [SimulatedRecord] {
        guard !line.isEmpty,
            let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
        else {
            if !line.isEmpty { skipped += 1 }
            return []
        }
        return handbook
            ? handbookRecords(object)
            : [passThrough(object, Array(line))].compactMap {
                $0
            }
    }

    /// Labels still held at the end of the file, in time order.
    mutating func remainingLabels() -> [SimulatedRecord] {
        defer { pendingHead = pending.count }
        labels += pending.count - pendingHead
        return pending[pendingHead...].map(\.record)
    }

    private mutating func passThrough(_ object: [String: Any], _ bytes: [UInt8])
        -> SimulatedRecord?
    {
        guard let user = Replay.text(object["user_id"]) else {
            skipped += 1
            return nil
        }
        let isLabel = object["type"] as? String == "label"
        if isLabel { labels += 1 } else { events += 1 }
        return SimulatedRecord(
            kind: isLabel ? .label : .event, key: user, timeMs: Replay.time(object["ts"]),
            json: bytes)
    }

    private mutating func handbookRecords(_ object: [String: Any]) -> [SimulatedRecord] {
        guard let id = Replay.text(object["tx_id"]),
            let customer = Replay.text(object["customer_id"]),
            let terminal = Replay.text(object["terminal_id"]), let ts = object["ts"] as? String,
            let amount = object["amount"] as? Double, let fraud = object["fraud"] as? Int
        else {
            skipped += 1
            return []
        }
        let time = Replay.time(ts)
        var records: [SimulatedRecord] = []
        while pendingHead < pending.count, pending[pendingHead].timeMs <= time {
            records.append(pending[pendingHead].record)
            pendingHead += 1
            labels += 1
        }
        if pendingHead > 65_536 {
            pending.removeFirst(pendingHead)
            pendingHead = 0
        }
        var writer = JSONWriter(capacity: 160)
        writer.beginObject()
        writer.field("type", "order")
        writer.field("event_id", id)
        writer.field("user_id", customer)
        writer.field("ts", ts)
        writer.field("amount", amount)
        writer.field("merchant_id", terminal)
        writer.endObject()
        records.append(
            SimulatedRecord(kind: .event, key: customer, timeMs: time, json: writer.bytes))
        events += 1

        let labelTime = time + labelDelayMs
        var label = JSONWriter(capacity: 160)
        label.beginObject()
        label.field("type", "label")
        label.field("event_id", id)
        label.field("user_id", customer)
        label.field("ts", TimestampText.rfc3339(milliseconds: labelTime))
        label.field("label", fraud == 1 ? "fraud" : "legit")
        if fraud == 1, let scenario = object["scenario"] as? Int,
            EventTruth.handbookFraudTypes.indices.contains(scenario),
            let type = EventTruth.handbookFraudTypes[scenario]
        {
            label.field("fraud_type", type)
        }
        label.endObject()
        // The file is in time order and the delay is constant, so labels queue in order.
        pending.append(
            (
                labelTime,
                SimulatedRecord(kind: .label, key: customer, timeMs: labelTime, json: label.bytes)
            ))
        return records
    }

    static func text(_ value: Any?) -> String? {
        if let text = value as? String, !text.isEmpty { return text }
        if let number = value as? Int { return String(number) }
        return nil
    }

    /// Milliseconds since the epoch of an RFC 3339 string or a number; 0 when neither parses.
    static func time(_ value: Any?) -> Int64 {
        if let number = value as? Double { return Int64(number) }
        guard var text = value as? String else { return 0 }
        return text.withUTF8 { EventTimestamp.parse(UnsafeRawBufferPointer($0)) } ?? 0
    }
}

import Foundation
import OspreyCore
import OspreyDaemon
import OspreyKafka
import OspreyTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `osprey serve` as operators run it: a separate `osprey broker` process, `kcat` as the
/// producer and as the downstream consumer, real signals.
@Suite(.serialized, .timeLimit(.minutes(6)))
struct ServeEndToEndTests {
    /// A running development broker with the daemon's topics, one partition each so that
    /// the daemon's features match those computed offline over the whole file.
    final class Broker {
        let process: ChildProcess
        let servers: String

        init() throws {
            process = try ChildProcess.osprey([
                "broker", "--topic", "events:1", "--topic", "labels:1", "--topic", "alerts:1",
                "--topic", "events.dlq:1",
            ])
            servers = try #require(process.waitForLine { $0.hasPrefix("127.0.0.1:") })
        }

        deinit { process.stop() }
    }

    static func kcat(_ arguments: [String], input: Data? = nil) throws -> String {
        let result = try runProgram("/usr/bin/kcat", arguments, input: input, timeout: .seconds(60))
        #expect(result.status == 0, "kcat \(arguments.joined(separator: " ")): \(result.errors)")
        return String(decoding: result.output, as: UTF8.self)
    }

    static func writeConfig(_ path: String, servers: String, state: String, threshold: String)
        throws
    {
        let text = """
            kafka.bootstrap.servers = \(servers)
            kafka.group.id = e2e
            state.dir = \(state)
            metrics.listen = 127.0.0.1:0
            checkpoint.interval = 1s
            log.summary.interval = 1s
            alerts.threshold.fraud = \(threshold)
            alerts.threshold.bot = off
            instance.name = e2e-box
            shutdown.timeout = 10s

            """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    static func startDaemon(config: String) throws -> ChildProcess {
        let daemon = try ChildProcess.osprey(["serve", "--config", config])
        let ready = daemon.waitForLine(inErrors: true, timeout: .seconds(60)) {
            $0.contains("msg=ready")
        }
        #expect(ready != nil, "never ready: \(daemon.errors.prefix(30).joined(separator: "\n"))")
        return daemon
    }

    @Test func alertsMatchOfflineScoresDeadLettersCarryReasonsAndSigtermCommits() throws {
        let broker = try Broker()
        let directory = try TestEnvironment.temporaryDirectory("serve")
        let state = directory.appendingPathComponent("state").path
        let config = directory.appendingPathComponent("osprey.conf").path
        try Self.writeConfig(config, servers: broker.servers, state: state, threshold: "0.99")

        // 1. A first start writes the fresh model; SIGTERM stops it cleanly.
        let first = try Self.startDaemon(config: config)
        first.send(SIGTERM)
        #expect(first.waitForExit(timeout: .seconds(20)) == 0)
        let model = state + "/models/model-000001.safetensors"
        #expect(FileManager.default.fileExists(atPath: model))

        // 2. Traffic, and the offline scores of the same model over the same file.
        let traffic = directory.appendingPathComponent("traffic.jsonl").path
        let simulated = try runProgram(
            TestEnvironment.ospreyBinary.path,
            [
                "simulate", "--out", traffic, "--duration", "15m", "--rate", "15", "--users",
                "80", "--seed", "5", "--label-delay", "2m",
            ])
        #expect(simulated.status == 0, "\(simulated.errors)")
        // Clicks' bot/human labels are for the bot head; this test keeps fraud labels only.
        let lines = try String(contentsOfFile: traffic, encoding: .utf8)
            .split(separator: "\n").filter {
                !$0.contains("\"label\":\"bot\"") && !$0.contains("\"label\":\"human\"")
            }
        try (lines.joined(separator: "\n") + "\n").write(
            toFile: traffic, atomically: true, encoding: .utf8)
        let scoresPath = directory.appendingPathComponent("scores.csv").path
        let scored = try runProgram(
            TestEnvironment.ospreyBinary.path,
            [
                "score", "--model", model, "--input", traffic, "--format", "events", "--out",
                scoresPath, "--from", "2026-01-01", "--to", "2026-12-31", "--quiet",
            ])
        #expect(scored.status == 0, "\(scored.errors)")
        // The fraud head judges orders only: their offline scores are what may alert.
        let orders = Set(
            lines.filter { $0.contains("\"type\":\"order\"") }.map { line in
                String(line.split(separator: "\"event_id\":\"")[1].prefix { $0 != "\"" })
            })
        var offline: [String: Double] = [:]
        for row in try String(contentsOfFile: scoresPath, encoding: .utf8).split(separator: "\n")
            .dropFirst()
        {
            let fields = row.split(separator: ",")
            if orders.contains(String(fields[0])) { offline[String(fields[0])] = Double(fields[1]) }
        }
        #expect(offline.count > 200)
        // The 90th percentile, so that about a tenth of the orders alert.
        let threshold = offline.values.sorted()[offline.count * 9 / 10]
        try Self.writeConfig(
            config, servers: broker.servers, state: state, threshold: String(threshold))

        // 3. The daemon again, the traffic and some bad input through kcat.
        let daemon = try Self.startDaemon(config: config)
        defer { daemon.stop() }
        var input = lines.map { line -> String in
            let user = line.split(separator: "\"user_id\":\"")[1].prefix { $0 != "\"" }
            return "\(user)\t\(line)"
        }
        let ts = #""ts":"2026-01-05T00:10:00Z""#
        let bad = [
            "junk\tnot json at all",
            #"junk\#t{"type":"order","event_id":"b1","user_id":"u",\#(ts)}"#,
            #"junk\#t{"type":"order","event_id":"b2","user_id":"u",\#(ts),"amount":NaN}"#,
            #"junk\#t{"type":"click","event_id":"b3","user_id":"u","ts":"yesterday"}"#,
            #"junk\#t{"type":"click","event_id":"b4","user_id":["x"],\#(ts)}"#,
            #"junk\#t{"type":"click","event_id":"b5","user_id":"u",\#(ts),"pad":""#
                + String(repeating: "x", count: 70_000) + "\"}",
            "junk\t\u{1}\u{2}\u{7f}binary\u{fe}",
            "junk\t[1, 2, 3]",
        ]
        input.insert(contentsOf: bad, at: input.count / 2)
        _ = try Self.kcat(
            ["-P", "-b", broker.servers, "-t", "events", "-K", "\t", "-z", "none"],
            input: Data((input.joined(separator: "\n") + "\n").utf8))

        // Every event with an offline score above the threshold alerts, and nothing else.
        let expected = Set(offline.filter { $0.value > threshold + 1e-6 }.map(\.key))
        let borderline = Set(offline.filter { abs($0.value - threshold) <= 1e-6 }.map(\.key))
        // Wait until the daemon has handled every message: events, labels and dead letters.
        let listen = try #require(
            daemon.waitForLine(inErrors: true) { $0.contains("msg=\"metrics listening\"") })
        let address = try #require(
            listen.split(separator: " ").first { $0.hasPrefix("listen=") }?.dropFirst(7))
        var handled = 0.0
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            let scrape = MetricsScrape(text: try httpGet("http://\(address)/metrics"))
            handled = [
                "osprey_events_consumed_total", "osprey_dead_letter_total",
                "osprey_labels_applied_total", "osprey_labels_unmatched_total",
            ].compactMap { scrape.total($0) }.reduce(0, +)
            if handled >= Double(input.count) { break }
            usleep(200_000)
        }
        #expect(handled == Double(input.count))
        let alerts = try Self.kcat([
            "-C", "-b", broker.servers, "-t", "alerts", "-o", "beginning", "-e", "-q",
        ]).split(separator: "\n").map(String.init)
        let objects = try alerts.map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
        let alerted = Set(objects.compactMap { ($0["event"] as? [String: Any])?["id"] as? String })
        #expect(alerted.count == alerts.count, "each event alerts once")
        #expect(
            expected.isSubset(of: alerted), "missing: \(expected.subtracting(alerted).prefix(5))")
        #expect(alerted.subtracting(expected).isSubset(of: borderline))
        for object in objects {
            #expect(object["instance"] as? String == "e2e-box")
            #expect((object["top_features"] as? [Any])?.isEmpty == false)
        }
        try (alerts.joined(separator: "\n") + "\n").write(
            toFile: directory.appendingPathComponent("alerts.jsonl").path, atomically: true,
            encoding: .utf8)
        try validateAgainstSchema(alerts)

        // Bad input went to the dead-letter topic with its reason, and the daemon went on.
        let dead = try Self.kcat([
            "-C", "-b", broker.servers, "-t", "events.dlq", "-o", "beginning", "-e", "-q",
            "-f", "%h\n",
        ])
        for reason in [
            "not_an_object", "invalid_json", "missing_field", "bad_timestamp", "wrong_type",
            "too_large",
        ] {
            #expect(dead.contains("osprey.reason=\(reason)"), "no \(reason) in \(dead)")
        }
        #expect(dead.split(separator: "\n").count == bad.count)

        // The daemon's own /metrics passes promtool, and carries the names scripts rely on.
        let exposition = try httpGet("http://\(address)/metrics")
        for name in [
            "osprey_events_consumed_total", "osprey_dead_letter_total", "osprey_alerts_total",
            "osprey_model_version", "osprey_checkpoint_age_seconds",
        ] {
            #expect(exposition.contains("\n" + name), "no \(name) in /metrics")
        }
        let promtool = try runProgram(
            "/usr/bin/promtool", ["check", "metrics"], input: Data(exposition.utf8))
        #expect(promtool.status == 0, "promtool: \(promtool.errors)")
        #expect(try httpGet("http://\(address)/readyz") == "ready\n")

        // SIGHUP re-reads the thresholds.
        try Self.writeConfig(config, servers: broker.servers, state: state, threshold: "0.5")
        daemon.send(SIGHUP)
        #expect(
            daemon.waitForLine(inErrors: true) { $0.contains("msg=\"configuration reloaded\"") }
                != nil)

        try daemon.errors.joined(separator: "\n").write(
            toFile: directory.appendingPathComponent("daemon.log").path, atomically: true,
            encoding: .utf8)
        // SIGTERM: exit 0, with everything consumed committed.
        daemon.send(SIGTERM)
        #expect(daemon.waitForExit(timeout: .seconds(15)) == 0)
        #expect(daemon.errors.contains { $0.contains("msg=\"stopped cleanly\"") })
        let committed = try committedOffset(servers: broker.servers, group: "e2e", topic: "events")
        #expect(committed == Int64(input.count))

        // A damaged checkpoint is refused with a log line, and the previous one is used.
        let checkpoint = state + "/checkpoints/events-0"
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: checkpoint)))
        bytes[bytes.count / 2] ^= 0x5a
        try Data(bytes).write(to: URL(fileURLWithPath: checkpoint))
        let restarted = try Self.startDaemon(config: config)
        defer { restarted.stop() }
        #expect(restarted.errors.contains { $0.contains("msg=\"checkpoint refused\"") })
        #expect(restarted.errors.contains { $0.contains("msg=\"partition restored\"") })
        restarted.send(SIGTERM)
        #expect(restarted.waitForExit(timeout: .seconds(15)) == 0)
    }

    func committedOffset(servers: String, group: String, topic: String) throws -> Int64? {
        let consumer = try KafkaConsumer(
            configuration: KafkaConfiguration([
                "bootstrap.servers": servers, "group.id": group,
            ]))
        let offsets = try consumer.committed(
            [TopicPartition(topic: topic, partition: 0)], timeout: .seconds(10))
        if case .exactly(let offset) = offsets.first?.offset { return offset }
        return nil
    }

    func validateAgainstSchema(_ alerts: [String]) throws {
        let root = TestEnvironment.repositoryRoot
        let result = try runProgram(
            "/usr/bin/env",
            [
                "python3",
                root.appendingPathComponent("Tests/OspreyDaemonTests/schema/validate.py").path,
                root.appendingPathComponent("config/alert.schema.json").path,
            ], input: Data((alerts.joined(separator: "\n") + "\n").utf8))
        let report = String(decoding: result.output, as: UTF8.self) + result.errors
        #expect(result.status == 0, "schema: \(report.prefix(2000))")
    }
}

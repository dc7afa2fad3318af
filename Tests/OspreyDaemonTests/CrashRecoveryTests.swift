import Foundation
import OspreyCore
import OspreyDaemon
import OspreyTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `kill -9` at several points of a stream: after restarts the feature state equals that of
/// an uninterrupted run, and no alert is missing (repeats keep their id and content).
@Suite(.serialized, .timeLimit(.minutes(8)))
struct CrashRecoveryTests {
    struct Run {
        let name: String
        let state: String
        let config: String
        let alertsTopic: String
    }

    static func makeRun(_ name: String, directory: URL, servers: String) throws -> Run {
        let state = directory.appendingPathComponent(name).path
        let config = directory.appendingPathComponent(name + ".conf").path
        let run = Run(name: name, state: state, config: config, alertsTopic: "alerts-" + name)
        try """
        kafka.bootstrap.servers = \(servers)
        kafka.group.id = group-\(name)
        kafka.session.timeout.ms = 6000
        kafka.heartbeat.interval.ms = 500
        state.dir = \(state)
        topics.alerts = \(run.alertsTopic)
        metrics.listen = 127.0.0.1:0
        checkpoint.interval = 500ms
        alerts.threshold.fraud = 0.5
        alerts.threshold.bot = off
        instance.name = crash-test

        """.write(toFile: config, atomically: true, encoding: .utf8)
        return run
    }

    /// Starts the daemon and waits until it is ready; returns it and its metrics address.
    static func start(_ run: Run) throws -> (ChildProcess, String) {
        let daemon = try ChildProcess.osprey(["serve", "--config", run.config])
        let listen = try #require(
            daemon.waitForLine(inErrors: true, timeout: .seconds(60)) {
                $0.contains("msg=\"metrics listening\"")
            })
        let address = String(
            try #require(listen.split(separator: " ").first { $0.hasPrefix("listen=") })
                .dropFirst(7))
        let ready = daemon.waitForLine(inErrors: true, timeout: .seconds(60)) {
            $0.contains("msg=ready")
        }
        #expect(ready != nil, "never ready: \(daemon.errors.suffix(10))")
        return (daemon, address)
    }

    /// Messages the daemon has handled so far, from its metrics; nil when it does not answer.
    static func handled(_ address: String) -> Double? {
        guard let text = try? httpGet("http://\(address)/metrics") else { return nil }
        let scrape = MetricsScrape(text: text)
        return [
            "osprey_events_consumed_total", "osprey_dead_letter_total",
            "osprey_labels_applied_total", "osprey_labels_unmatched_total",
        ].compactMap { scrape.total($0) }.reduce(0, +)
    }

    static func waitUntilHandled(_ address: String, atLeast count: Double) -> Bool {
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            if let handled = handled(address), handled >= count { return true }
            usleep(20_000)
        }
        return false
    }

    /// The alerts of a topic by id, without `emitted_at`, which is the only field allowed to
    /// differ between a first delivery and a repeat.
    static func alerts(servers: String, topic: String) throws -> [String: [String]] {
        let read = try runProgram(
            "/usr/bin/kcat", ["-C", "-b", servers, "-t", topic, "-o", "beginning", "-e", "-q"])
        var byID: [String: [String]] = [:]
        for line in String(decoding: read.output, as: UTF8.self).split(separator: "\n") {
            guard
                var object = try JSONSerialization.jsonObject(with: Data(line.utf8))
                    as? [String: Any],
                let id = object["alert_id"] as? String
            else { continue }
            object["emitted_at"] = nil
            let canonical = try JSONSerialization.data(withJSONObject: object, options: .sortedKeys)
            byID[id, default: []].append(String(decoding: canonical, as: UTF8.self))
        }
        return byID
    }

    @Test func killNineAtFivePointsLosesNothing() throws {
        let broker = try ChildProcess.osprey([
            "broker", "--topic", "events:2", "--topic", "labels:2", "--topic", "alerts-clean:2",
            "--topic", "alerts-crash:2", "--topic", "events.dlq:1",
        ])
        defer { broker.stop() }
        let servers = try #require(broker.waitForLine { $0.hasPrefix("127.0.0.1:") })
        let directory = try TestEnvironment.temporaryDirectory("crash")

        // Traffic with its fraud labels, all on the events topic so that each partition's
        // order of events and labels is fixed: the state is then a function of the input.
        let traffic = directory.appendingPathComponent("traffic.jsonl").path
        let simulated = try runProgram(
            TestEnvironment.ospreyBinary.path,
            [
                "simulate", "--out", traffic, "--duration", "20m", "--rate", "15", "--users",
                "100", "--seed", "9", "--label-delay", "2m",
            ])
        #expect(simulated.status == 0, "\(simulated.errors)")
        let lines = try String(contentsOfFile: traffic, encoding: .utf8).split(separator: "\n")
            .filter { !$0.contains("\"label\":\"bot\"") && !$0.contains("\"label\":\"human\"") }
        let keyed = lines.map { line -> String in
            let user = line.split(separator: "\"user_id\":\"")[1].prefix { $0 != "\"" }
            return "\(user)\t\(line)"
        }
        let produced = try runProgram(
            "/usr/bin/kcat", ["-P", "-b", servers, "-t", "events", "-K", "\t"],
            input: Data((keyed.joined(separator: "\n") + "\n").utf8))
        #expect(produced.status == 0, "\(produced.errors)")
        let total = Double(lines.count)

        // The uninterrupted run.
        let clean = try Self.makeRun("clean", directory: directory, servers: servers)
        let (first, firstAddress) = try Self.start(clean)
        #expect(Self.waitUntilHandled(firstAddress, atLeast: total))
        first.send(SIGTERM)
        #expect(first.waitForExit(timeout: .seconds(20)) == 0)

        // The interrupted run: kill -9 at five points, each restart resumes from its state.
        let crash = try Self.makeRun("crash", directory: directory, servers: servers)
        var random = SeededRandom(seed: 42)
        for stop in [0.1, 0.3, 0.5, 0.7, 0.9] {
            let (daemon, address) = try Self.start(crash)
            let point = (stop + 0.08 * (random.unit() - 0.5)) * total
            #expect(Self.waitUntilHandled(address, atLeast: point))
            daemon.send(SIGKILL)
            _ = daemon.waitForExit(timeout: .seconds(10))
            #expect(daemon.wasKilledBySignal)
        }
        let (last, lastAddress) = try Self.start(crash)
        // After a crash the counters start again, so wait on the checkpoints instead.
        _ = lastAddress
        let file = CheckpointFile(directory: crash.state + "/checkpoints", name: "events-0")
        let otherFile = CheckpointFile(directory: crash.state + "/checkpoints", name: "events-1")
        let cleanFiles = [0, 1].map {
            CheckpointFile(directory: clean.state + "/checkpoints", name: "events-\($0)")
        }
        let targets = try cleanFiles.map { try PartitionCheckpointProbe.offset(of: $0) }
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            let offsets = try [file, otherFile].map { try PartitionCheckpointProbe.offset(of: $0) }
            if offsets == targets { break }
            usleep(100_000)
        }
        last.send(SIGTERM)
        #expect(last.waitForExit(timeout: .seconds(20)) == 0)

        // The same state, byte for byte, as the run that never stopped.
        for partition in 0..<2 {
            let name = "events-\(partition)"
            let expected = try CheckpointFile(
                directory: clean.state + "/checkpoints", name: name
            ).load(clean.state + "/checkpoints/" + name)
            let found = try CheckpointFile(
                directory: crash.state + "/checkpoints", name: name
            ).load(crash.state + "/checkpoints/" + name)
            #expect(found == expected, "partition \(partition) differs after the crashes")
        }

        // Every alert of the clean run is there; repeats are identical copies.
        let cleanAlerts = try Self.alerts(servers: servers, topic: clean.alertsTopic)
        let crashAlerts = try Self.alerts(servers: servers, topic: crash.alertsTopic)
        #expect(!cleanAlerts.isEmpty)
        #expect(Set(crashAlerts.keys) == Set(cleanAlerts.keys))
        for (id, copies) in crashAlerts {
            #expect(Set(copies).count == 1, "alert \(id) repeated with different content")
            #expect(copies.first == cleanAlerts[id]?.first)
        }
    }
}

/// Reads the next event offset out of a partition checkpoint without decoding the state.
enum PartitionCheckpointProbe {
    static func offset(of file: CheckpointFile) throws -> Int64? {
        guard let loaded = try? file.load(file.currentPath) else { return nil }
        // "OSPRPART" | format u32 | partition i32 | next event offset i64 (little-endian)
        guard loaded.count >= 24 else { return nil }
        var value: Int64 = 0
        for index in 0..<8 { value |= Int64(loaded[16 + index]) << (8 * index) }
        return value
    }
}

import Foundation
import OspreyCore
import OspreyFeatures
import OspreyTestSupport
import Testing

@testable import OspreyDaemon

#if canImport(Glibc)
    import Glibc
#endif

/// `kill -9` at several points of a stream: after restarts the feature state equals that of
/// an uninterrupted run, and no alert is missing; under at_least_once repeats keep their id and
/// content, under exactly_once a `read_committed` consumer sees each alert once.
@Suite(.serialized, .timeLimit(.minutes(8)))
struct CrashRecoveryTests {
    struct Run {
        let name: String
        let state: String
        let config: String
        let alertsTopic: String
    }

    /// The fraud score that the highest-scoring tenth of the orders of `traffic` reach with the
    /// daemon's fresh model (the one it serves when it finds none), scored offline by `osprey
    /// score`: a fresh model's scores depend on its shape, so no fixed threshold stays right.
    static func freshThreshold(
        traffic: String, lines: [Substring], directory: URL
    ) throws -> Double {
        let schema = try FeatureStore(configuration: FeatureConfiguration()).schema
        let model = directory.appendingPathComponent("fresh.safetensors").path
        try ModelCatalog.freshModel(schema: schema).save(to: model)
        let scores = try ModelSwapEndToEndTests.offlineScores(
            model: model, traffic: traffic, directory: directory)
        let orders = lines.map(String.init).filter(OnlineTrainingEndToEndTests.isOrder).map {
            OnlineTrainingEndToEndTests.field("event_id", of: $0)
        }
        let fraud = orders.compactMap { scores[$0]?.first }.sorted()
        #expect(fraud.count > 100)
        return fraud[fraud.count * 9 / 10]
    }

    /// `threshold` lets about a tenth of the orders alert with the fresh model (see
    /// ``freshThreshold(traffic:directory:)``): few enough that the alert topics stay far below
    /// the development broker's 5 MiB per partition, beyond which it drops the oldest messages.
    static func makeRun(
        _ name: String, directory: URL, servers: String, threshold: Double,
        guarantee: String = "at_least_once"
    ) throws -> Run {
        let state = directory.appendingPathComponent(name).path
        let config = directory.appendingPathComponent(name + ".conf").path
        let run = Run(name: name, state: state, config: config, alertsTopic: "alerts-" + name)
        try """
        kafka.bootstrap.servers = \(servers)
        kafka.group.id = group-\(name)
        kafka.session.timeout.ms = 3000
        kafka.heartbeat.interval.ms = 300
        state.dir = \(state)
        topics.alerts = \(run.alertsTopic)
        metrics.listen = 127.0.0.1:0
        checkpoint.interval = 500ms
        alerts.threshold.fraud = \(threshold)
        alerts.threshold.bot = off
        instance.name = crash-test
        processing.guarantee = \(guarantee)

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
    /// `read_committed` skips the outputs of aborted transactions, as an exactly_once consumer
    /// must.
    static func alerts(servers: String, topic: String) throws -> [String: [String]] {
        let read = try runProgram(
            "/usr/bin/kcat",
            [
                "-C", "-b", servers, "-t", topic, "-o", "beginning", "-e", "-q", "-X",
                "isolation.level=read_committed",
            ])
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
            "broker", "--topic", "events:2", "--topic", "labels:2", "--topic", "alerts-clean:4",
            "--topic", "alerts-crash:4", "--topic", "alerts-crash-eos:4", "--topic", "events.dlq:1",
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
        let total = Int64(lines.count)
        let threshold = try Self.freshThreshold(
            traffic: traffic, lines: lines, directory: directory)
        let chunks = 5
        func produce(chunk: Int) throws {
            let part = keyed[(chunk * keyed.count / chunks)..<((chunk + 1) * keyed.count / chunks)]
            let produced = try runProgram(
                "/usr/bin/kcat", ["-P", "-b", servers, "-t", "events", "-K", "\t"],
                input: Data((part.joined(separator: "\n") + "\n").utf8))
            #expect(produced.status == 0, "\(produced.errors)")
        }

        // The interrupted runs, one per guarantee, then the run that never stopped.
        let crash = try Self.makeRun(
            "crash", directory: directory, servers: servers, threshold: threshold)
        let exactly = try Self.makeRun(
            "crash-eos", directory: directory, servers: servers, threshold: threshold,
            guarantee: "exactly_once")
        // The stream arrives in five parts, and each instance is killed (kill -9) partway
        // through the part it has, so every kill lands at a different point however fast the
        // daemon is; each restart resumes from the state on disk.
        var random = SeededRandom(seed: 42)
        var killedAt: [String: [Int64]] = [:]
        for chunk in 0..<chunks {
            try produce(chunk: chunk)
            let before = Int64(chunk) * total / Int64(chunks)
            let available = Int64(chunk + 1) * total / Int64(chunks)
            let point = before + Int64(Double(available - before) * (0.3 + 0.5 * random.unit()))
            for run in [crash, exactly] {
                killedAt[run.name, default: []].append(try Self.kill(run, atProgress: point))
            }
        }
        for run in [crash, exactly] {
            #expect(Set(killedAt[run.name]!).count == chunks, "\(run.name): \(killedAt)")
            try Self.finish(run, total: total)
        }

        // The uninterrupted run over the whole stream.
        let clean = try Self.makeRun(
            "clean", directory: directory, servers: servers, threshold: threshold)
        let (first, firstAddress) = try Self.start(clean)
        #expect(Self.waitUntilHandled(firstAddress, atLeast: Double(total)))
        first.send(SIGTERM)
        #expect(first.waitForExit(timeout: .seconds(20)) == 0)

        // The same state, byte for byte, as the run that never stopped.
        for partition in 0..<2 {
            for run in [crash, exactly] {
                try Self.expectSameState(partition: partition, clean: clean, found: run)
            }
        }
        let cleanAlerts = try Self.alerts(servers: servers, topic: clean.alertsTopic)
        #expect(!cleanAlerts.isEmpty)
        let repeats = try Self.expectEveryAlert(
            of: cleanAlerts, in: try Self.alerts(servers: servers, topic: crash.alertsTopic))
        let exactlyRepeats = try Self.expectEveryAlert(
            of: cleanAlerts, in: try Self.alerts(servers: servers, topic: exactly.alertsTopic))
        #expect(exactlyRepeats == 0, "exactly_once repeated \(exactlyRepeats) alerts")
        print(
            "crash test: killed at \(killedAt), \(repeats) repeated alerts at least once,"
                + " \(exactlyRepeats) exactly once")
    }
}

extension CrashRecoveryTests {
    /// The next event offsets summed over the run's partition checkpoints, which survive the
    /// kills (the metrics do not).
    static func progress(_ run: Run) -> Int64 {
        [0, 1].compactMap {
            PartitionCheckpointProbe.offset(
                of: CheckpointFile(directory: run.state + "/checkpoints", name: "events-\($0)"))
        }.reduce(0, +)
    }

    /// Starts the daemon, kills it (kill -9) once its checkpoints reach `point`, and returns
    /// the progress they show then.
    static func kill(_ run: Run, atProgress point: Int64) throws -> Int64 {
        let (daemon, _) = try start(run)
        let deadline = ContinuousClock.now + .seconds(120)
        while progress(run) < point && ContinuousClock.now < deadline { usleep(2_000) }
        daemon.send(SIGKILL)
        _ = daemon.waitForExit(timeout: .seconds(10))
        #expect(daemon.wasKilledBySignal)
        return progress(run)
    }

    /// Starts the daemon once more, lets it finish the stream and stops it with SIGTERM.
    static func finish(_ run: Run, total: Int64) throws {
        let (last, _) = try start(run)
        let deadline = ContinuousClock.now + .seconds(120)
        while progress(run) < total && ContinuousClock.now < deadline { usleep(20_000) }
        #expect(progress(run) == total, "\(run.name) did not finish the stream")
        last.send(SIGTERM)
        #expect(last.waitForExit(timeout: .seconds(20)) == 0)
    }

    /// The feature state and offsets must be byte for byte those of the clean run. The join
    /// store cannot be: the self-labeller's waiting clicks are not checkpointed (so labels
    /// differ after a crash) and scores differ in their last bits with the micro-batch; it
    /// must hold the same number of scored events.
    static func expectSameState(partition: Int, clean: Run, found run: Run) throws {
        let name = "events-\(partition)"
        func load(_ state: String) throws -> PartitionCheckpoint {
            // As the daemon loads it: the checkpoint, and its join store from the join log.
            let directory = CheckpointDirectory(
                stateDirectory: state, topic: "events", configuration: FeatureConfiguration(),
                logger: Logger(label: "test"))
            let (checkpoint, refused) = try #require(try directory.load(Int32(partition)))
            #expect(!refused, "partition \(partition): the newest checkpoint was refused")
            return checkpoint
        }
        func withoutJoinStore(_ checkpoint: PartitionCheckpoint) throws -> [UInt8] {
            try PartitionCheckpoint(
                topic: checkpoint.topic, partition: checkpoint.partition,
                nextOffset: checkpoint.nextOffset, nextLabelOffset: checkpoint.nextLabelOffset,
                modelVersion: checkpoint.modelVersion, store: checkpoint.store
            ).encoded()
        }
        let expected = try load(clean.state)
        let found = try load(run.state)
        #expect(
            try withoutJoinStore(found) == withoutJoinStore(expected),
            "\(run.name): partition \(partition) differs after the crashes")
        #expect(expected.joinStore != nil)
        #expect(
            found.joinStore?.count == expected.joinStore?.count,
            "\(run.name): partition \(partition) keeps another number of scored events")
    }

    /// Checks that every alert of the clean run is among `crashAlerts` and that repeats are
    /// copies of the first; returns how many repeats there are. Scores may differ in the last
    /// bits with the micro-batch an event was scored in (OpenBLAS picks kernels by shape), so
    /// they are compared to 1e-5, and an alert within that of its threshold may be present in
    /// one run only.
    static func expectEveryAlert(
        of cleanAlerts: [String: [String]], in crashAlerts: [String: [String]]
    ) throws -> Int {
        var repeats = 0
        for (id, copies) in crashAlerts {
            repeats += copies.count - 1
            let first = copies[0]
            #expect(copies.allSatisfy { same($0, first) }, "alert \(id) repeated differently")
            if let expected = cleanAlerts[id]?.first {
                #expect(same(first, expected), "alert \(id) differs from the clean run")
            } else {
                #expect(nearThreshold(first), "alert \(id) only after crashes")
            }
        }
        for (id, copies) in cleanAlerts where crashAlerts[id] == nil {
            #expect(nearThreshold(copies[0]), "alert \(id) missing after crashes")
        }
        return repeats
    }
}

extension CrashRecoveryTests {
    /// Whether two alerts (canonical JSON without `emitted_at`) agree, numbers to 1e-5.
    static func same(_ a: String, _ b: String) -> Bool {
        guard var left = try? JSONSerialization.jsonObject(with: Data(a.utf8)) as? [String: Any],
            var right = try? JSONSerialization.jsonObject(with: Data(b.utf8)) as? [String: Any]
        else { return false }
        // Near-equal contributions may swap places: compare which features, not their order.
        for index in 0..<2 {
            var object = index == 0 ? left : right
            let names = (object["top_features"] as? [[String: Any]] ?? [])
                .compactMap { $0["name"] as? String }.sorted()
            object["top_features"] = names
            if index == 0 { left = object } else { right = object }
        }
        return close(left, right)
    }

    static func close(_ a: Any, _ b: Any) -> Bool {
        switch (a, b) {
        case (let x as [String: Any], let y as [String: Any]):
            return Set(x.keys) == Set(y.keys) && x.keys.allSatisfy { close(x[$0]!, y[$0]!) }
        case (let x as [Any], let y as [Any]):
            return x.count == y.count && zip(x, y).allSatisfy { close($0, $1) }
        case (let x as NSNumber, let y as NSNumber):
            return abs(x.doubleValue - y.doubleValue) <= 1e-5
        case (let x as String, let y as String):
            return x == y
        default:
            return false
        }
    }

    /// Whether a fired head's score lies within 1e-5 of its threshold.
    static func nearThreshold(_ alert: String) -> Bool {
        guard
            let object = try? JSONSerialization.jsonObject(with: Data(alert.utf8))
                as? [String: Any],
            let fired = object["fired"] as? [[String: Any]]
        else { return false }
        return fired.contains { head in
            guard let score = head["score"] as? Double, let threshold = head["threshold"] as? Double
            else { return false }
            return abs(score - threshold) <= 1e-5
        }
    }
}

/// Reads the next event offset out of a partition checkpoint without decoding the state.
enum PartitionCheckpointProbe {
    static func offset(of file: CheckpointFile) -> Int64? {
        guard let loaded = try? file.load(file.currentPath) else { return nil }
        // "OSPRPART" | format u32 | partition i32 | next event offset i64 (little-endian)
        guard loaded.count >= 24 else { return nil }
        var value: Int64 = 0
        for index in 0..<8 { value |= Int64(loaded[16 + index]) << (8 * index) }
        return value
    }
}

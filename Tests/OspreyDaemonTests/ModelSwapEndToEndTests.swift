import Foundation
import OspreyCore
import OspreyDaemon
import OspreyFeatures
import OspreyModel
import OspreyTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The hot swap as an operator drives it: `osprey serve` on a separate `osprey broker`, events
/// through `kcat`, `osprey model promote` and `rollback` while it runs, and every score record
/// checked against `osprey score` of the version it claims.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct ModelSwapEndToEndTests {
    /// Offline scores per event id: fraud, bot, purchase.
    typealias Scores = [String: [Double]]
    static let heads = ["fraud", "bot", "purchase"]

    static func offlineScores(model: String, traffic: String, directory: URL) throws -> Scores {
        let out = directory.appendingPathComponent(UUID().uuidString + ".csv").path
        let run = try runProgram(
            TestEnvironment.ospreyBinary.path,
            [
                "score", "--model", model, "--input", traffic, "--format", "events", "--out",
                out, "--quiet",
            ])
        #expect(run.status == 0, "\(run.errors)")
        let rows = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        #expect(rows.first == "event_id,fraud,bot,purchase")
        var scores: Scores = [:]
        for row in rows.dropFirst() {
            let fields = row.split(separator: ",")
            scores[String(fields[0])] = fields.dropFirst().compactMap { Double($0) }
        }
        return scores
    }

    /// Waits until the scores topic holds `count` records and returns them in topic order.
    static func scoreRecords(servers: String, count: Int) throws -> [[String: Any]] {
        let text = try ServeEndToEndTests.kcat([
            "-C", "-b", servers, "-t", "scores", "-o", "beginning", "-c", String(count), "-q",
        ])
        return try text.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
    }

    static func produce(_ lines: [Substring], servers: String) throws {
        let keyed = lines.map { line -> String in
            let user = line.split(separator: "\"user_id\":\"")[1].prefix { $0 != "\"" }
            return "\(user)\t\(line)"
        }
        _ = try ServeEndToEndTests.kcat(
            ["-P", "-b", servers, "-t", "events", "-K", "\t", "-z", "none"],
            input: Data((keyed.joined(separator: "\n") + "\n").utf8))
    }

    static func eventCount(_ lines: [Substring]) -> Int {
        lines.filter { !$0.contains("\"type\":\"label\"") }.count
    }

    @Test func promoteAndRollbackSwapTheScoringModelWhileEventsFlow() throws {
        let process = try ChildProcess.osprey([
            "broker", "--topic", "events:1", "--topic", "labels:1", "--topic", "alerts:1",
            "--topic", "events.dlq:1", "--topic", "scores:1",
        ])
        defer { process.stop() }
        let servers = try #require(process.waitForLine { $0.hasPrefix("127.0.0.1:") })
        let directory = try TestEnvironment.temporaryDirectory("swap")
        let state = directory.appendingPathComponent("state").path
        let catalog = ModelCatalog(stateDirectory: state)

        // Two versions for the daemon's schema whose weights differ, and their offline scores.
        let schema = try FeatureStore(configuration: FeatureConfiguration()).schema
        let v1 = directory.appendingPathComponent("v1.safetensors").path
        let v2 = directory.appendingPathComponent("v2.safetensors").path
        try ModelCatalog.freshModel(schema: schema, seed: 11).save(to: v1)
        try ModelCatalog.freshModel(schema: schema, seed: 12).save(to: v2)
        let traffic = directory.appendingPathComponent("traffic.jsonl").path
        let simulated = try runProgram(
            TestEnvironment.ospreyBinary.path,
            [
                "simulate", "--out", traffic, "--duration", "8m", "--rate", "10", "--users", "60",
                "--seed", "9", "--label-delay", "2m",
            ])
        #expect(simulated.status == 0, "\(simulated.errors)")
        let lines = try String(contentsOfFile: traffic, encoding: .utf8).split(separator: "\n")
            .filter { !$0.contains("\"label\":\"bot\"") && !$0.contains("\"label\":\"human\"") }
        try (lines.joined(separator: "\n") + "\n").write(
            toFile: traffic, atomically: true, encoding: .utf8)
        let offline = [
            1: try Self.offlineScores(model: v1, traffic: traffic, directory: directory),
            2: try Self.offlineScores(model: v2, traffic: traffic, directory: directory),
        ]
        let total = offline[1]!.count
        #expect(total > 1000 && offline[2]!.count == total)
        // The check bites only if the versions disagree: they must on nearly every event.
        let differing = offline[1]!.filter { id, scores in
            abs(scores[0] - (offline[2]![id]?[0] ?? scores[0])) > 1e-3
        }.count
        #expect(differing > total * 9 / 10, "v1 and v2 agree on too many events")
        // The fraud head judges orders only: half of them alert with version 1.
        let orders = lines.filter { $0.contains("\"type\":\"order\"") }.map { line in
            String(line.split(separator: "\"event_id\":\"")[1].prefix { $0 != "\"" })
        }
        let orderScores = orders.compactMap { offline[1]![$0]?[0] }.sorted()
        #expect(orderScores.count > 50)
        let median = orderScores[orderScores.count / 2]

        // The daemon starts with version 1; version 2 appears while it runs.
        try FileManager.default.createDirectory(
            atPath: state + "/models", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: v1, toPath: catalog.path(of: 1))
        let config = directory.appendingPathComponent("osprey.conf").path
        try """
        kafka.bootstrap.servers = \(servers)
        kafka.group.id = swap
        topics.scores = scores
        state.dir = \(state)
        metrics.listen = 127.0.0.1:0
        alerts.threshold.fraud = \(median)
        alerts.threshold.bot = off
        checkpoint.interval = 1s
        shutdown.timeout = 10s

        """.write(toFile: config, atomically: true, encoding: .utf8)
        let daemon = try ServeEndToEndTests.startDaemon(config: config)
        defer { daemon.stop() }
        try FileManager.default.copyItem(atPath: v2, toPath: catalog.path(of: 2))

        // Part one flows while version 2 is promoted.
        let parts = [
            Array(lines[..<(lines.count / 3)]),
            Array(lines[(lines.count / 3)..<(lines.count * 2 / 3)]),
            Array(lines[(lines.count * 2 / 3)...]),
        ]
        try Self.produce(parts[0], servers: servers)
        let promoted = try runProgram(
            TestEnvironment.ospreyBinary.path,
            ["model", "promote", "2", "--state-dir", state, "--reason", "end-to-end test"])
        #expect(promoted.status == 0, "\(promoted.errors)")
        #expect(
            String(decoding: promoted.output, as: UTF8.self) == "version 2 serves now (was 1)\n")
        let swapped = daemon.waitForLine(inErrors: true) {
            $0.contains("msg=\"model swapped\" old_version=1 version=2")
        }
        #expect(swapped != nil, "\(daemon.errors.suffix(20).joined(separator: "\n"))")

        // Part two after the swap: version 2 throughout. Then back to version 1 for part three.
        try Self.produce(parts[1], servers: servers)
        _ = try Self.scoreRecords(
            servers: servers, count: Self.eventCount(parts[0]) + Self.eventCount(parts[1]))
        let rolledBack = try runProgram(
            TestEnvironment.ospreyBinary.path, ["model", "rollback", "--state-dir", state])
        #expect(
            String(decoding: rolledBack.output, as: UTF8.self) == "version 1 serves again (was 2)\n"
        )
        #expect(
            daemon.waitForLine(inErrors: true) {
                $0.contains("msg=\"model swapped\" old_version=2 version=1")
            } != nil)
        try Self.produce(parts[2], servers: servers)
        let records = try Self.scoreRecords(servers: servers, count: total)

        // Every record carries the version that scored it: 1, then 2, then 1 again, and its
        // scores are that version's offline scores.
        let versions = records.map { $0["model_version"] as? Int ?? 0 }
        var runs: [Int] = []
        for version in versions where runs.last != version { runs.append(version) }
        #expect(runs == [1, 2, 1], "versions in topic order ran \(runs)")
        let firstOfPartTwo = Self.eventCount(parts[0])
        let firstOfPartThree = firstOfPartTwo + Self.eventCount(parts[1])
        #expect(versions[firstOfPartTwo..<firstOfPartThree].allSatisfy { $0 == 2 })
        #expect(versions[firstOfPartThree...].allSatisfy { $0 == 1 })
        var byEvent: [String: (version: Int, fraud: Double)] = [:]
        var mismatches: [String] = []
        for (record, version) in zip(records, versions) {
            let id = record["event_id"] as? String ?? ""
            let scores = record["scores"] as? [String: Any] ?? [:]
            let expected = offline[version]?[id] ?? []
            let actual = Self.heads.map { (scores[$0] as? NSNumber)?.doubleValue ?? -1 }
            if expected.count != 3 || zip(expected, actual).contains(where: { abs($0 - $1) > 1e-5 })
            {
                mismatches.append("\(id) v\(version): \(actual) offline \(expected)")
            }
            byEvent[id] = (version, actual[0])
        }
        let differ = mismatches.count
        #expect(differ == 0, "\(differ) records differ from offline: \(mismatches.prefix(3))")

        // Alerts carry the version and the score of their event's record.
        let alerts = try ServeEndToEndTests.kcat([
            "-C", "-b", servers, "-t", "alerts", "-o", "beginning", "-e", "-q",
        ]).split(separator: "\n")
        #expect(!alerts.isEmpty)
        for line in alerts {
            let alert = try #require(
                try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let id = (alert["event"] as? [String: Any])?["id"] as? String ?? ""
            let fraud = ((alert["scores"] as? [String: Any])?["fraud"] as? NSNumber)?.doubleValue
            #expect(alert["model_version"] as? Int == byEvent[id]?.version, "alert for \(id)")
            #expect(fraud == byEvent[id]?.fraud, "alert for \(id)")
        }

        try checkRefusals(daemon: daemon, state: state, catalog: catalog)
        daemon.send(SIGTERM)
        #expect(daemon.waitForExit(timeout: .seconds(15)) == 0)

        // The choice survives a restart: a stopped daemon's directory, promoted, starts with it.
        // A new consumer group does not wait for the old member's session to expire; the
        // partition's state comes from its checkpoint all the same.
        let text = try String(contentsOfFile: config, encoding: .utf8)
        try text.replacingOccurrences(of: "group.id = swap", with: "group.id = swap-restart")
            .write(toFile: config, atomically: true, encoding: .utf8)
        let repaired = try runProgram(
            TestEnvironment.ospreyBinary.path, ["model", "promote", "2", "--state-dir", state])
        #expect(repaired.status == 0, "\(repaired.errors)")
        let restarted = try ServeEndToEndTests.startDaemon(config: config)
        defer { restarted.stop() }
        #expect(
            restarted.errors.contains {
                $0.contains("msg=\"model loaded\"") && $0.hasSuffix(" version=2")
            }, "\(restarted.errors.prefix(10))")
        restarted.send(SIGTERM)
        #expect(restarted.waitForExit(timeout: .seconds(15)) == 0)
        try? FileManager.default.removeItem(at: directory)
    }

    /// A choice naming another schema's model or a damaged file is refused and counted, and
    /// version 1 goes on serving.
    func checkRefusals(daemon: ChildProcess, state: String, catalog: ModelCatalog) throws {
        let listen = try #require(
            daemon.waitForLine(inErrors: true) { $0.contains("msg=\"metrics listening\"") })
        let address = try #require(
            listen.split(separator: " ").first { $0.hasPrefix("listen=") }?.dropFirst(7))
        try catalog.install(
            ModelCatalog.freshModel(schema: FeatureSchema(names: ["a", "b"])), as: 3)
        let choice = ServingChoice(version: 3, previous: [1], changedAt: "2026-12-04T00:00:00Z")
        // Written by hand: `osprey model promote` itself refuses it.
        try writeFileAtomically(choice.encoded(), to: state + "/models/serving")
        #expect(
            daemon.waitForLine(inErrors: true) {
                $0.contains("msg=\"model swap refused; serving the previous model\" version=3")
                    && $0.contains("reason=schema")
            } != nil)

        try FileManager.default.copyItem(atPath: catalog.path(of: 1), toPath: catalog.path(of: 4))
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: catalog.path(of: 4))))
        bytes[bytes.count - 5] ^= 0x5a
        try Data(bytes).write(to: URL(fileURLWithPath: catalog.path(of: 4)))
        let damaged = ServingChoice(version: 4, previous: [1], changedAt: "2026-12-04T00:00:01Z")
        try writeFileAtomically(damaged.encoded(), to: state + "/models/serving")
        #expect(
            daemon.waitForLine(inErrors: true) {
                $0.contains("version=4 reason=unusable")
            } != nil)

        let scrape = MetricsScrape(text: try httpGet("http://\(address)/metrics"))
        #expect(scrape.total("osprey_model_version") == 1)
        #expect(scrape.total("osprey_model_swaps_total") == 2)
        #expect(
            scrape.total("osprey_model_swaps_refused_total", matching: ["reason": "schema"]) == 1)
        #expect(
            scrape.total("osprey_model_swaps_refused_total", matching: ["reason": "unusable"]) == 1)
    }
}

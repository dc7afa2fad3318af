import Foundation
import OspreyCore
import OspreyDaemon
import OspreyTestSupport
import Testing

@Suite struct DaemonSettingsTests {
    func settings(_ text: String) throws -> DaemonSettings {
        try DaemonSettings(ConfigurationFile.parse(text, path: "t.conf"), hostName: "box-1")
    }

    @Test func defaultsFillWhatIsNotSet() throws {
        let settings = try settings("kafka.bootstrap.servers = embedded\n")
        #expect(settings.groupID == "osprey")
        #expect(settings.kafka.map(\.key) == ["bootstrap.servers", "group.id"])
        #expect(settings.eventsTopic == "events" && settings.deadLetterTopic == "events.dlq")
        #expect(settings.scoresTopic == nil && settings.modelPath == nil)
        #expect(settings.guarantee == .atLeastOnce)
        #expect(settings.checkpointInterval == .seconds(10))
        #expect(settings.thresholds == ["fraud": 0.8, "bot": 0.9])
        #expect(settings.instanceName == "box-1")
        #expect(settings.logLevel == .info && settings.summaryInterval == .seconds(30))
    }

    @Test func refusesUnknownMissingAndBadValuesByName() throws {
        #expect(
            throws: ConfigurationError(
                key: "topics.event", origin: .file(path: "t.conf", line: 2), reason: "unknown key")
        ) {
            try settings("kafka.bootstrap.servers = x:1\ntopics.event = e\n")
        }
        let missing = #expect(throws: ConfigurationError.self) { try settings("log.level = info") }
        #expect(missing?.key == "kafka.bootstrap.servers")
        let level = #expect(throws: ConfigurationError.self) {
            try settings("kafka.bootstrap.servers = x:1\nlog.level = loud\n")
        }
        #expect(level?.origin == .file(path: "t.conf", line: 2))
        #expect(throws: ConfigurationError.self) {
            try settings("kafka.bootstrap.servers = x:1\nalerts.threshold.fraud = 1.5\n")
        }
        #expect(throws: ConfigurationError.self) {
            try settings("kafka.bootstrap.servers = x:1\ntopics.alerts = bad topic!\n")
        }
        #expect(throws: ConfigurationError.self) {
            try settings("kafka.bootstrap.servers = x:1\nprocessing.guarantee = maybe\n")
        }
        // Delegated sections are left to their modules.
        _ = try settings("kafka.bootstrap.servers = x:1\nmodel.experts = 4\nkafka.linger.ms = 5\n")
    }

    @Test func trainingKeysSetTheOnlineLoop() throws {
        let defaults = try settings("kafka.bootstrap.servers = x:1\n")
        #expect(defaults.trainingEnabled && defaults.trainingInterval == .seconds(600))
        #expect(defaults.trainingMinLabels == 5000 && defaults.online.holdout == 2000)
        #expect(defaults.online.joinTTLMs == 30 * 86_400_000)
        let set = try settings(
            """
            kafka.bootstrap.servers = x:1
            training.min_labels = 300
            training.join.ttl = 2d
            training.join.max_entries = 1000
            training.holdout = 50
            training.buffer.recent = 400
            training.buffer.reservoir = 0
            training.fine_tune.steps = 30
            training.fine_tune.learning_rate = 0.01
            training.tolerance = 0.02
            training.window = 700
            """)
        #expect(set.trainingMinLabels == 300 && set.online.joinTTLMs == 2 * 86_400_000)
        #expect(set.online.joinMaxEntries == 1000 && set.online.holdout == 50)
        #expect(set.online.recent == 400 && set.online.reservoir == 0)
        #expect(set.online.fineTune.steps == 30 && set.online.fineTune.learningRate == 0.01)
        #expect(set.online.promotion.defaultTolerance == 0.02 && set.online.window == 700)
        let bad = #expect(throws: ConfigurationError.self) {
            try settings("kafka.bootstrap.servers = x:1\ntraining.min_labels = 0\n")
        }
        #expect(bad?.key == "training.min_labels")
    }

    /// `config/osprey.conf` documents every key with its default, and parses as it stands.
    @Test func theRepositoryConfigDocumentsEveryKey() throws {
        let path = TestEnvironment.repositoryRoot.appendingPathComponent("config/osprey.conf").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let settings = try DaemonSettings(ConfigurationFile.parse(text, path: path), hostName: "h")
        #expect(settings.kafka.first?.value == "localhost:9092")
        let lines = text.split(separator: "\n").map { $0.trimmingWhitespace() }
        for key in DaemonSettings.keys where key.key != "kafka.bootstrap.servers" {
            let documented = "# \(key.key) = \(key.defaultValue)".trimmingWhitespace()
            #expect(lines.contains(documented), "config/osprey.conf lacks '\(documented)'")
        }
    }
}

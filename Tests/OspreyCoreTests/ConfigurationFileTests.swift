import OspreyCore
import Testing

@Suite struct ConfigurationFileTests {
    @Test func parsesKeysValuesCommentsAndBlankLines() throws {
        let text = """
            # a comment
            ! another comment
            kafka.bootstrap.servers = broker-1:9092,broker-2:9092

              checkpoint.interval=10s
            kafka.sasl.password = se#cret = still value
            empty.value =
            """
        let file = try ConfigurationFile.parse(text, path: "osprey.conf")
        #expect(
            file.entries.map(\.key) == [
                "kafka.bootstrap.servers", "checkpoint.interval", "kafka.sasl.password",
                "empty.value",
            ])
        #expect(file["kafka.bootstrap.servers"] == "broker-1:9092,broker-2:9092")
        #expect(file["kafka.sasl.password"] == "se#cret = still value")
        #expect(file["empty.value"] == "")
        #expect(file.entry("checkpoint.interval")?.origin == .file(path: "osprey.conf", line: 5))
        #expect(try file.entry("checkpoint.interval")?.duration() == .seconds(10))
    }

    @Test func refusesBadLinesWithFileAndLine() {
        #expect(
            throws: ConfigurationError(
                key: nil, origin: .file(path: "c.conf", line: 2),
                reason: "expected 'key = value', found 'just words'")
        ) {
            try ConfigurationFile.parse("a = 1\njust words\n", path: "c.conf")
        }
        #expect(
            throws: ConfigurationError(
                key: "a", origin: .file(path: "c.conf", line: 3), reason: "already set at c.conf:1")
        ) {
            try ConfigurationFile.parse("a = 1\n\na = 2\n", path: "c.conf")
        }
        #expect(
            throws: ConfigurationError(
                key: "bad key", origin: .file(path: "c.conf", line: 1),
                reason: "keys hold only letters, digits, '.', '_' and '-'")
        ) {
            try ConfigurationFile.parse("bad key = 1", path: "c.conf")
        }
        #expect(
            throws: ConfigurationError(
                key: nil, origin: .file(path: "c.conf", line: 1), reason: "the key is empty")
        ) {
            try ConfigurationFile.parse(" = 1", path: "c.conf")
        }
    }

    @Test func environmentOverridesKnownKeysAndKafkaProperties() throws {
        var file = try ConfigurationFile.parse(
            "topics.dead_letter = dlq\nlog.level = info\n", path: "c.conf")
        let unmatched = file.applyEnvironment(
            [
                "OSPREY_TOPICS_DEAD_LETTER": "events.dead",
                "OSPREY_KAFKA_BOOTSTRAP_SERVERS": "embedded",
                "OSPREY_STATE_DIR": "/tmp/state",
                "OSPREY_NO_SUCH_KEY": "x",
                "HOME": "/root",
            ], knownKeys: ["state.dir"])
        #expect(unmatched == ["OSPREY_NO_SUCH_KEY"])
        #expect(file["topics.dead_letter"] == "events.dead")
        #expect(
            file.entry("topics.dead_letter")?.origin
                == .environment(name: "OSPREY_TOPICS_DEAD_LETTER"))
        #expect(file["kafka.bootstrap.servers"] == "embedded")
        #expect(file["state.dir"] == "/tmp/state")
        #expect(file["log.level"] == "info")
        #expect(
            ConfigurationFile.environmentName(for: "kafka.bootstrap.servers")
                == "OSPREY_KAFKA_BOOTSTRAP_SERVERS")
    }

    @Test func redactsSecrets() throws {
        let file = try ConfigurationFile.parse(
            "kafka.sasl.password = hunter2\nkafka.ssl.key.password = k3y\nlog.level = debug\n",
            path: "c.conf")
        #expect(!file.redactedText.contains("hunter2"))
        #expect(!file.redactedText.contains("k3y"))
        #expect(file.redactedText.contains("log.level = debug"))
        let error = #expect(throws: ConfigurationError.self) {
            try file.entry("kafka.sasl.password")?.int()
        }
        #expect(error.map { !$0.description.contains("hunter2") } == true)
    }

    @Test func typedValuesNameTheKeyAndTheExpectation() throws {
        let file = try ConfigurationFile.parse(
            "a = 10x\nb = maybe\nc = 7\nd = 0.5\ne = x, y ,,z\n", path: "c.conf")
        #expect(
            throws: ConfigurationError(
                key: "a", origin: .file(path: "c.conf", line: 1),
                reason: "expected a duration such as 250ms, 10s, 5m or 7d, found '10x'")
        ) {
            try file.entry("a")?.duration()
        }
        #expect(throws: ConfigurationError.self) { try file.entry("b")?.bool() }
        #expect(try file.entry("c")?.int(in: 1...10) == 7)
        #expect(throws: ConfigurationError.self) { try file.entry("c")?.int(in: 1...5) }
        #expect(try file.entry("d")?.double(in: 0...1) == 0.5)
        #expect(file.entry("e")?.list() == ["x", "y", "z"])
        #expect(throws: ConfigurationError.self) { try file.entry("b")?.choice(["yes", "no"]) }
    }

    @Test func loadReportsAMissingFile() {
        let error = #expect(throws: ConfigurationError.self) {
            try ConfigurationFile.load(path: "/nonexistent/osprey.conf")
        }
        #expect(error?.description.contains("/nonexistent/osprey.conf") == true)
        #expect(error?.description.contains("No such file") == true)
    }
}

import OspreyCore
import OspreyTestSupport
import Synchronization
import Testing

@testable import OspreyKafka

@Suite(.timeLimit(.minutes(1)))
struct LoggingTests {
    @Test func syslogSeveritiesMapExplicitly() {
        let expected: [Int32: LogLevel] = [
            0: .critical, 1: .critical, 2: .critical, 3: .error, 4: .warning, 5: .notice,
            6: .info, 7: .debug, 9: .debug,
        ]
        for (severity, level) in expected {
            #expect(RdKafkaLog.level(syslogSeverity: severity) == level)
        }
    }

    /// librdkafka's own lines arrive through our logger, as logfmt with its facility, at the
    /// mapped level: a producer pointed at a closed port logs the refused connection.
    @Test func librdkafkaLinesReachTheLogger() async throws {
        let lines = Shared<[String]>([])
        let sink = LogSink(minimumLevel: .info) { line in lines.withLock { $0.append(line) } }
        let logger = Logger(label: "kafka-test", sink: sink)
        let found = try await onThread {
            let producer = try KafkaProducer(
                configuration: KafkaConfiguration([
                    "bootstrap.servers": "127.0.0.1:1", "message.timeout.ms": "3000",
                ]), logger: logger)
            try producer.send(topic: "nowhere", key: nil, value: Array("x".utf8))
            return waitUntil(timeout: .seconds(20)) {
                _ = try? producer.poll(timeout: .milliseconds(20))
                return lines.value.contains { $0.contains("Connection refused") }
            }
        }
        #expect(found)
        let line = try #require(lines.value.first { $0.contains("Connection refused") })
        #expect(line.contains(" level=error logger=kafka-test msg="))
        #expect(line.contains(" facility=FAIL"))
        #expect(line.contains(" client=rdkafka#producer-"))
    }

    /// The embedded broker does not implement CreateTopics; the admin call fails with a clear,
    /// retriable error instead of hanging or crashing. (Topics on it are created with
    /// ``EmbeddedBroker/createTopic(_:partitions:replicationFactor:)``.)
    @Test func adminCreateTopicReportsTheMockLimitation() async throws {
        let broker = try EmbeddedBroker()
        let error = try await onThread { () -> KafkaError? in
            let admin = try KafkaAdmin(configuration: clientConfiguration(broker))
            do {
                try admin.createTopic(
                    TestEnvironment.uniqueName("created"), partitions: 3, timeout: .seconds(1))
                return nil
            } catch let error as KafkaError { return error }
        }
        #expect(error?.code == .timedOut)
        #expect(error?.description.contains("create topic") == true)
    }
}

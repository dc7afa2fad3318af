import OspreyKafka
import Testing

@Suite struct ConfigurationTests {
    @Test func unknownKeyIsNamedInTheError() throws {
        let error = #expect(throws: KafkaError.self) {
            _ = try KafkaProducer(
                configuration: KafkaConfiguration([
                    "bootstrap.servers": "127.0.0.1:1", "no.such.property": "1",
                ]))
        }
        #expect(error?.configurationKey == "no.such.property")
        #expect(error?.message.contains("No such configuration property") == true)
        #expect(error?.description.contains("'no.such.property'") == true)
    }

    @Test func badValueIsNamedWithLibrdkafkasReason() throws {
        let error = #expect(throws: KafkaError.self) {
            _ = try KafkaConsumer(
                configuration: KafkaConfiguration([
                    "bootstrap.servers": "127.0.0.1:1", "group.id": "g",
                    "session.timeout.ms": "soon",
                ]))
        }
        #expect(error?.configurationKey == "session.timeout.ms")
        #expect(error?.message.contains("Invalid value") == true)
        #expect(error?.code == .invalidArgument)
    }

    @Test func laterPairsWinAndSecretsAreMasked() {
        var configuration = KafkaConfiguration(["linger.ms": "5", "sasl.password": "hunter2"])
        configuration["linger.ms"] = "10"
        #expect(configuration["linger.ms"] == "10")
        #expect(!configuration.description.contains("hunter2"))
        #expect(configuration.description.contains("linger.ms=10"))
    }

    @Test func embeddedServersAreReplacedByTheBrokersOwn() throws {
        let configuration = KafkaConfiguration(["bootstrap.servers": " embedded ", "acks": "all"])
        #expect(configuration.usesEmbeddedBroker)
        #expect(!KafkaConfiguration(["bootstrap.servers": "kafka:9092"]).usesEmbeddedBroker)
        let broker = try EmbeddedBroker()
        let resolved = configuration.pointing(at: broker)
        #expect(resolved["bootstrap.servers"] == broker.bootstrapServers)
        #expect(resolved["acks"] == "all")
        #expect(!resolved.usesEmbeddedBroker)
    }
}

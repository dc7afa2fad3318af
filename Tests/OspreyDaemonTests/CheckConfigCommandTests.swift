import Foundation
import OspreyTestSupport
import Testing

/// `osprey check-config` as an operator runs it: every section is checked by its owner, and
/// the error names the key and the line.
@Suite struct CheckConfigCommandTests {
    func check(_ text: String) throws -> (status: Int32, output: String, errors: String) {
        let path = try TestEnvironment.temporaryDirectory("check").appendingPathComponent("o.conf")
        try text.write(to: path, atomically: true, encoding: .utf8)
        let result = try runProgram(
            TestEnvironment.ospreyBinary.path, ["check-config", "--config", path.path])
        return (result.status, String(decoding: result.output, as: UTF8.self), result.errors)
    }

    @Test func validConfigurationIsPrintedWithSecretsRedacted() throws {
        let result = try check(
            """
            kafka.bootstrap.servers = broker:9092
            kafka.sasl.password = hunter2
            model.path = /var/lib/osprey/models/model-000003.safetensors
            model.experts = 3
            training.enabled = false
            alerts.threshold.fraud = 0.95

            """)
        #expect(result.status == 0, "\(result.errors)")
        #expect(result.output.contains("kafka.sasl.password = [redacted]"))
        #expect(!result.output.contains("hunter2"))
    }

    @Test(arguments: [
        ("kafka.bootstrap.servers = b:1\nkafka.no.such.property = 1\n", "'kafka.no.such.property'"),
        ("kafka.bootstrap.servers = b:1\nmodel.bogus = 3\n", "model.bogus"),
        ("kafka.bootstrap.servers = b:1\ncheckpoint.interval = often\n", "'checkpoint.interval'"),
        ("kafka.bootstrap.servers = b:1\ntopics.event = x\n", "'topics.event': unknown key"),
    ])
    func mistakesNameTheKeyAndLine(text: String, expected: String) throws {
        let result = try check(text)
        #expect(result.status == 78)
        #expect(result.errors.contains(expected), "\(result.errors)")
        #expect(
            result.errors.contains(":2") || result.errors.contains("line 2"), "\(result.errors)")
    }
}

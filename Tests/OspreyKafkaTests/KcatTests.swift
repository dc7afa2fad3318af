import Foundation
import OspreyCore
import OspreyKafka
import OspreyTestSupport
import Testing

/// An independent client, `kcat`, reads what we write and writes what we read.
@Suite(.timeLimit(.minutes(2)))
struct KcatTests {
    /// Random bytes, including newlines, NULs and invalid UTF-8.
    static func randomBytes(_ count: Int, _ generator: inout some RandomNumberGenerator)
        -> [UInt8]
    {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    /// Parses kcat's `%K:%k%S:%s` output: length-prefixed keys and values.
    static func parseLengthPrefixed(_ data: Data) -> [(key: [UInt8], value: [UInt8])]? {
        let bytes = [UInt8](data)
        var index = 0
        func field() -> [UInt8]? {
            var length = 0
            while index < bytes.count, bytes[index] != UInt8(ascii: ":") {
                guard let digit = Int(String(UnicodeScalar(bytes[index]))) else { return nil }
                length = length * 10 + digit
                index += 1
            }
            index += 1
            guard index + length <= bytes.count else { return nil }
            defer { index += length }
            return Array(bytes[index..<index + length])
        }
        var messages: [(key: [UInt8], value: [UInt8])] = []
        while index < bytes.count {
            guard let key = field(), let value = field() else { return nil }
            messages.append((key, value))
        }
        return messages
    }

    @Test func kcatReadsWhatWeWriteByteForByte() async throws {
        let broker = try EmbeddedBroker()
        let topic = TestEnvironment.uniqueName("to-kcat")
        try broker.createTopic(topic, partitions: 1)
        var generator = SystemRandomNumberGenerator()
        var sent: [(key: [UInt8], value: [UInt8])] = []
        for index in 0..<200 {
            sent.append(
                (
                    Self.randomBytes(1 + index % 17, &generator),
                    Self.randomBytes(1 + (index * 37) % 600, &generator)
                ))
        }
        let messages = sent
        try await onThread {
            let producer = try KafkaProducer(configuration: clientConfiguration(broker))
            for message in messages {
                try producer.send(
                    topic: topic, partition: 0, key: message.key, value: message.value)
            }
            try producer.flush(timeout: .seconds(20))
        }
        let result = try runKcat([
            "-C", "-b", broker.bootstrapServers, "-t", topic, "-p", "0", "-o", "beginning",
            "-e", "-q", "-f", "%K:%k%S:%s",
        ])
        #expect(result.status == 0, "\(result.errors)")
        let read = try #require(Self.parseLengthPrefixed(result.output))
        #expect(read.count == sent.count)
        #expect(read.map(\.key) == sent.map(\.key))
        #expect(read.map(\.value) == sent.map(\.value))
    }

    @Test func weReadWhatKcatWrites() async throws {
        let broker = try EmbeddedBroker()
        let topic = TestEnvironment.uniqueName("from-kcat")
        try broker.createTopic(topic, partitions: 1)
        let lines = (0..<300).map { "key-\($0 % 7):value \($0) with spaces, émoji 🦅" }
        let input = Data((lines.joined(separator: "\n") + "\n").utf8)
        let result = try runKcat(
            ["-P", "-b", broker.bootstrapServers, "-t", topic, "-p", "0", "-K", ":"],
            input: input)
        #expect(result.status == 0, "\(result.errors)")
        let read = try await onThread {
            let consumer = try KafkaConsumer(
                configuration: consumerConfiguration(
                    broker, group: TestEnvironment.uniqueName("kcat")))
            try consumer.subscribe(topics: [topic])
            var read: [String] = []
            let deadline = ContinuousClock.now + .seconds(30)
            while read.count < lines.count, ContinuousClock.now < deadline {
                let (messages, _) = try consumer.poll(timeout: .milliseconds(100))
                read += messages.map { message in
                    String(decoding: message.key ?? [], as: UTF8.self) + ":"
                        + String(decoding: message.value ?? [], as: UTF8.self)
                }
            }
            try consumer.close()
            return read
        }
        #expect(read == lines)
    }
}

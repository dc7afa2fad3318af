import OspreyCore
import OspreyKafka
import OspreyTestSupport
import Testing

@Suite(.timeLimit(.minutes(2)))
struct ProduceConsumeTests {
    /// 100,000 keyed messages with headers go through and come back in order per partition,
    /// none lost and none duplicated; headers, keys, tombstones and timestamps survive.
    @Test func hundredThousandKeyedMessagesRoundTrip() async throws {
        let broker = try EmbeddedBroker()
        let topic = TestEnvironment.uniqueName("roundtrip")
        // About 6 MB in all: 24 partitions keep each well under the mock's 5 MiB.
        try broker.createTopic(topic, partitions: 24)
        let total = 100_000
        let users = 1_000

        let failures = try await onThread("producer") {
            var failed = 0
            let producer = try KafkaProducer(
                configuration: clientConfiguration(broker).merging(
                    KafkaConfiguration(["enable.idempotence": "true", "linger.ms": "5"]))
            ) { report in if !report.isDelivered { failed += 1 } }
            for sequence in 0..<total {
                let value: [UInt8]? =
                    sequence % 1000 == 999 ? nil : Array("event-\(sequence)".utf8)
                try producer.send(
                    topic: topic, key: Array("user-\(sequence % users)".utf8), value: value,
                    headers: [
                        KafkaHeader(name: "sequence", text: String(sequence)),
                        KafkaHeader(name: "empty", value: nil),
                    ],
                    timestamp: KafkaTimestamp(
                        kind: .createTime, milliseconds: 1_700_000_000_000 + Int64(sequence)))
            }
            try producer.flush(timeout: .seconds(60))
            #expect(producer.deliveredCount == total)
            return failed
        }
        #expect(failures == 0)

        let summary = try await onThread("consumer") {
            let consumer = try KafkaConsumer(
                configuration: consumerConfiguration(
                    broker, group: TestEnvironment.uniqueName("group")))
            try consumer.subscribe(topics: [topic])
            var seen = Set<Int>()
            var duplicates = 0
            var outOfOrder = 0
            var lastOffset: [Int32: Int64] = [:]
            var lastSequenceOfUser: [String: Int] = [:]
            var partitionOfUser: [String: Int32] = [:]
            var badMessages = 0
            let deadline = ContinuousClock.now + .seconds(60)
            while seen.count < total, ContinuousClock.now < deadline {
                var stored: [Int32: TopicPartitionOffset] = [:]
                _ = try consumer.poll(maxMessages: 2000, timeout: .milliseconds(200)) { view in
                    let message = view.copy()
                    let headers = message.headers
                    guard headers.count == 2, headers[0].name == "sequence",
                        let sequence = Int(String(decoding: headers[0].value ?? [], as: UTF8.self)),
                        headers[1] == KafkaHeader(name: "empty", value: nil),
                        let key = message.key
                    else {
                        badMessages += 1
                        return
                    }
                    let user = String(decoding: key, as: UTF8.self)
                    let expectedValue: [UInt8]? =
                        sequence % 1000 == 999 ? nil : Array("event-\(sequence)".utf8)
                    if message.value != expectedValue || user != "user-\(sequence % users)"
                        || message.timestamp?.milliseconds != 1_700_000_000_000 + Int64(sequence)
                    {
                        badMessages += 1
                    }
                    if !seen.insert(sequence).inserted { duplicates += 1 }
                    if let last = lastOffset[message.partition], last >= message.offset {
                        outOfOrder += 1
                    }
                    lastOffset[message.partition] = message.offset
                    if let last = lastSequenceOfUser[user], last >= sequence { outOfOrder += 1 }
                    lastSequenceOfUser[user] = sequence
                    if let partition = partitionOfUser[user], partition != message.partition {
                        outOfOrder += 1
                    }
                    partitionOfUser[user] = message.partition
                    stored[message.partition] = message.nextOffset
                }
                try consumer.store(Array(stored.values))
            }
            try consumer.commit()
            try consumer.close()
            return (seen.count, duplicates, outOfOrder, badMessages, lastOffset.count)
        }
        #expect(summary.0 == total)
        #expect(summary.1 == 0)
        #expect(summary.2 == 0)
        #expect(summary.3 == 0)
        #expect(summary.4 == 24)
    }

    /// Pausing a partition stops its messages while the others flow; resuming brings them; a
    /// seek re-reads from an earlier offset; statistics report the lag once it is zero.
    /// The settled watermark moves only over a contiguous run of ids: it waits at a message
    /// not yet reported however many later ones are, and a message refused at send time (too
    /// large) does not hold it back.
    @Test func theSettledWatermarkCoversEveryIdBelowIt() async throws {
        let broker = try EmbeddedBroker()
        let topic = TestEnvironment.uniqueName("settled")
        try broker.createTopic(topic, partitions: 8)
        try await onThread("producer") {
            let producer = try KafkaProducer(
                configuration: clientConfiguration(broker).merging(
                    KafkaConfiguration([
                        "enable.idempotence": "true", "linger.ms": "50",
                        "message.max.bytes": "10000",
                    ])))
            #expect(producer.settledThrough == 0 && producer.lastSentID == 0)
            for sequence in 0..<2_000 {
                try producer.send(
                    topic: topic, partition: Int32(sequence % 8),
                    key: Array("k\(sequence)".utf8), value: Array("v\(sequence)".utf8))
            }
            #expect(producer.lastSentID == 2_000)
            #expect(producer.settledThrough < 2_000, "nothing is reported before linger.ms")
            #expect(throws: KafkaError.self) {
                try producer.send(
                    topic: topic, key: nil, value: [UInt8](repeating: 1, count: 20_000))
            }
            try producer.send(topic: topic, partition: 0, key: nil, value: Array("last".utf8))
            #expect(producer.lastSentID == 2_002)
            let settled = waitUntil(timeout: .seconds(20)) {
                _ = try? producer.poll(timeout: .milliseconds(10))
                return producer.settledThrough == 2_002
            }
            #expect(settled, "settled through \(producer.settledThrough) of 2002")
            #expect(producer.deliveredCount == 2_001)
        }
    }

    @Test func pauseResumeSeekAndStatistics() async throws {
        let broker = try EmbeddedBroker()
        let topic = TestEnvironment.uniqueName("pause")
        try broker.createTopic(topic, partitions: 2)
        try await onThread {
            let producer = try KafkaProducer(configuration: clientConfiguration(broker))
            for index in 0..<100 {
                try producer.send(
                    topic: topic, partition: Int32(index % 2), key: nil,
                    value: Array("m\(index)".utf8))
            }
            try producer.flush(timeout: .seconds(20))
        }
        let outcome = try await onThread {
            let consumer = try KafkaConsumer(
                configuration: consumerConfiguration(
                    broker, group: TestEnvironment.uniqueName("pause")
                ).merging(
                    KafkaConfiguration([
                        "enable.partition.eof": "true", "statistics.interval.ms": "100",
                    ])))
            let first = TopicPartition(topic: topic, partition: 0)
            let second = TopicPartition(topic: topic, partition: 1)
            try consumer.assign([
                TopicPartitionOffset(first, offset: .beginning),
                TopicPartitionOffset(second, offset: .beginning),
            ])
            try consumer.pause([first])
            var counts: [Int32: Int] = [:]
            var ended = Set<Int32>()
            var sawLagZero = false
            func pollUntil(_ done: () -> Bool) throws {
                let deadline = ContinuousClock.now + .seconds(30)
                while !done(), ContinuousClock.now < deadline {
                    let (messages, events) = try consumer.poll(timeout: .milliseconds(100))
                    for message in messages { counts[message.partition, default: 0] += 1 }
                    for event in events {
                        switch event {
                        case .partitionEnd(let partition, _): ended.insert(partition.partition)
                        case .statistics(let statistics):
                            let mine = statistics.partitions.filter {
                                $0.topicPartition.topic == topic
                            }
                            if mine.count == 2, mine.allSatisfy({ $0.consumerLag == 0 }) {
                                sawLagZero = true
                            }
                        default: break
                        }
                    }
                }
            }
            try pollUntil { ended.contains(1) }
            let whilePaused = counts
            try consumer.resume([first])
            try pollUntil { ended.contains(0) }
            let afterResume = counts
            try consumer.seek(
                [TopicPartitionOffset(second, offset: .exactly(40))], timeout: .seconds(5))
            ended.remove(1)
            try pollUntil { ended.contains(1) }
            let afterSeek = counts
            // Lag is measured from the committed offsets.
            try consumer.commit([
                TopicPartitionOffset(first, offset: .exactly(50)),
                TopicPartitionOffset(second, offset: .exactly(50)),
            ])
            try pollUntil { sawLagZero }
            try consumer.close()
            return (whilePaused, afterResume, afterSeek, sawLagZero)
        }
        #expect(outcome.0[0, default: 0] == 0)
        #expect(outcome.0[1] == 50)
        #expect(outcome.1[0] == 50)
        #expect(outcome.2[1] == 60)
        #expect(outcome.3)
    }

    /// Topics created through the admin client or the embedded broker are described with their
    /// partitions and leaders.
    @Test func createAndDescribeTopics() async throws {
        let broker = try EmbeddedBroker(brokers: 3)
        let viaBroker = TestEnvironment.uniqueName("described")
        try broker.createTopic(viaBroker, partitions: 6, replicationFactor: 2)
        let description = try await onThread {
            let admin = try KafkaAdmin(configuration: clientConfiguration(broker))
            let description = try admin.describeTopic(viaBroker)
            var unknown: KafkaError?
            do {
                _ = try admin.describeTopic(TestEnvironment.uniqueName("missing"))
            } catch let error as KafkaError { unknown = error }
            return (description, unknown)
        }
        #expect(description.0.partitions.map { $0.id } == Array(0..<6))
        #expect(description.0.partitions.allSatisfy { broker.brokerIDs.contains($0.leader) })
        #expect(description.0.partitions.allSatisfy { $0.replicas.contains($0.leader) })
        #expect(description.1 != nil)
    }
}

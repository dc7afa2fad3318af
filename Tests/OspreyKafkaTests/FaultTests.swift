import OspreyCore
import OspreyKafka
import OspreyTestSupport
import Testing

@Suite(.timeLimit(.minutes(2)))
struct FaultTests {
    /// Sends `count` messages and flushes; returns the delivery reports.
    static func sendAndFlush(
        _ producer: KafkaProducer, reports: Shared<[KafkaDeliveryReport]>, topic: String,
        count: Int
    ) throws -> [KafkaDeliveryReport] {
        reports.withLock { $0.removeAll() }
        for index in 0..<count {
            try producer.send(topic: topic, partition: 0, key: nil, value: Array("m\(index)".utf8))
        }
        try producer.flush(timeout: .seconds(20))
        return reports.value
    }

    @Test func brokerDownFailsDeliveriesThenRecovers() async throws {
        let broker = try EmbeddedBroker()
        let topic = TestEnvironment.uniqueName("down")
        try broker.createTopic(topic, partitions: 1)
        let outcome = try await onThread {
            let reports = Shared<[KafkaDeliveryReport]>([])
            let producer = try KafkaProducer(
                configuration: clientConfiguration(broker).merging(
                    KafkaConfiguration([
                        "message.timeout.ms": "1500", "retry.backoff.ms": "50",
                        "reconnect.backoff.ms": "50", "reconnect.backoff.max.ms": "200",
                    ]))
            ) { report in reports.withLock { $0.append(report) } }
            let before = try Self.sendAndFlush(producer, reports: reports, topic: topic, count: 5)
            try broker.setBrokerDown(1)
            let during = try Self.sendAndFlush(producer, reports: reports, topic: topic, count: 5)
            try broker.setBrokerUp(1)
            // Recovery is an event: the first probe that gets through after the broker is back.
            var recovered = false
            let deadline = ContinuousClock.now + .seconds(20)
            while !recovered, ContinuousClock.now < deadline {
                let probe = try Self.sendAndFlush(
                    producer, reports: reports, topic: topic, count: 1)
                recovered = probe.allSatisfy(\.isDelivered)
            }
            let after = try Self.sendAndFlush(producer, reports: reports, topic: topic, count: 5)
            return (before, during, after)
        }
        #expect(outcome.0.count == 5 && outcome.0.allSatisfy(\.isDelivered))
        #expect(outcome.1.count == 5)
        #expect(outcome.1.allSatisfy { $0.error != nil && $0.offset == nil })
        #expect(outcome.1.allSatisfy { $0.error?.code == .messageTimedOut })
        #expect(outcome.2.count == 5 && outcome.2.allSatisfy(\.isDelivered))
    }

    @Test func refusedProduceRequestsFailThenRecover() async throws {
        let broker = try EmbeddedBroker()
        let topic = TestEnvironment.uniqueName("refused")
        try broker.createTopic(topic, partitions: 1)
        let outcome = try await onThread {
            let reports = Shared<[KafkaDeliveryReport]>([])
            let producer = try KafkaProducer(
                configuration: clientConfiguration(broker).merging(
                    KafkaConfiguration(["linger.ms": "0"]))
            ) { report in reports.withLock { $0.append(report) } }
            _ = try Self.sendAndFlush(producer, reports: reports, topic: topic, count: 1)
            broker.failNextRequests(.produce, with: [.messageSizeTooLarge])
            let refused = try Self.sendAndFlush(producer, reports: reports, topic: topic, count: 1)
            // A retriable error is retried by librdkafka and the message gets through.
            broker.failNextRequests(.produce, with: [.notLeaderForPartition])
            let retried = try Self.sendAndFlush(producer, reports: reports, topic: topic, count: 1)
            let after = try Self.sendAndFlush(producer, reports: reports, topic: topic, count: 3)
            return (refused, retried, after, producer.failedCount)
        }
        #expect(outcome.0.count == 1)
        #expect(outcome.0.first?.error?.code == .messageSizeTooLarge)
        #expect(outcome.0.first?.error?.isRetriable == false)
        #expect(outcome.1.count == 1 && outcome.1.allSatisfy(\.isDelivered))
        #expect(outcome.2.count == 3 && outcome.2.allSatisfy(\.isDelivered))
        #expect(outcome.3 == 1)
    }

    @Test func addedLatencyStillDelivers() async throws {
        let broker = try EmbeddedBroker()
        let topic = TestEnvironment.uniqueName("slow")
        try broker.createTopic(topic, partitions: 1)
        let reports = try await onThread {
            let reports = Shared<[KafkaDeliveryReport]>([])
            let producer = try KafkaProducer(configuration: clientConfiguration(broker)) {
                report in reports.withLock { $0.append(report) }
            }
            try broker.setRoundTripTime(broker: 1, delay: .milliseconds(200))
            return try Self.sendAndFlush(producer, reports: reports, topic: topic, count: 3)
        }
        #expect(reports.count == 3 && reports.allSatisfy(\.isDelivered))
    }

    /// A full local queue makes `send` serve reports and wait instead of failing; when the
    /// broker is down and room never comes, it throws `queueFull` after its timeout, and a
    /// flush with a time budget throws `timedOut` saying how many messages are left.
    @Test func backPressureAndFlushBudget() async throws {
        let broker = try EmbeddedBroker()
        let topic = TestEnvironment.uniqueName("pressure")
        try broker.createTopic(topic, partitions: 2)
        let outcome = try await onThread { () -> (Int, KafkaError?, KafkaError?) in
            let producer = try KafkaProducer(
                configuration: clientConfiguration(broker).merging(
                    KafkaConfiguration([
                        "queue.buffering.max.messages": "100", "message.timeout.ms": "10000",
                    ])), enqueueTimeout: .milliseconds(300))
            for index in 0..<5000 {
                try producer.send(topic: topic, key: nil, value: Array("m\(index)".utf8))
            }
            try producer.flush(timeout: .seconds(20))
            let delivered = producer.deliveredCount

            try broker.setBrokerDown(1)
            var queueFull: KafkaError?
            do {
                for index in 0..<1000 {
                    try producer.send(topic: topic, key: nil, value: Array("d\(index)".utf8))
                }
            } catch let error as KafkaError { queueFull = error }
            var flushTimeout: KafkaError?
            do {
                try producer.flush(timeout: .milliseconds(200))
            } catch let error as KafkaError { flushTimeout = error }
            try broker.setBrokerUp(1)
            return (delivered, queueFull, flushTimeout)
        }
        #expect(outcome.0 == 5000)
        #expect(outcome.1?.code == .queueFull)
        #expect(outcome.2?.code == .timedOut)
        #expect(outcome.2?.message.contains("100 messages still outstanding") == true)
    }
}

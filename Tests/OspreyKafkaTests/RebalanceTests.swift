import OspreyCore
import OspreyKafka
import OspreyTestSupport
import Synchronization
import Testing

@Suite(.timeLimit(.minutes(2)))
struct RebalanceTests {
    /// What the members of the group did, shared between their threads.
    struct Record: Sendable {
        var processed: [TopicPartition: [Int64: Int]] = [:]
        var processedBy: [String: Int] = [:]
        var rebalances: [String: [KafkaRebalance]] = [:]
        var commitFailures: [KafkaError] = []
        /// Messages handed out for a partition the member did not own at that point.
        var strayPartitions = 0
        var total: Int { processedBy.values.reduce(0, +) }
    }

    /// One member: polls until told to stop, records each message, stores and commits its
    /// offsets after each batch; closing revokes its partitions.
    static func member(
        _ name: String, broker: EmbeddedBroker, group: String, topic: String, strategy: String,
        record: Shared<Record>, stop: Shared<Bool>
    ) throws {
        let consumer = try KafkaConsumer(
            configuration: consumerConfiguration(broker, group: group).merging(
                KafkaConfiguration(["partition.assignment.strategy": strategy])))
        try consumer.subscribe(topics: [topic])
        func note(_ events: [KafkaConsumerEvent]) {
            for case .rebalance(let step) in events {
                record.withLock { $0.rebalances[name, default: []].append(step) }
            }
        }
        // The partitions this member owns according to the events it has seen so far: every
        // message handed out must belong to one of them and not be revoked by the same poll.
        var owned = Set<TopicPartition>()
        while !stop.value {
            var stored: [TopicPartition: TopicPartitionOffset] = [:]
            var seen = Set<TopicPartition>()
            let events = try consumer.poll(maxMessages: 100, timeout: .milliseconds(50)) { view in
                let partition = view.topicPartition
                let offset = view.offset
                seen.insert(partition)
                record.withLock { record in
                    record.processed[partition, default: [:]][offset, default: 0] += 1
                    record.processedBy[name, default: 0] += 1
                }
                stored[partition] = view.nextOffset
            }
            if !stored.isEmpty {
                try consumer.store(Array(stored.values))
                // Committed at once: the embedded broker refuses commits while the group is
                // rebalancing (REBALANCE_IN_PROGRESS), where a real cluster accepts the
                // commit that the consumer makes on revocation.
                do {
                    try consumer.commit()
                } catch {
                    // Kept stored: the next batch's commit carries these offsets too.
                    record.withLock { $0.commitFailures.append(error) }
                }
            }
            var revokedNow = Set<TopicPartition>()
            for case .rebalance(let step) in events where step.kind != .assigned {
                revokedNow.formUnion(step.partitions)
            }
            let strays = seen.filter { !owned.contains($0) || revokedNow.contains($0) }.count
            if strays > 0 { record.withLock { $0.strayPartitions += strays } }
            for case .rebalance(let step) in events {
                if step.kind == .assigned {
                    owned.formUnion(step.partitions)
                } else {
                    owned.subtract(step.partitions)
                }
            }
            note(events)
        }
        note(try consumer.close())
    }

    @Test(arguments: ["range", "cooperative-sticky"])
    func secondMemberJoinsAndLeavesMidStream(strategy: String) async throws {
        let broker = try EmbeddedBroker()
        let topic = TestEnvironment.uniqueName("rebalance")
        let group = TestEnvironment.uniqueName("group")
        try broker.createTopic(topic, partitions: 6)
        let record = Shared(Record())
        let stopFirst = Shared(false)
        let stopSecond = Shared(false)
        let perPhase = 3000

        func produce(_ phase: Int) async throws {
            try await onThread {
                let producer = try KafkaProducer(configuration: clientConfiguration(broker))
                for index in 0..<perPhase {
                    try producer.send(
                        topic: topic, key: Array("k\(phase)-\(index)".utf8),
                        value: Array("phase \(phase) message \(index)".utf8))
                }
                try producer.flush(timeout: .seconds(20))
            }
        }

        let first = TestThread("first") {
            try Self.member(
                "first", broker: broker, group: group, topic: topic, strategy: strategy,
                record: record, stop: stopFirst)
        }
        try await produce(1)
        #expect(waitUntil(timeout: .seconds(30)) { record.value.total >= perPhase })

        let second = TestThread("second") {
            try Self.member(
                "second", broker: broker, group: group, topic: topic, strategy: strategy,
                record: record, stop: stopSecond)
        }
        #expect(
            waitUntil(timeout: .seconds(30)) {
                record.value.rebalances["second"]?.contains {
                    $0.kind == .assigned && !$0.partitions.isEmpty
                } == true
            })
        try await produce(2)
        #expect(waitUntil(timeout: .seconds(30)) { record.value.total >= 2 * perPhase })

        let firstStepsBeforeLeave = record.value.rebalances["first"]?.count ?? 0
        stopSecond.withLock { $0 = true }
        try second.join()
        // The first member takes the second's partitions back. The embedded broker refuses
        // commits until the group settles, so the stream resumes once it has.
        let secondPartitions = Set(
            record.value.rebalances["second"]?.first { !$0.partitions.isEmpty }?.partitions ?? [])
        #expect(
            waitUntil(timeout: .seconds(30)) {
                let steps = (record.value.rebalances["first"] ?? []).dropFirst(
                    firstStepsBeforeLeave)
                let regained = steps.filter { $0.kind == .assigned }.flatMap(\.partitions)
                return !secondPartitions.isEmpty && secondPartitions.isSubset(of: regained)
            })
        try await produce(3)
        #expect(waitUntil(timeout: .seconds(30)) { record.value.total >= 3 * perPhase })
        stopFirst.withLock { $0 = true }
        try first.join()

        let final = record.value
        #expect(final.total == 3 * perPhase)
        #expect(final.strayPartitions == 0)
        let counts = final.processed.values.flatMap(\.values)
        #expect(counts.count == 3 * perPhase)
        let duplicated = final.processed.mapValues { $0.filter { $0.value > 1 }.count }
        let steps = final.rebalances.mapValues { $0.map { "\($0.kind) \($0.partitions)" } }
        #expect(
            counts.allSatisfy { $0 == 1 },
            "duplicated \(duplicated), rebalances \(steps), failures \(final.commitFailures)")
        #expect(final.processedBy["second", default: 0] > 0)
        let expected: KafkaRebalanceProtocol =
            strategy == "range" ? .eager : .cooperative
        let firstSteps = final.rebalances["first"] ?? []
        let secondSteps = final.rebalances["second"] ?? []
        #expect(firstSteps.allSatisfy { $0.rebalanceProtocol == expected })
        #expect(firstSteps.contains { $0.kind == .revoked })
        #expect(firstSteps.filter { $0.kind == .assigned }.count >= 2)
        #expect(secondSteps.first?.kind == .assigned)
        #expect(secondSteps.last?.kind == .revoked)
        #expect(
            firstSteps.allSatisfy { $0.commitError == nil },
            "\(firstSteps.compactMap(\.commitError))")
        #expect(secondSteps.allSatisfy { $0.commitError == nil })
    }

    /// Messages keep flowing while the second member joins and leaves: nothing is lost (the
    /// messages a rebalance cuts out of a batch come again), whatever the protocol.
    @Test(arguments: ["range", "cooperative-sticky"])
    func nothingIsLostWhileMessagesFlowThroughRebalances(strategy: String) async throws {
        let broker = try EmbeddedBroker()
        let topic = TestEnvironment.uniqueName("flowing")
        let group = TestEnvironment.uniqueName("group")
        try broker.createTopic(topic, partitions: 6)
        let record = Shared(Record())
        let stopProducer = Shared(false)
        let stopFirst = Shared(false)
        let stopSecond = Shared(false)
        let producer = TestThread("producer") { () -> Int in
            let producer = try KafkaProducer(configuration: clientConfiguration(broker))
            var sent = 0
            while !stopProducer.value {
                for _ in 0..<50 {
                    try producer.send(topic: topic, key: nil, value: Array("m\(sent)".utf8))
                    sent += 1
                }
                // Serving reports paces the stream at a few thousand messages a second.
                try producer.poll(timeout: .milliseconds(10))
            }
            try producer.flush(timeout: .seconds(20))
            return producer.deliveredCount
        }
        let first = TestThread("first") {
            try Self.member(
                "first", broker: broker, group: group, topic: topic, strategy: strategy,
                record: record, stop: stopFirst)
        }
        #expect(waitUntil(timeout: .seconds(30)) { record.value.total >= 1000 })
        let second = TestThread("second") {
            try Self.member(
                "second", broker: broker, group: group, topic: topic, strategy: strategy,
                record: record, stop: stopSecond)
        }
        #expect(waitUntil(timeout: .seconds(30)) { record.value.processedBy["second"] ?? 0 > 200 })
        let firstSteps = record.value.rebalances["first"]?.count ?? 0
        stopSecond.withLock { $0 = true }
        try second.join()
        #expect(
            waitUntil(timeout: .seconds(30)) {
                (record.value.rebalances["first"] ?? []).dropFirst(firstSteps).contains {
                    $0.kind == .assigned && !$0.partitions.isEmpty
                }
            })
        stopProducer.withLock { $0 = true }
        let produced = try producer.join()
        let distinct = { record.value.processed.values.reduce(0) { $0 + $1.count } }
        #expect(waitUntil(timeout: .seconds(30)) { distinct() >= produced })
        stopFirst.withLock { $0 = true }
        try first.join()
        #expect(distinct() == produced)
        #expect(record.value.strayPartitions == 0)
        #expect(record.value.rebalances["second"]?.contains { $0.kind == .revoked } == true)
    }
}

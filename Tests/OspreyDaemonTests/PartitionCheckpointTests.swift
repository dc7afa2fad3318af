import Foundation
import OspreyCore
import OspreyFeatures
import OspreyOnline
import OspreyTestSupport
import Testing

@testable import OspreyDaemon

/// The partition checkpoint with its label join store: the store's index in the checkpoint
/// and its entries in the partition's join log (format 3), and the formats before it.
@Suite struct PartitionCheckpointTests {
    static func entry(_ key: UInt64, width: Int = 3) -> LabelJoinStore.Entry {
        LabelJoinStore.Entry(
            eventKey: key, userKey: 9, timeMs: Int64(key) * 1000,
            category: key == 2 ? "books" : nil,
            vector: (0..<width).map { Float(key) + Float($0) / 4 },
            outputs: [0.25, Float(key) / 10])
    }

    /// A checkpoint directory in a fresh folder and a partition state to save in it.
    static func setUp(maxEntries: Int = 10) throws -> (CheckpointDirectory, PartitionState) {
        let folder = try TestEnvironment.temporaryDirectory("osprey-partition").path
        let directory = CheckpointDirectory(
            stateDirectory: folder, topic: "events", configuration: FeatureConfiguration(),
            logger: Logger(label: "test"))
        try directory.prepare()
        let state = PartitionState(
            partition: 3, store: try FeatureStore(configuration: FeatureConfiguration()),
            joinStore: LabelJoinStore(
                vectorWidth: 3, outputWidth: 2, maxEntries: maxEntries, ttlMs: 1_000_000_000),
            selfLabeller: SelfLabeller(horizonMs: 1000, purchase: false, interest: false),
            nextEventOffset: 120,
            nextLabelOffset: 7, outputFrom: 0, metrics: DaemonMetrics())
        return (directory, state)
    }

    static func size(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? -1
    }

    @Test func theJoinStoreComesBackWithItsVectorsScoresAndLabels() throws {
        let (directory, state) = try Self.setUp()
        for key in UInt64(1)...4 { state.joinStore.keep(Self.entry(key)) }
        _ = state.joinStore.join(2, heads: 1)
        _ = try directory.save(state, modelVersion: "2")
        let (checkpoint, refused) = try #require(try directory.load(3))
        #expect(!refused && checkpoint.nextOffset == 120 && checkpoint.nextLabelOffset == 7)
        var restored = try #require(checkpoint.joinStore)
        #expect(restored.count == 4 && restored.counts == state.joinStore.counts)
        #expect(restored.entry(3) == state.joinStore.entry(3))
        #expect(restored.entry(2)?.category == "books")
        // The label already joined is a duplicate; another head's label still joins.
        #expect(restored.join(2, heads: 1) == .duplicate)
        guard case .joined(let entry) = restored.join(4, heads: 1) else {
            Issue.record("the label did not join")
            return
        }
        #expect(entry.vector == [4, 4.25, 4.5] && entry.outputs == [0.25, 0.4])
    }

    /// A second checkpoint appends only the entries kept since the first to the join log,
    /// and the checkpoint file itself holds no vectors.
    @Test func aCheckpointAppendsOnlyTheNewEntries() throws {
        let (directory, state) = try Self.setUp(maxEntries: 1000)
        for key in UInt64(1)...100 { state.joinStore.keep(Self.entry(key)) }
        _ = try directory.save(state, modelVersion: "2")
        let log = directory.joinLog(for: 3)
        let first = Self.size(log.path(1))
        let record = state.joinStore.recordBytes
        #expect(first >= 100 * record)
        for key in UInt64(101)...110 { state.joinStore.keep(Self.entry(key)) }
        _ = state.joinStore.join(105, heads: 2)
        _ = try directory.save(state, modelVersion: "2")
        let grown = Self.size(log.path(1)) - first
        #expect(grown >= 10 * record && grown < 11 * record + 64)
        #expect(Self.size(directory.file(for: 3).currentPath) < 100 * record)
        let restored = try #require(try directory.load(3)?.0.joinStore)
        #expect(restored.count == 110)
        for key in UInt64(1)...110 { #expect(restored.entry(key) == state.joinStore.entry(key)) }
        #expect(restored.entry(105)?.labelled == 2)
    }

    /// Once the entries that left outweigh the live ones, a new generation holds the live ones
    /// alone; the generation before is removed when no checkpoint names it any more.
    @Test func aNewGenerationReplacesTheLogOfEntriesThatLeft() throws {
        let (directory, state) = try Self.setUp(maxEntries: 50)
        let log = directory.joinLog(for: 3)
        var key: UInt64 = 0
        var generations: [UInt64] = []
        for _ in 0..<5 {
            for _ in 0..<3000 {
                key += 1
                state.joinStore.keep(Self.entry(key))
            }
            _ = try directory.save(state, modelVersion: "2")
            generations.append(state.joinLog.generation)
        }
        // 3000 records of entries that left are not enough for a new generation, 6000 are.
        #expect(generations == [1, 1, 2, 2, 3])
        #expect(Self.size(log.path(1)) == -1 && Self.size(log.path(2)) > 0)
        #expect(Self.size(log.path(3)) < 60 * state.joinStore.recordBytes)
        let restored = try #require(try directory.load(3)?.0.joinStore)
        #expect(restored.count == 50 && restored.entry(key) == state.joinStore.entry(key))
        #expect(restored.entry(key - 50) == nil)
    }

    /// Bytes appended after the last checkpoint (a crash before it was written) are ignored,
    /// and the next append writes over them.
    @Test func bytesAfterTheCoveredLengthAreIgnored() throws {
        let (directory, state) = try Self.setUp(maxEntries: 100)
        for key in UInt64(1)...5 { state.joinStore.keep(Self.entry(key)) }
        _ = try directory.save(state, modelVersion: "2")
        let path = directory.joinLog(for: 3).path(1)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data(repeating: 0xAB, count: 333))
        handle.closeFile()
        #expect(try directory.load(3)?.0.joinStore?.count == 5)
        state.joinStore.keep(Self.entry(6))
        _ = try directory.save(state, modelVersion: "2")
        let restored = try #require(try directory.load(3)?.0.joinStore)
        #expect(restored.count == 6 && restored.entry(6) == state.joinStore.entry(6))
    }

    /// A damaged chunk that only the newest checkpoint covers: that one is refused and the
    /// previous one, which covers less of the log, is used.
    @Test func aDamagedJoinLogFallsBackToThePreviousCheckpoint() throws {
        let (directory, state) = try Self.setUp(maxEntries: 100)
        for key in UInt64(1)...5 { state.joinStore.keep(Self.entry(key)) }
        _ = try directory.save(state, modelVersion: "2")
        let path = directory.joinLog(for: 3).path(1)
        let covered = Self.size(path)
        for key in UInt64(6)...8 { state.joinStore.keep(Self.entry(key)) }
        _ = try directory.save(state, modelVersion: "2")
        var bytes = try #require(FileManager.default.contents(atPath: path))
        bytes[covered + 20] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: path))
        let (checkpoint, refused) = try #require(try directory.load(3))
        #expect(refused)
        #expect(checkpoint.joinStore?.count == 5)
    }

    /// A checkpoint written before the label join (format 1) loads, without one.
    @Test func aFormatOneCheckpointLoadsWithoutAJoinStore() throws {
        var bytes = try PartitionCheckpoint(
            topic: "events", partition: 3, nextOffset: 120, nextLabelOffset: 7,
            modelVersion: "2", store: try FeatureStore(configuration: FeatureConfiguration())
        ).encoded()
        // Format 3 puts the join index (a u64 length, 0 here) and the log position (32 bytes)
        // after the topic: "OSPRPART" (8), format (4), partition (4), two offsets (16),
        // version (2 + 1), topic (2 + 6).
        let at = 8 + 4 + 4 + 16 + 3 + 8
        #expect(bytes[at..<(at + 40)].allSatisfy { $0 == 0 })
        bytes.removeSubrange(at..<(at + 40))
        bytes[8] = 1
        let decoded = try PartitionCheckpoint.decode(
            bytes, path: "p", configuration: FeatureConfiguration())
        #expect(decoded.joinStore == nil && decoded.joinIndex == nil && decoded.nextOffset == 120)
    }

    /// A checkpoint of format 2 (the whole join store inline) still loads with its store.
    @Test func aFormatTwoCheckpointLoadsItsInlineJoinStore() throws {
        var join = LabelJoinStore(vectorWidth: 3, outputWidth: 2, maxEntries: 10, ttlMs: 60_000)
        for key in UInt64(1)...3 { join.keep(Self.entry(key)) }
        var bytes = try PartitionCheckpoint(
            topic: "events", partition: 3, nextOffset: 120, nextLabelOffset: 7,
            modelVersion: "2", store: try FeatureStore(configuration: FeatureConfiguration())
        ).encoded()
        let at = 8 + 4 + 4 + 16 + 3 + 8
        let inline = join.serialised()
        var section: [UInt8] = []
        withUnsafeBytes(of: UInt64(inline.count).littleEndian) { section += $0 }
        bytes.replaceSubrange(at..<(at + 40), with: section + inline)
        bytes[8] = 2
        let decoded = try PartitionCheckpoint.decode(
            bytes, path: "p", configuration: FeatureConfiguration())
        #expect(decoded.joinStore?.count == 3 && decoded.joinStore?.entry(2) == join.entry(2))
    }

    @Test func aDamagedJoinIndexIsRefusedByName() throws {
        let (directory, state) = try Self.setUp()
        state.joinStore.keep(Self.entry(1))
        _ = try directory.save(state, modelVersion: "2")
        // Both files name the same damaged index once the second save copies it.
        let file = directory.file(for: 3)
        var payload = try file.load(file.currentPath)
        let at = 8 + 4 + 4 + 16 + 3 + 8 + 8
        #expect(Array(payload[at..<(at + 8)]) == Array("OSPJIDX1".utf8))
        payload[at] ^= 0xFF
        try file.write(payload)
        try file.write(payload)
        #expect {
            _ = try directory.load(3)
        } throws: { error in
            "\(error)".contains("join index")
        }
    }
}

/// The checkpoint writer thread: a job encoded at one instant lands as it was, however the
/// state moves on while it is written; a job that cannot be written says how far it got.
@Suite struct CheckpointWriterTests {
    @Test func aJobWritesTheStateAsItWasWhenEncoded() throws {
        let (directory, state) = try PartitionCheckpointTests.setUp()
        for key in UInt64(1)...3 { state.joinStore.keep(PartitionCheckpointTests.entry(key)) }
        let writer = CheckpointWriter()
        writer.start()
        defer { writer.stop() }
        var job = CheckpointJob(started: .now)
        job.partitions = [try directory.prepare(state, modelVersion: "2")]
        #expect(state.joinLog == JoinLogPosition())  // moved on only once written
        writer.submit(job)
        #expect(writer.isBusy)
        // The pipeline goes on meanwhile.
        state.nextEventOffset = 500
        state.joinStore.keep(PartitionCheckpointTests.entry(4))
        let outcome = try #require(writer.takeOutcome(wait: true))
        #expect(outcome.error == nil && outcome.partitionsWritten == 1)
        #expect(!writer.isBusy && writer.takeOutcome(wait: true) == nil)
        let (checkpoint, _) = try #require(try directory.load(3))
        #expect(checkpoint.nextOffset == 120)
        let restored = try #require(checkpoint.joinStore)
        #expect(restored.count == 3 && restored.entry(4) == nil)
        #expect(checkpoint.joinLog == outcome.job.partitions[0].position)
    }

    @Test func aJobThatCannotBeWrittenSaysHowFarItGot() throws {
        let (directory, state) = try PartitionCheckpointTests.setUp()
        let writer = CheckpointWriter()
        writer.start()
        defer { writer.stop() }
        var job = CheckpointJob(started: .now)
        job.partitions = [try directory.prepare(state, modelVersion: "2")]
        // A second partition whose directory does not exist.
        let elsewhere = CheckpointDirectory(
            stateDirectory: directory.directory + "/missing", topic: "events",
            configuration: FeatureConfiguration(), logger: Logger(label: "test"))
        job.partitions.append(try elsewhere.prepare(state, modelVersion: "2"))
        writer.submit(job)
        let outcome = try #require(writer.takeOutcome(wait: true))
        #expect(outcome.partitionsWritten == 1)
        guard case .io(_, let operation, _) = outcome.error else {
            Issue.record("expected an I/O error, got \(String(describing: outcome.error))")
            return
        }
        #expect(operation == "open")
        // The writer takes the next job after a failure.
        var again = CheckpointJob(started: .now)
        again.partitions = [try directory.prepare(state, modelVersion: "3")]
        writer.submit(again)
        #expect(try #require(writer.takeOutcome(wait: true)).error == nil)
    }
}

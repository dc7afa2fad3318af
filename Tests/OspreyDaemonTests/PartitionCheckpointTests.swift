import OspreyDaemon
import OspreyFeatures
import OspreyOnline
import Testing

/// The partition checkpoint's payload with the label join store (format 2), and the format
/// before it.
@Suite struct PartitionCheckpointTests {
    static func checkpoint(joinStore: LabelJoinStore?) throws -> PartitionCheckpoint {
        PartitionCheckpoint(
            topic: "events", partition: 3, nextOffset: 120, nextLabelOffset: 7,
            modelVersion: "2", store: try FeatureStore(configuration: FeatureConfiguration()),
            joinStore: joinStore)
    }

    @Test func theJoinStoreComesBackWithItsVectorsScoresAndLabels() throws {
        var join = LabelJoinStore(vectorWidth: 3, outputWidth: 2, maxEntries: 10, ttlMs: 60_000)
        for key in UInt64(1)...4 {
            join.keep(
                LabelJoinStore.Entry(
                    eventKey: key, userKey: 9, timeMs: Int64(key) * 1000,
                    category: key == 2 ? "books" : nil, vector: [Float(key), 0.5, -1],
                    outputs: [0.25, Float(key) / 10]))
        }
        _ = join.join(2, heads: 1)
        let bytes = try Self.checkpoint(joinStore: join).encoded()
        let decoded = try PartitionCheckpoint.decode(
            bytes, path: "p", configuration: FeatureConfiguration())
        #expect(decoded.nextOffset == 120 && decoded.nextLabelOffset == 7)
        var restored = try #require(decoded.joinStore)
        #expect(restored.count == 4)
        #expect(restored.entry(3) == join.entry(3))
        #expect(restored.entry(2)?.category == "books")
        // The label already joined is a duplicate; another head's label still joins.
        #expect(restored.join(2, heads: 1) == .duplicate)
        guard case .joined(let entry) = restored.join(4, heads: 1) else {
            Issue.record("the label did not join")
            return
        }
        #expect(entry.vector == [4, 0.5, -1] && entry.outputs == [0.25, 0.4])
    }

    /// A checkpoint written before the join store (format 1) loads, without one.
    @Test func aFormatOneCheckpointLoadsWithoutAJoinStore() throws {
        var bytes = try Self.checkpoint(joinStore: nil).encoded()
        // Format 2 puts a u64 length (0 here) after the topic: "OSPRPART" (8), format (4),
        // partition (4), two offsets (16), version (2 + 1), topic (2 + 6).
        let lengthAt = 8 + 4 + 4 + 16 + 3 + 8
        #expect(bytes[lengthAt..<(lengthAt + 8)].allSatisfy { $0 == 0 })
        bytes.removeSubrange(lengthAt..<(lengthAt + 8))
        bytes[8] = 1
        let decoded = try PartitionCheckpoint.decode(
            bytes, path: "p", configuration: FeatureConfiguration())
        #expect(decoded.joinStore == nil && decoded.nextOffset == 120)
    }

    @Test func aDamagedJoinStoreIsRefusedByName() throws {
        let join = LabelJoinStore(vectorWidth: 1, outputWidth: 1, maxEntries: 2, ttlMs: 1)
        var bytes = try Self.checkpoint(joinStore: join).encoded()
        let magicAt = 8 + 4 + 4 + 16 + 3 + 8 + 8
        #expect(Array(bytes[magicAt..<(magicAt + 8)]) == Array("OSPJOIN1".utf8))
        bytes[magicAt] ^= 0xff
        #expect {
            _ = try PartitionCheckpoint.decode(
                bytes, path: "p", configuration: FeatureConfiguration())
        } throws: { error in
            "\(error)".contains("join store")
        }
    }
}

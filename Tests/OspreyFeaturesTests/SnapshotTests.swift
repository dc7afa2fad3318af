import Foundation
import OspreyFeatures
import OspreyTestSupport
import Testing

/// Snapshot and restore: a store restored mid-stream gives exactly the vectors of one that
/// never stopped, and damaged snapshots are refused whole.
@Suite(.timeLimit(.minutes(2))) struct SnapshotTests {
    /// Splits a stream at an event, not inside the labels that follow it.
    private func halves(_ stream: [GeneratedEvent], at fraction: Double) -> (
        [GeneratedEvent], [GeneratedEvent]
    ) {
        let cut = Int(Double(stream.count) * fraction)
        return (Array(stream[..<cut]), Array(stream[cut...]))
    }

    @Test(arguments: [1, 2, 3])
    func restoredStoreContinuesExactlyLikeAnUninterruptedOne(seed: Int) throws {
        let stream = randomStream(seed: UInt64(seed), count: 3000)
        let (first, second) = halves(stream, at: 0.6)

        let uninterrupted = try FeatureStore(configuration: shortConfiguration)
        let expected = try vectors(stream, store: uninterrupted)

        let original = try FeatureStore(configuration: shortConfiguration)
        let before = try vectors(first, store: original)
        var snapshot = MemorySnapshot()
        try original.writeSnapshot(to: &snapshot)
        var source = MemorySnapshot(bytes: snapshot.bytes)
        let restored = try FeatureStore.restore(from: &source, configuration: shortConfiguration)
        #expect(restored.statistics == original.statistics)
        #expect(restored.watermark == original.watermark)
        let after = try vectors(second, store: restored)

        let combined = before + after
        #expect(combined.count == expected.count)
        // Bit-for-bit: NaN never appears, so == on the arrays compares every value.
        #expect(combined == expected)
        #expect(restored.statistics == uninterrupted.statistics)

        // The same state writes the same bytes, however its tables were filled: checkpoints
        // of two processes that saw the same input compare equal.
        var again = MemorySnapshot()
        try restored.writeSnapshot(to: &again)
        var direct = MemorySnapshot()
        try uninterrupted.writeSnapshot(to: &direct)
        #expect(again.bytes == direct.bytes)
    }

    @Test func snapshotStreamsToAFileAndBack() throws {
        let stream = randomStream(seed: 99, count: 2000)
        let (first, second) = halves(stream, at: 0.5)
        let directory = try TestEnvironment.temporaryDirectory("snapshot")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("store.snapshot").path

        let store = try FeatureStore(configuration: shortConfiguration)
        _ = try vectors(first, store: store)
        var file = try SnapshotFile(path: path, forWriting: true)
        try store.writeSnapshot(to: &file)
        try file.close()

        var input = try SnapshotFile(path: path, forWriting: false)
        let restored = try FeatureStore.restore(from: &input, configuration: shortConfiguration)
        #expect(try vectors(second, store: restored) == vectors(second, store: store))
    }

    @Test func corruptTruncatedAndForeignSnapshotsAreRefused() throws {
        let store = try FeatureStore(configuration: shortConfiguration)
        _ = try vectors(randomStream(seed: 5, count: 1500), store: store)
        var snapshot = MemorySnapshot()
        try store.writeSnapshot(to: &snapshot)
        let bytes = snapshot.bytes
        #expect(bytes.count > 10_000)

        func restore(
            _ candidate: [UInt8], _ configuration: FeatureConfiguration = shortConfiguration
        )
            -> SnapshotError?
        {
            var source = MemorySnapshot(bytes: candidate)
            do {
                _ = try FeatureStore.restore(from: &source, configuration: configuration)
                return nil
            } catch {
                return error
            }
        }

        #expect(restore(bytes) == nil)
        // A flipped bit anywhere: every position class (header, body, trailer).
        var random = SeededGenerator(seed: 11)
        for position in [20, 100, bytes.count / 2, bytes.count - 10, bytes.count - 1]
            + (0..<40).map({ _ in Int.random(in: 16..<bytes.count, using: &random) })
        {
            var damaged = bytes
            damaged[position] ^= 0x10
            let error = restore(damaged)
            #expect(error != nil, "a flip at \(position) was accepted")
        }
        for length in [0, 5, 8, 30, bytes.count / 3, bytes.count - 4, bytes.count - 1] {
            let error = restore(Array(bytes[..<length]))
            #expect(error != nil, "a snapshot cut to \(length) bytes was accepted")
            if length >= 20 { #expect(error == .truncated || error == .checksumMismatch) }
        }
        #expect(restore(Array("not a snapshot at all".utf8)) == .notASnapshot)
        #expect(restore(bytes + [0]) == .trailingBytes)
        var other = shortConfiguration
        other.riskDelay = .seconds(31)
        #expect(restore(bytes, other) == .configurationMismatch)
        var version = bytes
        version[8] = 9
        #expect(restore(version) == .unsupportedVersion(9))
    }
}

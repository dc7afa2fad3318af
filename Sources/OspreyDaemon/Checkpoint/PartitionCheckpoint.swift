import OspreyFeatures
import OspreyOnline

/// What a partition's checkpoint holds: where to resume reading, the model version in force,
/// the partition's whole feature store, and its label join store (the vectors of scored
/// events still waiting for their labels).
///
/// Payload (inside a ``CheckpointFile``, which adds the magic, length and CRC-32; integers
/// little-endian):
///
///     "OSPRPART" | format u32 | partition i32 | next event offset i64
///     | next label offset i64 | model version (u16 + UTF-8)
///     | topic (u16 + UTF-8) | join index (u64 length + its bytes; empty for none)
///     | join log generation u64 | covered length u64 | first sequence i64 | end sequence i64
///     | store snapshot (the rest; it has its own trailer and checksum)
///
/// Format 3 keeps the join store's entries out of the checkpoint: they are in the partition's
/// join log (``JoinLogFile``), which each checkpoint only appends to, and the checkpoint holds
/// the store's small index and how much of the log it covers. Format 2 (the whole join store
/// inline) and format 1 (before the label join; an empty join store) are still read.
public struct PartitionCheckpoint {
    static let magic = Array("OSPRPART".utf8)
    static let format: UInt32 = 3

    public let topic: String
    public let partition: Int32
    /// The offset of the first event whose effect is not in ``store``.
    public let nextOffset: Int64
    /// The same for the partition of the labels topic with this number; -1 when none was read.
    public let nextLabelOffset: Int64
    public let modelVersion: String
    public let store: FeatureStore
    /// The scored events waiting for labels, as a format 2 checkpoint held them inline, or
    /// as written: nil in a format 1 checkpoint and in a decoded format 3 one.
    public let joinStore: LabelJoinStore?
    /// Format 3: the join store's index, and the part of the join log that holds its entries
    /// (``joinLog``); nil when the checkpoint has no join store.
    public let joinIndex: [UInt8]?
    let joinLog: JoinLogPosition

    /// A checkpoint without a join store. One with a join store is written by
    /// `CheckpointDirectory`, which appends its entries to the join log first.
    public init(
        topic: String, partition: Int32, nextOffset: Int64, nextLabelOffset: Int64,
        modelVersion: String, store: FeatureStore
    ) {
        self.init(
            topic: topic, partition: partition, nextOffset: nextOffset,
            nextLabelOffset: nextLabelOffset, modelVersion: modelVersion, store: store,
            joinStore: nil, joinIndex: nil, joinLog: JoinLogPosition())
    }

    init(
        topic: String, partition: Int32, nextOffset: Int64, nextLabelOffset: Int64,
        modelVersion: String, store: FeatureStore, joinStore: LabelJoinStore?,
        joinIndex: [UInt8]?, joinLog: JoinLogPosition
    ) {
        self.joinIndex = joinIndex
        self.joinLog = joinLog
        self.topic = topic
        self.partition = partition
        self.nextOffset = nextOffset
        self.nextLabelOffset = nextLabelOffset
        self.modelVersion = modelVersion
        self.store = store
        self.joinStore = joinStore
    }

    /// The payload bytes.
    ///
    /// - Throws: ``SnapshotError`` if the store cannot be written (it never fails in memory).
    public func encoded() throws(SnapshotError) -> [UInt8] {
        var bytes = PartitionCheckpoint.magic
        appendInteger(PartitionCheckpoint.format, to: &bytes)
        appendInteger(partition, to: &bytes)
        appendInteger(nextOffset, to: &bytes)
        appendInteger(nextLabelOffset, to: &bytes)
        appendText(modelVersion, to: &bytes)
        appendText(topic, to: &bytes)
        let index = joinIndex ?? []
        appendInteger(UInt64(index.count), to: &bytes)
        bytes += index
        appendInteger(joinLog.generation, to: &bytes)
        appendInteger(joinLog.length, to: &bytes)
        appendInteger(Int64(joinLog.startSequence), to: &bytes)
        appendInteger(Int64(joinLog.endSequence), to: &bytes)
        var snapshot = MemorySnapshot(bytes: bytes)
        try store.writeSnapshot(to: &snapshot)
        return snapshot.bytes
    }

    /// Reads a payload back; the store is built with `configuration`.
    ///
    /// - Throws: ``CheckpointError/malformedPayload(path:reason:)`` naming `path` when the
    ///   payload is not a partition checkpoint of this format, or its store snapshot is refused.
    public static func decode(
        _ bytes: [UInt8], path: String, configuration: FeatureConfiguration
    ) throws(CheckpointError) -> PartitionCheckpoint {
        var reader = ByteReader(bytes: bytes)
        guard reader.take(magic.count).map(Array.init) == magic else {
            throw .malformedPayload(path: path, reason: "not a partition checkpoint")
        }
        guard let format: UInt32 = reader.integer(), (1...3).contains(format) else {
            throw .malformedPayload(path: path, reason: "unsupported partition checkpoint format")
        }
        guard let partition: Int32 = reader.integer(), let next: Int64 = reader.integer(),
            let nextLabel: Int64 = reader.integer(), let version = reader.text(),
            let topic = reader.text()
        else { throw .malformedPayload(path: path, reason: "truncated header") }
        var joinStore: LabelJoinStore?
        var joinIndex: [UInt8]?
        var joinLog = JoinLogPosition()
        if format == 3 {
            guard let length: UInt64 = reader.integer(), length <= UInt64(Int.max),
                let index = reader.take(Int(length)), let generation: UInt64 = reader.integer(),
                let covered: UInt64 = reader.integer(), let first: Int64 = reader.integer(),
                let end: Int64 = reader.integer()
            else { throw .malformedPayload(path: path, reason: "truncated join index") }
            if !index.isEmpty {
                joinIndex = Array(index)
                joinLog = JoinLogPosition(
                    generation: generation, length: covered, startSequence: Int(first),
                    endSequence: Int(end), continues: true)
            }
        }
        if format == 2 {
            guard let length: UInt64 = reader.integer(), length <= UInt64(Int.max),
                let join = reader.take(Int(length))
            else { throw .malformedPayload(path: path, reason: "truncated join store") }
            if !join.isEmpty {
                do {
                    joinStore = try LabelJoinStore(bytes: Array(join))
                } catch {
                    throw .malformedPayload(path: path, reason: "join store: \(error)")
                }
            }
        }
        var snapshot = MemorySnapshot(bytes: Array(bytes[reader.offset...]))
        do {
            let store = try FeatureStore.restore(from: &snapshot, configuration: configuration)
            return PartitionCheckpoint(
                topic: topic, partition: partition, nextOffset: next,
                nextLabelOffset: nextLabel, modelVersion: version, store: store,
                joinStore: joinStore, joinIndex: joinIndex, joinLog: joinLog)
        } catch {
            throw .malformedPayload(path: path, reason: "feature state: \(error)")
        }
    }
}

func appendInteger<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
    withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
}

func appendText(_ text: String, to bytes: inout [UInt8]) {
    let utf8 = Array(text.utf8.prefix(Int(UInt16.max)))
    appendInteger(UInt16(utf8.count), to: &bytes)
    bytes += utf8
}

/// Reads little-endian integers and length-prefixed text from a byte array.
struct ByteReader {
    let bytes: [UInt8]
    var offset = 0

    mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
        guard count >= 0, offset + count <= bytes.count else { return nil }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    mutating func integer<T: FixedWidthInteger>() -> T? {
        guard let slice = take(MemoryLayout<T>.size) else { return nil }
        var value = T.zero
        for (index, byte) in slice.enumerated() { value |= T(byte) << (8 * index) }
        return value
    }

    mutating func text() -> String? {
        guard let count: UInt16 = integer(), let slice = take(Int(count)) else { return nil }
        return String(decoding: slice, as: UTF8.self)
    }
}

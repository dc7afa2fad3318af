import Foundation
import OspreyOnline

#if canImport(Glibc)
    import Glibc
#endif

/// Where a partition's join log stands after its last checkpoint: which generation's file,
/// how many of its bytes that checkpoint covers, and the range of sequence numbers they hold.
struct JoinLogPosition: Sendable, Equatable {
    var generation: UInt64 = 0
    var length: UInt64 = 0
    /// The sequence number of the generation's first record, and the one after its last.
    var startSequence = 0
    var endSequence = 0
    /// False when the join store in memory does not continue this generation (a fresh store,
    /// or none was saved yet): the next checkpoint starts a new generation.
    var continues = false
}

/// A partition's label join log: the records of its join store's entries, appended by each
/// checkpoint for the entries kept since the one before (see
/// ``LabelJoinStore/logRecords(from:)``), in files `TOPIC-P.join.G` beside the checkpoints.
///
/// Each append is one chunk, `length u64 | records | crc32 u32`, fsynced before the
/// checkpoint that covers it is written; a checkpoint names its generation and length, so
/// bytes after that length (from a crash before the checkpoint) are ignored and overwritten
/// by the next append. When the records of entries no longer held outweigh the live ones,
/// the next checkpoint writes a new generation with the live entries only; the file of a
/// generation that neither the newest checkpoint nor the previous one names is removed.
///
/// Thread: any; one thread at a time for one partition's log (the pipeline plans the appends,
/// the ``CheckpointWriter`` writes them).
struct JoinLogFile {
    let directory: String
    let topic: String
    let partition: Int32

    func path(_ generation: UInt64) -> String {
        "\(directory)/\(topic)-\(partition).join.\(generation)"
    }

    /// Appends the records kept since `position` (or starts a new generation when due) and
    /// returns the position a checkpoint written next covers.
    ///
    /// - Throws: ``CheckpointError/io(path:operation:errno:)`` when the file cannot be written.
    func save(_ store: LabelJoinStore, after position: JoinLogPosition)
        throws(CheckpointError) -> JoinLogPosition
    {
        let (append, next) = plan(store, after: position)
        try append?.write()
        return next
    }

    /// What ``save(_:after:)`` writes, without writing it: the chunk to append (nil when no
    /// record is new) and the position it leads to. The chunk is a copy, so the write can
    /// happen on another thread while the store moves on.
    func plan(_ store: LabelJoinStore, after position: JoinLogPosition)
        -> (JoinLogAppend?, JoinLogPosition)
    {
        let dead = store.firstSequence - position.startSequence
        let live = store.endSequence - store.firstSequence
        let fresh =
            !position.continues || store.firstSequence < position.startSequence
            || store.endSequence < position.endSequence || (dead > 4096 && dead > live)
        if fresh {
            let generation = position.generation + 1
            let chunk = Self.chunk(store.logRecords(from: store.firstSequence))
            let append = JoinLogAppend(
                directory: directory, path: path(generation), offset: 0, truncate: true,
                chunk: chunk)
            let next = JoinLogPosition(
                generation: generation, length: UInt64(chunk.count),
                startSequence: store.firstSequence, endSequence: store.endSequence,
                continues: true)
            return (append, next)
        }
        var next = position
        next.endSequence = store.endSequence
        guard store.endSequence > position.endSequence else { return (nil, next) }
        let chunk = Self.chunk(store.logRecords(from: position.endSequence))
        let append = JoinLogAppend(
            directory: directory, path: path(position.generation), offset: position.length,
            truncate: false, chunk: chunk)
        next.length += UInt64(chunk.count)
        return (append, next)
    }

    /// The records of the first `length` bytes of generation `generation`.
    ///
    /// - Throws: ``CheckpointError`` when the file is missing, shorter than `length`, or a
    ///   chunk fails its checksum.
    func records(generation: UInt64, length: UInt64) throws(CheckpointError) -> [UInt8] {
        let path = path(generation)
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        defer { close(descriptor) }
        guard length <= UInt64(Int.max / 2) else { throw .truncated(path: path) }
        var bytes = [UInt8](repeating: 0, count: Int(length))
        var offset = 0
        while offset < bytes.count {
            let read = bytes.withUnsafeMutableBytes { buffer in
                Glibc.read(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if read < 0, errno == EINTR { continue }
            guard read > 0 else {
                throw read == 0
                    ? .truncated(path: path) : .io(path: path, operation: "read", errno: errno)
            }
            offset += read
        }
        var records: [UInt8] = []
        records.reserveCapacity(bytes.count)
        var at = 0
        while at < bytes.count {
            guard bytes.count - at >= 12 else { throw .truncated(path: path) }
            let size = Int(truncatingIfNeeded: readUInt64(bytes, at: at))
            guard size >= 0, size <= bytes.count - at - 12 else { throw .truncated(path: path) }
            let body = Array(bytes[(at + 8)..<(at + 8 + size)])
            guard readUInt32(bytes, at: at + 8 + size) == CheckpointFile.checksum(body) else {
                throw .checksumMismatch(path: path)
            }
            records += body
            at += 12 + size
        }
        return records
    }

    /// Removes the files of every generation but those in `kept`.
    func removeGenerations(keeping kept: Set<UInt64>) {
        let prefix = "\(topic)-\(partition).join."
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
            return
        }
        for name in names where name.hasPrefix(prefix) {
            guard let number = UInt64(name.dropFirst(prefix.count)), !kept.contains(number)
            else { continue }
            unlink(directory + "/" + name)
        }
    }

    private static func chunk(_ records: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(records.count + 12)
        appendInteger(UInt64(records.count), to: &bytes)
        bytes += records
        appendInteger(CheckpointFile.checksum(records), to: &bytes)
        return bytes
    }
}

/// One chunk for a join log, planned by ``JoinLogFile/plan(_:after:)``: where it goes and its
/// bytes.
///
/// Thread: any (a value); two appends to the same file must not run at once.
struct JoinLogAppend: Sendable {
    let directory: String
    let path: String
    let offset: UInt64
    /// Whether the chunk starts a new generation's file.
    let truncate: Bool
    let chunk: [UInt8]

    /// Writes the chunk at its offset and fsyncs it (and the directory, for a new file).
    ///
    /// - Throws: ``CheckpointError/io(path:operation:errno:)`` when the file cannot be written.
    func write() throws(CheckpointError) {
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : 0)
        let descriptor = open(path, flags, 0o600)
        guard descriptor >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        defer { close(descriptor) }
        // Bytes past the covered length came after the last checkpoint: drop them.
        guard ftruncate(descriptor, off_t(offset)) == 0 else {
            throw .io(path: path, operation: "ftruncate", errno: errno)
        }
        try writeAllAndSync(chunk, descriptor: descriptor, at: off_t(offset), path: path)
        if truncate { try fsyncDirectory(directory) }
    }
}

import OspreyModel
import OspreyOnline

/// The examples online learning has gathered, kept beside the partition checkpoints in
/// `STATE/checkpoints/EVENTS.training` (a ``CheckpointFile``: written to a temporary file,
/// fsynced, renamed, checksummed, the previous one kept), so that a restart does not start
/// learning from nothing.
///
/// Payload of format 2 (integers little-endian):
///
///     "OSPRTRAN" | format u32 | vector width u32 | heads (u16 + UTF-8, comma-separated)
///     | hold-out examples | reservoir examples | recent examples
///
/// where a list of examples is a u32 count and, per example, the labels (u32 count + i32
/// each), the vector (u32 count + f32 bits each), the category (u8 presence + u16 + UTF-8),
/// the event time i64, the user key u64 and the event key u64. The hold-out list holds every
/// head's hold-out, each example labelled for its own head alone (see ``Holdout``).
///
/// Format 1 (before the hold-out was kept per head) has no event keys, and its hold-out was
/// the newest examples of any head, split by arrival. It is still read: its reservoir and
/// recent examples come back as they were, its hold-out examples join the replay buffer (as
/// its newest examples), and the hold-out fills again from the labels that follow; the
/// pipeline logs that once.
///
/// - Important: the replay buffer is restored by adding its reservoir and then its recent
///   examples to an empty buffer: both parts come back as they were, but the per-head rings of
///   positives hold only the positives among them, and the reservoir's sampling continues as
///   if it had just been filled. The prequential windows are not kept: after a restart they
///   fill again from the labels that follow.
///
/// Thread: the pipeline thread; a ``Snapshot`` is encoded on any.
struct TrainingStateFile {
    static let magic = Array("OSPRTRAN".utf8)
    /// The format written; ``restore(into:)`` also reads format 1.
    static let format: UInt32 = 2
    let file: CheckpointFile

    /// What a restore brought back.
    struct Restored: Equatable {
        /// The format of the file read.
        let format: UInt32
        /// Examples read, hold-out included.
        let examples: Int
        /// Examples now in the hold-out.
        let heldOut: Int
    }

    init(checkpointDirectory: String, topic: String) {
        file = CheckpointFile(directory: checkpointDirectory, name: topic + ".training")
    }

    /// Writes `learning`'s examples; returns the bytes written.
    ///
    /// - Throws: ``CheckpointError`` when the file cannot be written; the previous one stays.
    func save(_ learning: DaemonLearning) throws(CheckpointError) -> Int {
        let bytes = encode(learning)
        try file.write(bytes)
        return bytes.count
    }

    /// The payload ``save(_:)`` writes.
    func encode(_ learning: DaemonLearning) -> [UInt8] { snapshot(learning).encode() }

    /// What the file will hold, taken from `learning` at this instant: the examples are values
    /// whose vectors share their storage, so this costs a reference per example, and the
    /// encoding (tens of milliseconds for a full buffer) can run on the checkpoint writer's
    /// thread while the pipeline goes on.
    func snapshot(_ learning: DaemonLearning) -> Snapshot {
        let buffer = learning.buffer
        let unbiased = buffer.unbiasedExamples
        let recentCount = min(buffer.added, buffer.recentCapacity)
        return Snapshot(
            width: learning.vectorWidth,
            heads: learning.targets.heads.map(\.name).joined(separator: ","),
            holdout: learning.holdout.allExamples, reservoir: Array(unbiased[recentCount...]),
            recent: Array(unbiased[..<recentCount]))
    }

    /// The training state at one instant, encoded later (see ``snapshot(_:)``).
    struct Snapshot: Sendable {
        let width: Int
        let heads: String
        let holdout: [TrainingExample]
        let reservoir: [TrainingExample]
        let recent: [TrainingExample]

        /// The payload, in the format the type's discussion describes.
        func encode() -> [UInt8] {
            var bytes = TrainingStateFile.magic
            appendInteger(TrainingStateFile.format, to: &bytes)
            appendInteger(UInt32(width), to: &bytes)
            appendText(heads, to: &bytes)
            TrainingStateFile.appendExamples(holdout, to: &bytes)
            TrainingStateFile.appendExamples(reservoir, to: &bytes)
            TrainingStateFile.appendExamples(recent, to: &bytes)
            return bytes
        }
    }

    /// Restores the examples into `learning`; returns what came back, or nil when no file
    /// exists.
    ///
    /// - Throws: ``CheckpointError`` when files exist but none is valid (damaged, truncated,
    ///   of an unknown format), or the saved heads or width differ from the serving model's
    ///   (the examples cannot train it then). Nothing is restored then.
    func restore(into learning: DaemonLearning) throws(CheckpointError) -> Restored? {
        guard let loaded = try file.read() else { return nil }
        let path = loaded.path
        var reader = ByteReader(bytes: loaded.payload)
        guard reader.take(TrainingStateFile.magic.count).map(Array.init) == TrainingStateFile.magic,
            let format: UInt32 = reader.integer(), format == 1 || format == 2
        else {
            throw .malformedPayload(path: path, reason: "not a training state of format 1 or 2")
        }
        guard let width: UInt32 = reader.integer(), let heads = reader.text() else {
            throw .malformedPayload(path: path, reason: "truncated header")
        }
        guard Int(width) == learning.vectorWidth,
            heads == learning.targets.heads.map(\.name).joined(separator: ",")
        else {
            throw .malformedPayload(
                path: path,
                reason: "saved for \(width) features and heads \(heads), not the serving model's")
        }
        let keyed = format >= 2
        guard let saved = examples(&reader, keyed: keyed),
            let reservoir = examples(&reader, keyed: keyed),
            let recent = examples(&reader, keyed: keyed), reader.offset == loaded.payload.count
        else { throw .malformedPayload(path: path, reason: "truncated or inconsistent examples") }
        let headSpecs = learning.targets.heads
        let vectorWidth = learning.vectorWidth
        let fits = { (example: TrainingExample) -> Bool in
            example.labels.count == headSpecs.count && example.vector.count == vectorWidth
        }
        guard saved.allSatisfy(fits), reservoir.allSatisfy(fits), recent.allSatisfy(fits) else {
            throw .malformedPayload(
                path: path, reason: "examples without a label per head or of another width")
        }
        var buffer = DaemonLearning.emptyBuffer(heads: headSpecs, settings: learning.settings)
        for example in reservoir + recent { buffer.add(example) }
        var holdout = DaemonLearning.emptyHoldout(heads: headSpecs, settings: learning.settings)
        if keyed {
            // Offered again: the same split, within the configured bounds.
            for example in saved {
                for leaving in holdout.add(example) { buffer.add(leaving) }
            }
        } else {
            for example in saved { buffer.add(example) }
        }
        learning.restore(buffer: buffer, holdout: holdout)
        return Restored(
            format: format, examples: saved.count + reservoir.count + recent.count,
            heldOut: holdout.count)
    }

    private static func appendExamples(_ examples: [TrainingExample], to bytes: inout [UInt8]) {
        appendInteger(UInt32(examples.count), to: &bytes)
        if let first = examples.first {
            let each = 4 * (first.labels.count + first.vector.count) + 40
            bytes.reserveCapacity(bytes.count + examples.count * each)
        }
        for example in examples {
            appendInteger(UInt32(example.labels.count), to: &bytes)
            appendLittleEndian(example.labels, to: &bytes)
            appendInteger(UInt32(example.vector.count), to: &bytes)
            appendLittleEndian(example.vector, to: &bytes)
            appendInteger(UInt8(example.category == nil ? 0 : 1), to: &bytes)
            if let category = example.category { appendText(category, to: &bytes) }
            appendInteger(example.timeMs, to: &bytes)
            appendInteger(example.userKey, to: &bytes)
            appendInteger(example.eventKey, to: &bytes)
        }
    }

    private func examples(_ reader: inout ByteReader, keyed: Bool) -> [TrainingExample]? {
        guard let count: UInt32 = reader.integer() else { return nil }
        var result: [TrainingExample] = []
        for _ in 0..<count {
            guard let labelCount: UInt32 = reader.integer(), labelCount < 1024 else { return nil }
            var labels: [Int32] = []
            for _ in 0..<labelCount {
                guard let label: Int32 = reader.integer() else { return nil }
                labels.append(label)
            }
            guard let width: UInt32 = reader.integer(), width < 1 << 20 else { return nil }
            var vector: [Float] = []
            vector.reserveCapacity(Int(width))
            for _ in 0..<width {
                guard let bits: UInt32 = reader.integer() else { return nil }
                vector.append(Float(bitPattern: bits))
            }
            guard let present: UInt8 = reader.integer(), present <= 1 else { return nil }
            var category: String?
            if present == 1 {
                guard let text = reader.text() else { return nil }
                category = text
            }
            guard let time: Int64 = reader.integer(), let user: UInt64 = reader.integer() else {
                return nil
            }
            var event: UInt64 = 0
            if keyed {
                guard let key: UInt64 = reader.integer() else { return nil }
                event = key
            }
            result.append(
                TrainingExample(
                    vector: vector, category: category, labels: labels, timeMs: time,
                    userKey: user, eventKey: event))
        }
        return result
    }
}

/// Appends each value's little-endian bytes: on a little-endian machine the array's memory as
/// it is, in one copy (the examples' vectors are most of a training state's bytes).
private func appendLittleEndian(_ values: [Int32], to bytes: inout [UInt8]) {
    #if _endian(little)
        values.withUnsafeBytes { bytes.append(contentsOf: $0) }
    #else
        for value in values { appendInteger(value, to: &bytes) }
    #endif
}

/// Appends each value's bit pattern, little-endian, as ``appendLittleEndian(_:to:)`` does.
private func appendLittleEndian(_ values: [Float], to bytes: inout [UInt8]) {
    #if _endian(little)
        values.withUnsafeBytes { bytes.append(contentsOf: $0) }
    #else
        for value in values { appendInteger(value.bitPattern, to: &bytes) }
    #endif
}

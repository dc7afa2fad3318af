import CZlib

#if canImport(Glibc)
    import Glibc
#endif

/// A file that holds one checkpoint, written so that a crash at any moment leaves either the
/// old checkpoint or the new one, never a mixture.
///
/// Layout (all integers little-endian):
///
///     magic "OSPRCKPT" | format version u32 | payload length u64 | payload | crc32 u32
///
/// Writing goes to `NAME.tmp`, which is fsynced, then the current `NAME` is renamed to
/// `NAME.prev` and `NAME.tmp` to `NAME`, and the directory is fsynced. Reading tries `NAME` and
/// falls back to `NAME.prev` when the newer one is missing, truncated or fails its checksum.
///
/// Thread: any; the caller must not write the same checkpoint from two threads at once.
public struct CheckpointFile: Sendable {
    public static let formatVersion: UInt32 = 1
    static let magic: [UInt8] = Array("OSPRCKPT".utf8)

    /// The directory that holds the checkpoint.
    public let directory: String
    /// The file's name inside `directory` (`checkpoint`).
    public let name: String

    public init(directory: String, name: String = "checkpoint") {
        self.directory = directory
        self.name = name
    }

    public var currentPath: String { directory + "/" + name }
    public var previousPath: String { directory + "/" + name + ".prev" }
    var temporaryPath: String { directory + "/" + name + ".tmp" }

    /// Writes `payload` as the new current checkpoint and keeps the old one as the previous.
    ///
    /// - Throws: ``CheckpointError/io(path:operation:errno:)`` when a file operation fails; the
    ///   checkpoint on disk is then still the previous one.
    public func write(_ payload: [UInt8]) throws(CheckpointError) {
        var framed = CheckpointFile.magic
        framed.reserveCapacity(payload.count + 24)
        append(CheckpointFile.formatVersion, to: &framed)
        append(UInt64(payload.count), to: &framed)
        framed += payload
        append(CheckpointFile.checksum(payload), to: &framed)

        try writeAndSync(framed, to: temporaryPath)
        if access(currentPath, F_OK) == 0, rename(currentPath, previousPath) != 0 {
            throw .io(path: currentPath, operation: "rename", errno: errno)
        }
        guard rename(temporaryPath, currentPath) == 0 else {
            throw .io(path: temporaryPath, operation: "rename", errno: errno)
        }
        try fsyncDirectory(directory)
    }

    /// What ``read()`` found: the payload, and whether it came from the previous file because the
    /// current one was refused (with the reason).
    public struct Loaded: Sendable {
        public let payload: [UInt8]
        public let path: String
        /// Why the current file was refused, when the payload is the previous checkpoint's.
        public let refusedCurrent: CheckpointError?
    }

    /// Reads the newest valid checkpoint, or nil when there is none at all.
    ///
    /// - Throws: ``CheckpointError`` when files exist but none of them is valid, so that a
    ///   daemon never starts from half a state without saying so.
    public func read() throws(CheckpointError) -> Loaded? {
        let hasCurrent = access(currentPath, F_OK) == 0
        let hasPrevious = access(previousPath, F_OK) == 0
        guard hasCurrent || hasPrevious else { return nil }
        var refused: CheckpointError?
        if hasCurrent {
            do {
                return Loaded(
                    payload: try load(currentPath), path: currentPath,
                    refusedCurrent: nil)
            } catch {
                refused = error
            }
        }
        if hasPrevious {
            let payload = try load(previousPath)
            return Loaded(payload: payload, path: previousPath, refusedCurrent: refused)
        }
        throw refused!
    }

    /// Reads and verifies one checkpoint file.
    public func load(_ path: String) throws(CheckpointError) -> [UInt8] {
        let bytes = try readWhole(path)
        let headerSize = CheckpointFile.magic.count + 12
        guard bytes.count >= headerSize + 4 else { throw .truncated(path: path) }
        guard Array(bytes[0..<8]) == CheckpointFile.magic else { throw .notACheckpoint(path: path) }
        let version = readUInt32(bytes, at: 8)
        guard version == CheckpointFile.formatVersion else {
            throw .unsupportedVersion(path: path, version: version)
        }
        let length = readUInt64(bytes, at: 12)
        guard length <= UInt64(bytes.count - headerSize - 4) else { throw .truncated(path: path) }
        guard UInt64(bytes.count) == UInt64(headerSize) + length + 4 else {
            throw .trailingBytes(path: path)
        }
        let payload = Array(bytes[headerSize..<(headerSize + Int(length))])
        let stored = readUInt32(bytes, at: headerSize + Int(length))
        guard stored == CheckpointFile.checksum(payload) else {
            throw .checksumMismatch(path: path)
        }
        return payload
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBufferPointer { buffer in
            var crc = crc32(0, nil, 0)
            var offset = 0
            // zlib takes lengths as 32-bit numbers: feed large payloads in slices.
            while offset < buffer.count {
                let slice = min(buffer.count - offset, 1 << 30)
                crc = crc32(crc, buffer.baseAddress! + offset, uInt(slice))
                offset += slice
            }
            return UInt32(truncatingIfNeeded: crc)
        }
    }

    private func writeAndSync(_ bytes: [UInt8], to path: String) throws(CheckpointError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        defer { close(descriptor) }
        try writeAllAndSync(bytes, descriptor: descriptor, at: 0, path: path)
    }

    private func readWhole(_ path: String) throws(CheckpointError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = chunk.withUnsafeMutableBytes {
                Glibc.read(descriptor, $0.baseAddress, $0.count)
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, operation: "read", errno: errno)
            }
            if count == 0 { return bytes }
            bytes += chunk[0..<count]
        }
    }
}

private func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
    withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
}

/// Writes all of `bytes` at `offset` of the open file `descriptor` (`path` names it in errors),
/// then fsyncs it.
func writeAllAndSync(_ bytes: [UInt8], descriptor: Int32, at offset: off_t, path: String)
    throws(CheckpointError)
{
    var written = 0
    while written < bytes.count {
        let count = bytes.withUnsafeBytes { buffer in
            pwrite(
                descriptor, buffer.baseAddress! + written, buffer.count - written,
                offset + off_t(written))
        }
        if count < 0 {
            if errno == EINTR { continue }
            throw .io(path: path, operation: "write", errno: errno)
        }
        written += count
    }
    guard fsync(descriptor) == 0 else { throw .io(path: path, operation: "fsync", errno: errno) }
}

/// Fsyncs the directory at `path`, so that the names created or renamed in it last.
func fsyncDirectory(_ path: String) throws(CheckpointError) {
    let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard descriptor >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
    defer { close(descriptor) }
    guard fsync(descriptor) == 0 else { throw .io(path: path, operation: "fsync", errno: errno) }
}

func readUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
    (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
}

func readUInt64(_ bytes: [UInt8], at offset: Int) -> UInt64 {
    (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
}

/// Why a checkpoint could not be written or was refused.
public enum CheckpointError: Error, Equatable, CustomStringConvertible {
    case io(path: String, operation: String, errno: Int32)
    case truncated(path: String)
    case notACheckpoint(path: String)
    case unsupportedVersion(path: String, version: UInt32)
    case trailingBytes(path: String)
    case checksumMismatch(path: String)
    /// The payload passed its checksum but could not be decoded.
    case malformedPayload(path: String, reason: String)

    public var description: String {
        switch self {
        case .io(let path, let operation, let code):
            "checkpoint \(operation) failed for \(path): \(String(cString: strerror(code)))"
        case .truncated(let path): "checkpoint \(path) is truncated"
        case .notACheckpoint(let path): "\(path) is not an Osprey checkpoint"
        case .unsupportedVersion(let path, let version):
            "checkpoint \(path) has unsupported format version \(version)"
        case .trailingBytes(let path): "checkpoint \(path) has bytes after its checksum"
        case .checksumMismatch(let path): "checkpoint \(path) fails its checksum"
        case .malformedPayload(let path, let reason): "checkpoint \(path) is malformed: \(reason)"
        }
    }

    /// A short reason code for logs and metrics.
    public var reason: String {
        switch self {
        case .io: "io"
        case .truncated: "truncated"
        case .notACheckpoint: "not_a_checkpoint"
        case .unsupportedVersion: "unsupported_version"
        case .trailingBytes: "trailing_bytes"
        case .checksumMismatch: "checksum_mismatch"
        case .malformedPayload: "malformed_payload"
        }
    }
}

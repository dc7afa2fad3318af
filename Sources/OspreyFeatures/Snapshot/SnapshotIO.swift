import CZlib

#if canImport(Glibc)
    import Glibc
#endif

/// Why a snapshot could not be written or was refused.
public enum SnapshotError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The bytes do not start like a feature-store snapshot.
    case notASnapshot
    /// A snapshot of a format version this build does not read.
    case unsupportedVersion(UInt32)
    /// The snapshot was taken with another feature configuration (windows, delays, schema).
    case configurationMismatch
    /// The stream ended before the snapshot did.
    case truncated
    /// The bytes do not match their checksum: the snapshot is corrupt.
    case checksumMismatch
    /// The snapshot's contents contradict themselves.
    case malformed(String)
    /// Bytes follow the snapshot's end.
    case trailingBytes
    /// A file operation failed.
    case io(path: String, operation: String, errno: Int32)

    public var description: String {
        switch self {
        case .notASnapshot: return "not a feature-store snapshot"
        case .unsupportedVersion(let version):
            return "feature-store snapshot format \(version) is not supported "
                + "(an older Osprey wrote it; this one reads format \(FeatureStore.snapshotFormat))"
        case .configurationMismatch:
            return "the snapshot was taken with another feature configuration"
        case .truncated: return "the feature-store snapshot is truncated"
        case .checksumMismatch: return "the feature-store snapshot fails its checksum"
        case .malformed(let what): return "the feature-store snapshot is malformed: \(what)"
        case .trailingBytes: return "bytes follow the end of the feature-store snapshot"
        case .io(let path, let operation, let code):
            return "\(operation) \(path): \(String(cString: strerror(code)))"
        }
    }
}

/// Where a snapshot's bytes go: a file, a buffer, later a Kafka changelog.
public protocol SnapshotSink {
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws(SnapshotError)
}

/// Where a restored snapshot's bytes come from.
public protocol SnapshotSource {
    /// Fills `buffer` as far as it can; returns the bytes read, 0 only at the end.
    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(SnapshotError) -> Int
}

/// A snapshot held in memory.
public struct MemorySnapshot: SnapshotSink, SnapshotSource, Sendable {
    public var bytes: [UInt8]
    private var offset = 0

    public init(bytes: [UInt8] = []) { self.bytes = bytes }

    public mutating func write(_ chunk: UnsafeRawBufferPointer) throws(SnapshotError) {
        bytes.append(contentsOf: chunk)
    }

    public mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(SnapshotError)
        -> Int
    {
        let count = min(buffer.count, bytes.count - offset)
        guard count > 0 else { return 0 }
        bytes.withUnsafeBytes { source in
            buffer.baseAddress!.copyMemory(from: source.baseAddress! + offset, byteCount: count)
        }
        offset += count
        return count
    }
}

/// A snapshot file, written or read with plain POSIX calls.
///
/// Writing creates or truncates the file; ``close()`` fsyncs it. Atomic replacement (a
/// temporary name, then rename) is the caller's, as the daemon's checkpoint does it.
public final class SnapshotFile: SnapshotSink, SnapshotSource {
    public let path: String
    private var descriptor: Int32

    /// Opens `path` for writing (`forWriting`) or reading.
    ///
    /// - Throws: ``SnapshotError/io(path:operation:errno:)``.
    public init(path: String, forWriting: Bool) throws(SnapshotError) {
        self.path = path
        let flags = forWriting ? O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC : O_RDONLY | O_CLOEXEC
        descriptor = open(path, flags, 0o600)
        guard descriptor >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
    }

    deinit { if descriptor >= 0 { Glibc.close(descriptor) } }

    public func write(_ bytes: UnsafeRawBufferPointer) throws(SnapshotError) {
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, operation: "write", errno: errno)
            }
            offset += written
        }
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SnapshotError) -> Int {
        while true {
            let count = Glibc.read(descriptor, buffer.baseAddress, buffer.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, operation: "read", errno: errno)
            }
            return count
        }
    }

    /// Flushes the file to disk and closes it.
    public func close() throws(SnapshotError) {
        guard descriptor >= 0 else { return }
        defer {
            Glibc.close(descriptor)
            descriptor = -1
        }
        guard fsync(descriptor) == 0 else {
            throw .io(path: path, operation: "fsync", errno: errno)
        }
    }
}

/// Buffers writes to a sink and keeps the running CRC-32 and byte count.
struct SnapshotEncoder<Sink: SnapshotSink> {
    var sink: Sink
    private var buffer: [UInt8] = []
    private(set) var crc: UInt = crc32(0, nil, 0)
    private(set) var count: UInt64 = 0

    init(sink: Sink) {
        self.sink = sink
        buffer.reserveCapacity(1 << 16)
    }

    /// Every byte written so far, flushed or buffered.
    var total: UInt64 { count + UInt64(buffer.count) }

    mutating func bytes(_ raw: UnsafeRawBufferPointer) throws(SnapshotError) {
        guard raw.count > 0 else { return }
        if buffer.count + raw.count > 1 << 16 { try flush() }
        if raw.count >= 1 << 16 {
            checksum(raw)
            try sink.write(raw)
        } else {
            buffer.append(contentsOf: raw)
        }
    }

    mutating func value<T: BitwiseCopyable>(_ value: T) throws(SnapshotError) {
        if buffer.count + MemoryLayout<T>.size > 1 << 16 { try flush() }
        withUnsafeBytes(of: value) { buffer.append(contentsOf: $0) }
    }

    /// A count followed by the elements' bytes.
    mutating func array<T: BitwiseCopyable>(_ elements: ContiguousArray<T>) throws(SnapshotError) {
        try value(UInt64(elements.count))
        try typed { try elements.withUnsafeBytes { raw in try bytes(raw) } }
    }

    /// Raw bytes such as a magic number.
    mutating func literal(_ bytes: [UInt8]) throws(SnapshotError) {
        if buffer.count + bytes.count > 1 << 16 { try flush() }
        buffer += bytes
    }

    mutating func flush() throws(SnapshotError) {
        guard !buffer.isEmpty else { return }
        let pending = buffer
        buffer.removeAll(keepingCapacity: true)
        try typed {
            try pending.withUnsafeBytes { raw in
                checksum(raw)
                try sink.write(raw)
            }
        }
    }

    private mutating func checksum(_ raw: UnsafeRawBufferPointer) {
        crc = crc32(crc, raw.baseAddress!.assumingMemoryBound(to: UInt8.self), uInt(raw.count))
        count += UInt64(raw.count)
    }
}

/// Reads from a source through a buffer, keeping the running CRC-32 of what was consumed.
struct SnapshotDecoder<Source: SnapshotSource> {
    var source: Source
    private var buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    private(set) var crc: UInt = crc32(0, nil, 0)
    private(set) var count: UInt64 = 0

    init(source: Source) {
        self.source = source
        buffer = .allocate(byteCount: 1 << 16, alignment: 16)
    }

    func release() { buffer.deallocate() }

    /// Copies the next `target.count` bytes into `target`.
    mutating func bytes(into target: UnsafeMutableRawBufferPointer) throws(SnapshotError) {
        var filled = 0
        while filled < target.count {
            if start == end { try refill() }
            let take = min(end - start, target.count - filled)
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[start..<(start + take)])
            target.baseAddress!.advanced(by: filled).copyMemory(
                from: chunk.baseAddress!, byteCount: take)
            crc = crc32(crc, chunk.baseAddress!.assumingMemoryBound(to: UInt8.self), uInt(take))
            count += UInt64(take)
            start += take
            filled += take
        }
    }

    mutating func value<T: BitwiseCopyable>(_ type: T.Type) throws(SnapshotError) -> T {
        var result = unsafeBitCastZero(T.self)
        try typed {
            try withUnsafeMutableBytes(of: &result) { raw in try bytes(into: raw) }
        }
        return result
    }

    /// The next `count` raw bytes.
    mutating func literal(count: Int) throws(SnapshotError) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        try typed { try result.withUnsafeMutableBytes { raw in try bytes(into: raw) } }
        return result
    }

    /// An array written by ``SnapshotEncoder/array(_:)``, read in chunks so that a corrupt
    /// count cannot make it allocate more than the stream holds.
    mutating func array<T: BitwiseCopyable>(_ type: T.Type, limit: Int = 1 << 31)
        throws(SnapshotError) -> ContiguousArray<T>
    {
        let total = try value(UInt64.self)
        guard total <= UInt64(limit) else { throw .malformed("an array of \(total) elements") }
        var result = ContiguousArray<T>()
        var remaining = Int(total)
        let chunk = max(1, (1 << 16) / max(1, MemoryLayout<T>.stride))
        while remaining > 0 {
            let take = min(remaining, chunk)
            let old = result.count
            // Grow by what is about to be read; the elements are overwritten at once.
            result.reserveCapacity(old + take)
            for _ in 0..<take { result.append(unsafeBitCastZero(T.self)) }
            try typed {
                try result.withUnsafeMutableBytes { raw in
                    let offset = old * MemoryLayout<T>.stride
                    try bytes(into: UnsafeMutableRawBufferPointer(rebasing: raw[offset...]))
                }
            }
            remaining -= take
        }
        return result
    }

    /// True when the source has no byte left.
    mutating func atEnd() throws(SnapshotError) -> Bool {
        if start < end { return false }
        start = 0
        end = try source.read(into: buffer)
        return end == 0
    }

    private mutating func refill() throws(SnapshotError) {
        start = 0
        end = try source.read(into: buffer)
        guard end > 0 else { throw .truncated }
    }
}

/// Runs `body`, whose only errors are snapshot errors thrown through a standard library
/// closure that forgets their type, and gives them their type back.
@inline(__always)
func typed<Result>(_ body: () throws -> Result) throws(SnapshotError) -> Result {
    do {
        return try body()
    } catch let error as SnapshotError {
        throw error
    } catch {
        throw .malformed(String(describing: error))
    }
}

/// A value of `T` with every byte zero (a placeholder about to be overwritten).
@inline(__always)
func unsafeBitCastZero<T: BitwiseCopyable>(_ type: T.Type) -> T {
    withUnsafeTemporaryAllocation(of: T.self, capacity: 1) { pointer in
        UnsafeMutableRawBufferPointer(pointer).initializeMemory(as: UInt8.self, repeating: 0)
        return pointer[0]
    }
}

#if canImport(Glibc)
    import Glibc
#endif

/// A file operation that failed, with the `errno` it failed with.
public struct FileError: Error, Equatable, CustomStringConvertible {
    public let path: String
    /// The system call that failed (`open`, `write`, `fsync`, `rename`).
    public let operation: String
    public let code: Int32

    public init(path: String, operation: String, code: Int32) {
        self.path = path
        self.operation = operation
        self.code = code
    }

    public var description: String {
        "\(operation) \(path): \(String(cString: strerror(code)))"
    }
}

/// Replaces the file at `path` with `bytes` so that a reader sees the old content or the new,
/// never a mixture, and a crash leaves one of the two: the bytes go to a temporary file in the
/// same directory, which is fsynced and renamed over `path`; then the directory is fsynced so
/// that the rename itself is durable.
///
/// Thread: any; two writers of the same path must be serialised by the caller (the last
/// rename wins otherwise).
///
/// - Throws: ``FileError`` naming the call that failed; `path` is unchanged then.
public func writeFileAtomically(_ bytes: [UInt8], to path: String) throws(FileError) {
    let slash = path.lastIndex(of: "/")
    let directory = slash.map { String(path[..<$0]) } ?? "."
    let temporary = path + ".tmp-\(getpid())"
    let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
    guard descriptor >= 0 else {
        throw FileError(path: temporary, operation: "open", code: errno)
    }
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeBytes { buffer in
            write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
        }
        if written < 0 {
            if errno == EINTR { continue }
            let code = errno
            close(descriptor)
            unlink(temporary)
            throw FileError(path: temporary, operation: "write", code: code)
        }
        offset += written
    }
    if fsync(descriptor) != 0 {
        let code = errno
        close(descriptor)
        unlink(temporary)
        throw FileError(path: temporary, operation: "fsync", code: code)
    }
    close(descriptor)
    guard rename(temporary, path) == 0 else {
        let code = errno
        unlink(temporary)
        throw FileError(path: path, operation: "rename", code: code)
    }
    let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard directoryDescriptor >= 0 else {
        throw FileError(path: directory, operation: "open", code: errno)
    }
    defer { close(directoryDescriptor) }
    guard fsync(directoryDescriptor) == 0 else {
        throw FileError(path: directory, operation: "fsync", code: errno)
    }
}

/// The whole content of the file at `path`.
///
/// - Throws: ``FileError`` when it cannot be opened or read (`ENOENT` when it does not exist).
public func readWholeFile(_ path: String) throws(FileError) -> [UInt8] {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { throw FileError(path: path, operation: "open", code: errno) }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EINTR { continue }
            throw FileError(path: path, operation: "read", code: errno)
        }
        if count == 0 { return bytes }
        bytes += chunk[0..<count]
    }
}

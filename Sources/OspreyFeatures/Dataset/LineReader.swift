import CZlib

#if canImport(Glibc)
    import Glibc
#endif

/// A file that could not be read.
public struct FeatureFileError: Error, Sendable, CustomStringConvertible, Equatable {
    public let path: String
    public let message: String
    public init(path: String, _ message: String) {
        self.path = path
        self.message = message
    }
    public var description: String { "\(path): \(message)" }
}

/// Reads a JSON Lines file, plain or gzip-compressed (zlib tells them apart by the magic
/// bytes), one line at a time without copying lines out of its buffer.
///
/// Lines end at `\n`; a `\r` before it and a final line without `\n` are handled. A line
/// longer than `maxLineBytes` is handed over truncated to that length plus one byte, so that
/// the decoder refuses it as too large without the reader holding it whole.
///
/// Thread: one thread at a time.
public final class LineReader {
    public let path: String
    private let file: gzFile
    private var buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    private var finished = false
    private let maxLineBytes: Int
    /// The file's size on disk, for progress.
    public let fileBytes: Int64
    public private(set) var lineNumber = 0

    public init(path: String, maxLineBytes: Int = 65_536) throws(FeatureFileError) {
        self.path = path
        self.maxLineBytes = maxLineBytes
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw FeatureFileError(path: path, String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw FeatureFileError(path: path, "not a regular file")
        }
        fileBytes = Int64(info.st_size)
        guard let file = gzopen(path, "rb") else {
            throw FeatureFileError(path: path, String(cString: strerror(errno)))
        }
        self.file = file
        gzbuffer(file, 1 << 17)
        buffer = .allocate(byteCount: max(1 << 20, maxLineBytes * 2 + 2), alignment: 16)
    }

    deinit {
        gzclose(file)
        buffer.deallocate()
    }

    /// Compressed bytes consumed so far (uncompressed for plain files).
    public var bytesRead: Int64 { Int64(gzoffset(file)) }

    /// Calls `body` with the next line, or returns false at the end of the file.
    ///
    /// - Throws: ``FeatureFileError`` when the file is corrupt or cannot be read.
    public func next<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) throws -> Result? {
        while true {
            if let newline = findNewline() {
                var lineEnd = newline
                if lineEnd > start, buffer[lineEnd - 1] == 13 { lineEnd -= 1 }
                let line = UnsafeRawBufferPointer(rebasing: buffer[start..<lineEnd])
                start = newline + 1
                lineNumber += 1
                return try body(line)
            }
            if end - start > maxLineBytes {
                // Hand over the first maxLineBytes + 1 bytes and skip to the line's end.
                let line = UnsafeRawBufferPointer(
                    rebasing: buffer[start..<(start + maxLineBytes + 1)])
                lineNumber += 1
                let result = try body(line)
                try skipPastNewline()
                return result
            }
            if finished {
                guard end > start else { return nil }
                let line = UnsafeRawBufferPointer(rebasing: buffer[start..<end])
                start = end
                lineNumber += 1
                return try body(line)
            }
            try fill()
        }
    }

    private func findNewline() -> Int? {
        guard end > start else { return nil }
        let found = memchr(buffer.baseAddress! + start, 10, end - start)
        guard let found else { return nil }
        return buffer.baseAddress!.distance(to: UnsafeMutableRawPointer(found))
    }

    private func fill() throws(FeatureFileError) {
        if start > 0 {
            let remaining = end - start
            if remaining > 0 {
                memmove(buffer.baseAddress!, buffer.baseAddress! + start, remaining)
            }
            start = 0
            end = remaining
        }
        let room = buffer.count - end
        let read = gzread(file, buffer.baseAddress! + end, UInt32(room))
        if read < 0 {
            var code: Int32 = 0
            let message = gzerror(file, &code).map { String(cString: $0) } ?? "read error"
            throw FeatureFileError(path: path, message)
        }
        if read == 0 {
            finished = true
            if gzdirect(file) == 0 {
                var code: Int32 = 0
                _ = gzerror(file, &code)
                if code != Z_OK && code != Z_STREAM_END {
                    throw FeatureFileError(
                        path: path, "the compressed data is corrupt or truncated")
                }
            }
        }
        end += Int(read)
    }

    private func skipPastNewline() throws(FeatureFileError) {
        while true {
            if let newline = findNewline() {
                start = newline + 1
                return
            }
            start = end
            if finished { return }
            try fill()
        }
    }
}

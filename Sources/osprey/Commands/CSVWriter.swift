import OspreyFeatures

#if canImport(Glibc)
    import Glibc
#endif

/// Writes CSV rows of numbers to a file (or standard output for `-`) through a large buffer.
///
/// Whole numbers are written without a fraction; others in Swift's shortest form that reads
/// back to the same double.
final class CSVWriter {
    let path: String
    private let descriptor: Int32
    private var buffer: [UInt8] = []

    /// - Throws: ``FeatureFileError`` when the file cannot be created.
    init(path: String) throws(FeatureFileError) {
        self.path = path
        if path == "-" {
            descriptor = 1
        } else {
            descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else {
                throw FeatureFileError(path: path, String(cString: strerror(errno)))
            }
        }
        buffer.reserveCapacity(1 << 20)
    }

    func writeHeader(_ names: [String]) {
        buffer += Array(names.joined(separator: ",").utf8)
        buffer.append(10)
    }

    func writeRow(id: String, _ values: UnsafeBufferPointer<Double>) {
        appendQuoted(id)
        for value in values {
            buffer.append(44)
            if value == value.rounded(), abs(value) < 1e15 {
                buffer += Array(String(Int64(value)).utf8)
            } else {
                buffer += Array(value.description.utf8)
            }
        }
        buffer.append(10)
        if buffer.count >= 1 << 20 { try? flush() }
    }

    /// Writes what is buffered and closes the file.
    ///
    /// - Throws: ``FeatureFileError`` when a write fails (a full disk, ...).
    func close() throws(FeatureFileError) {
        try flush()
        if descriptor != 1, Glibc.close(descriptor) != 0 {
            throw FeatureFileError(path: path, String(cString: strerror(errno)))
        }
    }

    private var failure: FeatureFileError?

    private func flush() throws(FeatureFileError) {
        if let failure { throw failure }
        var offset = 0
        while offset < buffer.count {
            let written = buffer.withUnsafeBytes { bytes in
                write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                failure = FeatureFileError(path: path, String(cString: strerror(errno)))
                throw failure!
            }
            offset += written
        }
        buffer.removeAll(keepingCapacity: true)
    }

    private func appendQuoted(_ text: String) {
        let needsQuotes = text.utf8.contains { $0 == 44 || $0 == 34 || $0 == 10 || $0 == 13 }
        guard needsQuotes else {
            buffer += Array(text.utf8)
            return
        }
        buffer.append(34)
        for byte in text.utf8 {
            if byte == 34 { buffer.append(34) }
            buffer.append(byte)
        }
        buffer.append(34)
    }
}

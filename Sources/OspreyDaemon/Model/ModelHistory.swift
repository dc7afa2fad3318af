import OspreyCore

#if canImport(Glibc)
    import Glibc
#endif

/// Why the serving version changed, one line per change: `STATE/models/history.tsv`.
///
/// Each line holds tab-separated fields: the time (RFC 3339), the action (`promote` or
/// `rollback`), the version that served before (`-` when none), the version that serves
/// after, the reason given, and the metrics the new version was promoted with
/// (`head.metric=value` separated by spaces). Tabs and line breaks in a reason become spaces.
/// Lines are appended with one `write(2)` on a file opened with `O_APPEND`; a line that does
/// not parse (a crash mid-write) is skipped when reading.
///
/// Thread: any; writers are serialised by the models directory's lock (see
/// ``ModelVersions``).
public struct ModelHistory: Sendable {
    public struct Entry: Sendable, Equatable {
        public var at: String
        public var action: String
        public var from: Int?
        public var to: Int
        public var reason: String
        public var metrics: String

        public init(
            at: String, action: String, from: Int?, to: Int, reason: String, metrics: String
        ) {
            self.at = at
            self.action = action
            self.from = from
            self.to = to
            self.reason = reason
            self.metrics = metrics
        }

        var line: String {
            func clean(_ text: String) -> String {
                String(text.map { $0 == "\t" || $0 == "\n" || $0 == "\r" ? " " : $0 })
            }
            return [
                at, action, from.map(String.init) ?? "-", String(to), clean(reason),
                clean(metrics),
            ].joined(separator: "\t") + "\n"
        }

        init?(line: Substring) {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 6, let to = Int(fields[3]) else { return nil }
            self.init(
                at: String(fields[0]), action: String(fields[1]), from: Int(fields[2]), to: to,
                reason: String(fields[4]), metrics: String(fields[5]))
        }
    }

    public static let fileName = "history.tsv"
    public let path: String

    public init(directory: String) { path = directory + "/" + ModelHistory.fileName }

    /// Appends `entry` and fsyncs the file.
    ///
    /// - Throws: ``FileError`` when the file cannot be opened or written.
    public func append(_ entry: Entry) throws(FileError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard descriptor >= 0 else { throw FileError(path: path, operation: "open", code: errno) }
        defer { close(descriptor) }
        let bytes = Array(entry.line.utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            throw FileError(path: path, operation: "write", code: written < 0 ? errno : EIO)
        }
        guard fsync(descriptor) == 0 else {
            throw FileError(path: path, operation: "fsync", code: errno)
        }
    }

    /// Every entry, oldest first; empty when there is no history yet.
    public func entries() -> [Entry] {
        guard let bytes = try? readWholeFile(path) else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap {
            Entry(line: $0)
        }
    }
}

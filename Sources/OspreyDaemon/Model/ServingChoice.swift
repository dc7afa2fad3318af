import OspreyCore

/// Which model version serves, chosen explicitly: the file `STATE/models/serving`, which any
/// process may replace (`osprey model promote`, `rollback`, the trainer) and the daemon
/// follows.
///
/// The file is a few lines of text, one `key value` pair each:
///
///     version 3
///     previous 1 2
///     changed_at 2026-12-04T06:30:00.000Z
///
/// `previous` lists the versions that served before, oldest first, so that a rollback returns
/// to the last of them (at most ``maximumPrevious`` are kept). The file is always replaced
/// with ``writeFileAtomically(_:to:)`` (temporary file, fsync, rename): a reader sees the old
/// choice or the new one, never half of either.
///
/// Thread: any; a value type.
public struct ServingChoice: Sendable, Equatable {
    /// The version that serves.
    public var version: Int
    /// The versions that served before, oldest first.
    public var previous: [Int]
    /// RFC 3339 time of the change.
    public var changedAt: String

    public static let fileName = "serving"
    public static let maximumPrevious = 32

    public init(version: Int, previous: [Int], changedAt: String) {
        self.version = version
        self.previous = Array(previous.suffix(ServingChoice.maximumPrevious))
        self.changedAt = changedAt
    }

    /// The file's text.
    public func encoded() -> [UInt8] {
        var text = "version \(version)\n"
        text += "previous" + previous.map { " \($0)" }.joined() + "\n"
        text += "changed_at \(changedAt)\n"
        return Array(text.utf8)
    }

    /// Reads a choice from the file's bytes.
    ///
    /// - Throws: ``ModelVersionError/damagedChoice(path:reason:)`` when `version` is missing
    ///   or a number is not one.
    public static func decode(_ bytes: [UInt8], path: String) throws(ModelVersionError)
        -> ServingChoice
    {
        var version: Int?
        var previous: [Int] = []
        var changedAt = ""
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let words = line.split(separator: " ")
            guard let key = words.first else { continue }
            let values = words.dropFirst()
            switch key {
            case "version":
                guard values.count == 1, let number = Int(values[values.startIndex]), number > 0
                else { throw .damagedChoice(path: path, reason: "'\(line)' names no version") }
                version = number
            case "previous":
                for value in values {
                    guard let number = Int(value), number > 0 else {
                        throw .damagedChoice(path: path, reason: "'\(value)' is not a version")
                    }
                    previous.append(number)
                }
            case "changed_at": changedAt = values.joined(separator: " ")
            default: continue
            }
        }
        guard let version else {
            throw .damagedChoice(path: path, reason: "it has no 'version' line")
        }
        return ServingChoice(version: version, previous: previous, changedAt: changedAt)
    }
}

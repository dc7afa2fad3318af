/// The name of a field in a logfmt line.
///
/// Field names are constants declared as static members, so that the same fact is always
/// logged under the same key. Each module declares the keys it needs in an extension in a
/// file of its own named `LogKeys.swift`; the keys shared by everything are below.
public struct LogKey: Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    public let name: String

    public init(_ name: String) { self.name = name }
    public init(stringLiteral value: String) { self.name = value }

    public var description: String { name }

    public static let error: LogKey = "error"
    public static let reason: LogKey = "reason"
    public static let path: LogKey = "path"
    public static let durationMs: LogKey = "duration_ms"
    public static let count: LogKey = "count"
    public static let bytes: LogKey = "bytes"
    public static let topic: LogKey = "topic"
    public static let partition: LogKey = "partition"
    public static let offset: LogKey = "offset"
    public static let key: LogKey = "key"
    public static let value: LogKey = "value"
    public static let line: LogKey = "line"
    public static let version: LogKey = "version"
}

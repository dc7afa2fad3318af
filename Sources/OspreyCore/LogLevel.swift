/// How serious a log line is, from the most verbose to the most severe.
///
/// The names follow syslog's, so that librdkafka's levels (syslog numbers 0-7) map onto them
/// one to one through ``init(syslogLevel:)``.
public enum LogLevel: Int, Sendable, Comparable, CaseIterable, CustomStringConvertible {
    case trace = 0
    case debug
    case info
    case notice
    case warning
    case error
    case critical

    /// The level for a syslog severity number: 0-2 critical, 3 error, 4 warning, 5 notice,
    /// 6 info, 7 debug. Numbers outside 0-7 are treated as debug.
    public init(syslogLevel: Int) {
        switch syslogLevel {
        case 0...2: self = .critical
        case 3: self = .error
        case 4: self = .warning
        case 5: self = .notice
        case 6: self = .info
        default: self = .debug
        }
    }

    /// Parses a level name as written in configuration (`info`, `warning`, `warn`, ...).
    public init?(name: String) {
        switch name.lowercased() {
        case "trace": self = .trace
        case "debug": self = .debug
        case "info": self = .info
        case "notice": self = .notice
        case "warning", "warn": self = .warning
        case "error": self = .error
        case "critical", "crit", "fatal": self = .critical
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .trace: "trace"
        case .debug: "debug"
        case .info: "info"
        case .notice: "notice"
        case .warning: "warning"
        case .error: "error"
        case .critical: "critical"
        }
    }

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }
}

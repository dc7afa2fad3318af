/// A value in a logfmt field: text, a whole number, a real number or a truth value.
public enum LogValue: Sendable, Equatable, CustomStringConvertible {
    case string(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)

    /// The value as logfmt writes it: strings quoted when they hold a space, a quote, an equals
    /// sign or a control character, or are empty.
    public var description: String {
        switch self {
        case .string(let text): LogValue.quotedIfNeeded(text)
        case .int(let number): String(number)
        case .double(let number): LogValue.format(number)
        case .bool(let flag): flag ? "true" : "false"
        }
    }

    static func format(_ number: Double) -> String {
        guard number.isFinite else { return number.isNaN ? "NaN" : (number > 0 ? "+Inf" : "-Inf") }
        if number == number.rounded(), abs(number) < 1e15 { return String(Int64(number)) }
        return String(number)
    }

    static func quotedIfNeeded(_ text: String) -> String {
        let needsQuotes =
            text.isEmpty
            || text.utf8.contains { byte in
                byte <= 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "=")
                    || byte == UInt8(ascii: "\\") || byte == 0x7F
            }
        guard needsQuotes else { return text }
        var quoted = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case "\r": quoted += "\\r"
            case "\t": quoted += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    quoted += "\\u{" + String(scalar.value, radix: 16) + "}"
                } else {
                    quoted.unicodeScalars.append(scalar)
                }
            }
        }
        return quoted + "\""
    }
}

extension LogValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral, ExpressibleByStringInterpolation
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension LogValue {
    /// Wraps any binary integer, clamping values beyond `Int64`'s range.
    public static func of<T: BinaryInteger>(_ value: T) -> LogValue {
        .int(Int64(clamping: value))
    }

    /// Wraps a `Duration` as whole milliseconds with three decimals.
    public static func milliseconds(_ duration: Duration) -> LogValue {
        let (seconds, attoseconds) = duration.components
        let millis = Double(seconds) * 1000 + Double(attoseconds) / 1e15
        return .double((millis * 1000).rounded() / 1000)
    }
}

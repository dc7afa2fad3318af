/// Durations as operators write them: `250ms`, `10s`, `5m`, `2h`, `7d`, or sums such as `1h30m`.
public enum DurationText {
    /// Parses a duration written as one or more `<number><unit>` parts, with units `ms`, `s`,
    /// `m`, `h` and `d`. Numbers may have a fractional part (`1.5s`).
    ///
    /// - Returns: nil when the text is empty, a unit is missing or unknown, or the value is
    ///   negative or not finite.
    public static func parse(_ text: String) -> Duration? {
        var total = 0.0
        var rest = Substring(text.trimmingWhitespace())
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { $0.isLetter }
            rest = rest.dropFirst(unit.count)
            let scale: Double
            switch unit {
            case "ms": scale = 0.001
            case "s": scale = 1
            case "m": scale = 60
            case "h": scale = 3600
            case "d": scale = 86_400
            default: return nil
            }
            total += value * scale
        }
        guard total.isFinite, total >= 0 else { return nil }
        let whole = total.rounded(.down)
        return .seconds(Int64(whole)) + .nanoseconds(Int64(((total - whole) * 1e9).rounded()))
    }

    /// Writes a duration in the largest unit that expresses it exactly (`7d`, `90s`, `250ms`).
    public static func format(_ duration: Duration) -> String {
        let millis = duration.totalMilliseconds
        if millis == 0 { return "0s" }
        for (unit, size) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)]
        where millis % Int64(size) == 0 {
            return String(millis / Int64(size)) + unit
        }
        return String(millis) + "ms"
    }
}

extension Duration {
    /// The duration in whole milliseconds, rounded toward zero.
    public var totalMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// The duration in seconds as a floating-point number.
    public var totalSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs and line breaks.
    public func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = lastIndex(where: { !isSpace($0) })!
        return String(self[first...last])
    }
}

/// Typed readings of a configuration value; each error names the key, where it was set and
/// what was expected.
extension ConfigurationEntry {
    private func invalid(_ expected: String) -> ConfigurationError {
        ConfigurationError(
            key: key, origin: origin, reason: "expected \(expected), found '\(printableValue)'")
    }

    /// The value as a duration (`250ms`, `10s`, `5m`, `7d`).
    public func duration() throws(ConfigurationError) -> Duration {
        guard let duration = DurationText.parse(value) else {
            throw invalid("a duration such as 250ms, 10s, 5m or 7d")
        }
        return duration
    }

    /// The value as a whole number within `range`.
    public func int(in range: ClosedRange<Int> = Int.min...Int.max) throws(ConfigurationError)
        -> Int
    {
        guard let number = Int(value) else { throw invalid("a whole number") }
        guard range.contains(number) else {
            throw invalid("a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    /// The value as a finite number within `range`.
    public func double(
        in range: ClosedRange<Double> = -Double
            .greatestFiniteMagnitude...Double
            .greatestFiniteMagnitude
    ) throws(ConfigurationError) -> Double {
        guard let number = Double(value), number.isFinite else { throw invalid("a number") }
        guard range.contains(number) else {
            throw invalid("a number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    /// The value as a boolean: `true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0`.
    public func bool() throws(ConfigurationError) -> Bool {
        switch value.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: throw invalid("true or false")
        }
    }

    /// The value as one of `choices`.
    public func choice(_ choices: [String]) throws(ConfigurationError) -> String {
        guard choices.contains(value) else {
            throw invalid("one of " + choices.joined(separator: ", "))
        }
        return value
    }

    /// The value as a comma-separated list, each item without surrounding spaces; empty items
    /// are dropped, so an empty value is an empty list.
    public func list() -> [String] {
        value.split(separator: ",").map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
    }
}

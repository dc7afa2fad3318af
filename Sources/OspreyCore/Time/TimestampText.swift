#if canImport(Glibc)
    import Glibc
#endif

/// RFC 3339 text for times held as milliseconds since the Unix epoch (UTC).
public enum TimestampText {
    /// `2026-12-03T17:52:16.123Z` for `milliseconds` since 1970-01-01T00:00:00Z; negative
    /// values (before 1970) are written correctly too.
    public static func rfc3339(milliseconds: Int64) -> String {
        let (days, dayMillis) = floorDivide(milliseconds, 86_400_000)
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        let hour = dayMillis / 3_600_000
        let minute = dayMillis / 60_000 % 60
        let second = dayMillis / 1000 % 60
        let millis = dayMillis % 1000
        return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + "T" + pad(hour, 2) + ":"
            + pad(minute, 2) + ":" + pad(second, 2) + "." + pad(millis, 3) + "Z"
    }

    /// The proleptic Gregorian date of a day count from 1970-01-01 (after Howard Hinnant's
    /// `civil_from_days`: shift to years starting in March so the leap day comes last).
    public static func civilDate(daysSinceEpoch days: Int64) -> (
        year: Int64, month: Int64, day: Int64
    ) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    private static func floorDivide(_ value: Int64, _ divisor: Int64) -> (Int64, Int64) {
        let quotient = value >= 0 ? value / divisor : (value - divisor + 1) / divisor
        return (quotient, value - quotient * divisor)
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}

/// Milliseconds since the epoch, from the wall clock (`CLOCK_REALTIME`).
public func wallClockMilliseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
}
